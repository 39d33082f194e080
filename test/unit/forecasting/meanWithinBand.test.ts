import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../src/domain/forecast.js';
import { encloseMean } from '../../../src/domain/quantiles.js';
import { mulberry32 } from '../../../src/domain/random.js';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { LastValueForecaster } from '../../../src/forecasting/baseline/lastValue.js';
import { SeasonalNaiveForecaster } from '../../../src/forecasting/baseline/seasonalNaive.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { ModelRuntime } from '../../../src/forecasting/modelRuntime.js';
import { runtimeSpec } from '../../helpers/runtimeSpec.js';
import { STEP_MS, gaussian, seriesSteps } from '../../helpers/normalizedSteps.js';

/** Level sets that straddle the median: each has an outer band the mean must lie in. */
const LEVEL_SETS: readonly (readonly number[])[] = [
  [0.1, 0.5, 0.9],
  [0.1, 0.9],
  [0.05, 0.25, 0.5, 0.75, 0.95],
  [0.2, 0.45, 0.6],
];

/** Every horizon's mean within [lowest quantile, highest quantile]; returns the first offence. */
function offence(fs: readonly Forecast[]): string | undefined {
  for (const f of fs) {
    for (const hf of f.forecast) {
      const qs = Object.values(hf.q);
      const lo = Math.min(...qs);
      const hi = Math.max(...qs);
      if (!(hf.mean >= lo && hf.mean <= hi)) return `${f.model.kind} series ${f.series} ts ${f.ts} h ${hf.h}: mean ${hf.mean} outside [${lo}, ${hi}]`;
    }
  }
  return undefined;
}

/**
 * A random series: a random walk with a random drift, level shifts, noise of a random scale,
 * runs of missing steps (imputed by carrying the value), and sometimes a reset.
 */
function randomSeries(series: string, seed: number, n: number, stepMs = STEP_MS): NormalizedStep[] {
  const u = mulberry32(seed);
  const z = gaussian(u);
  const drift = (u() - 0.5) * 4;
  const noise = 10 ** (u() * 4 - 2);
  const values: number[] = [];
  const observed: boolean[] = [];
  let v = (u() - 0.5) * 1000;
  let gap = 0;
  for (let i = 0; i < n; i++) {
    if (u() < 0.01) v += (u() - 0.5) * 200 * noise;
    if (gap === 0 && u() < 0.02) gap = 1 + Math.floor(u() * 8);
    const seen = gap === 0;
    if (gap > 0) gap--;
    if (seen) v += drift * noise + noise * z();
    values.push(v);
    observed.push(seen);
  }
  const resetAt = new Set(Array.from({ length: 2 }, () => Math.floor(u() * n)));
  return seriesSteps(series, values, { stepMs, observed: (i) => observed[i]!, reset: (i) => i === 0 || resetAt.has(i), scale: { mean: 0, std: noise } });
}

describe('every model keeps its mean within its own outer band (property, random inputs)', () => {
  it('encloseMean widens only the outer quantiles, only as far as the mean, and only for levels around the median', () => {
    const a = [5, 6, 7];
    encloseMean(a, 3, [0.1, 0.5, 0.9]);
    expect(a).toEqual([3, 6, 7]);
    const b = [1, 2, 3];
    encloseMean(b, 9, [0.1, 0.5, 0.9]);
    expect(b).toEqual([1, 2, 9]);
    const c = [1, 2, 3];
    encloseMean(c, 2.5, [0.1, 0.5, 0.9]);
    expect(c).toEqual([1, 2, 3]);
    const oneSided = [5, 6];
    encloseMean(oneSided, 0, [0.6, 0.9]);
    expect(oneSided).toEqual([5, 6]);
  });

  it('last value and seasonal naive, over random series, levels, residual windows and horizons', () => {
    for (let trial = 0; trial < 40; trial++) {
      const u = mulberry32(1000 + trial);
      const quantiles = LEVEL_SETS[trial % LEVEL_SETS.length]!;
      const horizon = 1 + Math.floor(u() * 12);
      const residualWindow = 2 + Math.floor(u() * 60);
      const minResiduals = 1 + Math.floor(u() * (residualWindow - 1));
      const opts = { name: 'p', stepMs: STEP_MS, horizon, quantiles, residualWindow, minResiduals };
      const models = [new LastValueForecaster(opts), new SeasonalNaiveForecaster({ ...opts, seasonSteps: 2 + Math.floor(u() * 30) })];
      const steps = randomSeries(`s${trial}`, 77 + trial, 300);
      for (const m of models) {
        for (let i = 0; i < steps.length; i += 17) {
          const bad = offence(m.step(steps.slice(i, i + 17)));
          expect(bad, `trial ${trial}, ${m.constructor.name}, window ${residualWindow}, levels ${quantiles.join(' ')}`).toBeUndefined();
        }
      }
    }
  });

  it('the runtime as served: baseline before a model, the GRU (calibrated online, mean = median) after, over random weights and series', async () => {
    const spec = runtimeSpec();
    for (let trial = 0; trial < 6; trial++) {
      const layout = featureLayout(['hourOfDay'], 6, undefined, trial % 2 === 0 ? { kind: 'last-value' } : { kind: 'seasonal', steps: 24 });
      const w = initGruModelWeights({ layout, units: spec.model.hidden, horizon: spec.model.horizon, quantiles: spec.model.quantiles }, 500 + trial, 1);
      const rt = new ModelRuntime({ spec });
      const hourly = randomSeries(`g${trial}`, 900 + trial, 400, spec.window.step);
      const kinds = new Set<string>();
      for (let i = 0; i < hourly.length; i += 23) {
        if (i >= 150 && rt.weights === undefined) rt.install(w);
        const fs = await rt.stepAsync(hourly.slice(i, i + 23));
        for (const f of fs) kinds.add(f.model.kind);
        const bad = offence(fs);
        expect(bad, `trial ${trial}`).toBeUndefined();
      }
      expect([...kinds].sort()).toEqual(['baseline', 'gru']);
      await rt.close();
    }
  });
});
