/**
 * What the served forecast's combiner (src/forecasting/combiner/) costs per series-step: the
 * model runtime stepping the same batches of many series with the combiner on and off
 * (`calibrate: false`), GRU serving (random weights: the cost does not depend on them) and
 * baseline serving, alternated in one run. Prints series-steps/s of each, every run and the
 * medians, and the ratio off/on. Then the combiner alone (observe + serve of made-up forecasts),
 * as the app builds it and without its autoregressive expert, alternated in one run.
 *
 *   npm run bench -- combiner            (COMBINER_SERIES, COMBINER_STEPS to change the load)
 */
import type { NormalizedStep } from '../src/domain/step.js';
import type { Forecast } from '../src/domain/forecast.js';
import { arExpertOrder, baselineSeasonSteps, lagExperts, meanExperts, seasonalMeanExperts } from '../src/forecasting/combiner/lagExperts.js';
import { OnlineCombiner } from '../src/forecasting/combiner/onlineCombiner.js';
import { featureLayout } from '../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../src/forecasting/gru/gruWeights.js';
import { ModelRuntime } from '../src/forecasting/modelRuntime.js';
import { servingBatches, servingSpec } from './servingLoad.js';

const SERIES = Number(process.env['COMBINER_SERIES'] ?? 2000);
const STEPS = Number(process.env['COMBINER_STEPS'] ?? 60);
const RUNS = 5;
const spec = servingSpec();

function rate(calibrate: boolean, gru: boolean, data: readonly NormalizedStep[][]): number {
  const weights = initGruModelWeights({ layout: featureLayout(spec.model.timeFeatures, spec.impute.maxGap / spec.window.step), units: spec.model.hidden, horizon: 12, quantiles: [0.1, 0.5, 0.9] }, 1, 1);
  const rt = new ModelRuntime({ spec, calibrate, ...(gru ? { initial: weights } : {}) });
  const started = performance.now();
  for (const b of data) rt.step(b);
  const seconds = (performance.now() - started) / 1000;
  void rt.close();
  return (SERIES * STEPS) / seconds;
}

/** The combiner alone as the app builds it (ar: its AR expert's order; 0: without it), series-steps/s. */
function combinerRate(ar: number, data: readonly NormalizedStep[][]): number {
  const H = spec.model.horizon;
  const c = new OnlineCombiner({ horizon: H, quantiles: spec.model.quantiles, stepMs: spec.window.step, lags: lagExperts(spec), means: meanExperts(spec), seasonalMeans: seasonalMeanExperts(spec), ar, baselineSeason: baselineSeasonSteps(spec) });
  const fc = (s: NormalizedStep, shift: number, kind: 'gru' | 'baseline'): Forecast => ({
    series: s.series,
    ts: s.ts,
    step: spec.window.step,
    imputed: false,
    model: { name: 'bench', version: 1, kind },
    forecast: Array.from({ length: H }, (_, k) => ({ h: k + 1, ts: s.ts + (k + 1) * spec.window.step, mean: s.value + shift, q: { '0.1': s.value + shift - 1, '0.5': s.value + shift, '0.9': s.value + shift + 1 } })),
  });
  const started = performance.now();
  for (const b of data) {
    for (const s of b) {
      c.observe(s);
      c.serve(fc(s, 0.1, 'gru'), fc(s, 0, 'baseline'), true);
    }
  }
  return (SERIES * STEPS) / ((performance.now() - started) / 1000);
}

export async function benchCombiner(): Promise<Record<string, unknown>[]> {
  const data = servingBatches(SERIES, STEPS);
  const rows: Record<string, unknown>[] = [];
  for (const gru of [false, true]) {
    const on: number[] = [];
    const off: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      off.push(rate(false, gru, data));
      on.push(rate(true, gru, data));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratios = on.map((x, i) => off[i]! / x);
    rows.push({
      serving: gru ? 'gru' : 'baseline',
      'series-steps/s, combiner on (median)': Math.round(median(on)),
      'off (median)': Math.round(median(off)),
      'off / on (median of runs)': Number(median(ratios).toFixed(2)),
      'off / on, every run': ratios.map((x) => x.toFixed(2)).join(' '),
    });
  }
  // The autoregressive expert's cost: the combiner alone with and without it, alternated.
  const withAr: number[] = [];
  const withoutAr: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    withoutAr.push(combinerRate(0, data));
    withAr.push(combinerRate(arExpertOrder(spec), data));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratios = withAr.map((x, i) => withoutAr[i]! / x);
  rows.push({
    serving: `combiner alone, AR expert of order ${arExpertOrder(spec)}`,
    'series-steps/s, combiner on (median)': Math.round(median(withAr)),
    'off (median)': `${Math.round(median(withoutAr))} (without the AR expert)`,
    'off / on (median of runs)': Number(median(ratios).toFixed(2)),
    'off / on, every run': ratios.map((x) => x.toFixed(2)).join(' '),
  });
  return rows;
}
