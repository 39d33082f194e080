import { describe, expect, it } from 'vitest';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { bestBaselineLoss, chooseBase, chooseLags, originScaleOf, seasonCandidates } from '../../../src/training/baseChoice.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import { buildDatasets, rebaseDataset } from '../../../src/training/datasetBuilder.js';
import type { TbpttDataset } from '../../../src/training/datasetBuilder.js';
import { baselineLoss } from '../../../src/training/evaluateLoss.js';
import { runtimeSpec } from '../../helpers/runtimeSpec.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';

const spec = runtimeSpec();

function windows(steps: readonly NormalizedStep[]) {
  const h = new SeriesHistory({ stepMs: HOUR, capacity: 4096 });
  for (const s of steps) h.append(s);
  return [...h.series()].map((s) => h.windowOf(s)!);
}

describe('base choice', () => {
  it('season candidates: a day and a week (and the spec season) in steps, within the bound', () => {
    expect(seasonCandidates(spec, Number.POSITIVE_INFINITY).sort((a, b) => a - b)).toEqual([24, 168]);
    expect(seasonCandidates(spec, 100)).toEqual([24]);
  });

  it('picks the daily season for a strongly daily series, the last value for a slow one', () => {
    const daily = windows(seasonalSteps('a', { n: 1000, period: 24, amplitude: 30, noise: 1, seed: 1 }));
    expect(chooseBase(daily, spec, 4096, 0.15)).toEqual({ kind: 'seasonal', steps: 24 });
    const slow = windows(seasonalSteps('b', { n: 1000, period: 5000, amplitude: 30, noise: 0.1, seed: 2 }));
    // The last value in change units, with the normaliser's half-life (1 d) in steps.
    expect(chooseBase(slow, spec, 4096, 0.15)).toEqual({ kind: 'last-value', changeHalfLife: 24 });
    // A season longer than half the history kept is not considered.
    expect(chooseBase(daily, spec, 40, 0.15)).toEqual({ kind: 'last-value', changeHalfLife: 24 });
  });

  it('chooses on the whole history, not its newest slice: a season that only the last days show is not taken', () => {
    // 850 hours of a slow drift, then 150 of a strong daily cycle: held out (the newest 15 %),
    // a day ago wins by far; over the whole history the last value does.
    const drift = seasonalSteps('a', { n: 1000, period: 5000, amplitude: 30, noise: 0.1, seed: 2 });
    const cycle = seasonalSteps('a', { n: 1000, period: 24, amplitude: 30, noise: 1, seed: 1 });
    const mixed = windows(drift.map((s, i) => (i < 850 ? s : { ...cycle[i]!, value: cycle[i]!.value + s.value - cycle[849]!.value })));
    const common = { horizon: spec.model.horizon, quantiles: spec.model.quantiles, valFraction: 0.15, seasonSteps: 1 };
    const heldOut = baselineLoss(mixed, { ...common, seasonSteps: 24 })! / baselineLoss(mixed, common)!;
    const whole = baselineLoss(mixed, { ...common, seasonSteps: 24, inSample: true })! / baselineLoss(mixed, { ...common, inSample: true })!;
    expect(heldOut).toBeLessThan(0.85);
    expect(whole).toBeGreaterThan(1);
    expect(chooseBase(mixed, spec, 4096, 0.15).kind).toBe('last-value');
  });

  it('lags under auto: the seasons whose seasonal naive beats the last value; a list or none as written', () => {
    const withLags = (lags: unknown) => parseSpec({ name: 'l', input: { topic: 'in' }, output: { topic: 'out' }, window: { step: '1h' }, model: { type: 'gru', horizon: 4, lags } });
    const lastValue = { kind: 'last-value', changeHalfLife: 24 } as const;
    const daily = windows(seasonalSteps('a', { n: 1000, period: 24, amplitude: 30, noise: 1, seed: 1 }));
    expect(chooseLags(daily, withLags('auto'), lastValue, 0.15).map((l) => l.steps)).toEqual([24, 168]);
    // A slow drift: a day ago is much worse than the last value, so neither lag is taken.
    const slow = windows(seasonalSteps('b', { n: 1000, period: 5000, amplitude: 30, noise: 0.1, seed: 2 }));
    expect(chooseLags(slow, withLags('auto'), lastValue, 0.15)).toEqual([]);
    expect(chooseLags(slow, withLags(['1d']), lastValue, 0.15).map((l) => l.steps)).toEqual([24]);
    expect(chooseLags(daily, withLags('none'), lastValue, 0.15)).toEqual([]);
    // Under a seasonal base its own season is left out.
    expect(chooseLags(daily, withLags('auto'), { kind: 'seasonal', steps: 24 }, 0.15).map((l) => l.steps)).toEqual([168]);
  });

  it('the bar is the lowest of the baselines on the held-out cells', () => {
    const ws = windows(seasonalSteps('a', { n: 1000, seed: 3 }));
    const common = { horizon: spec.model.horizon, quantiles: spec.model.quantiles, valFraction: 0.15 };
    const each = [1, 24, 168].map((m) => baselineLoss(ws, { ...common, seasonSteps: m })!);
    expect(bestBaselineLoss(ws, spec, 0.15)).toBe(Math.min(...each));
    expect(bestBaselineLoss([], spec, 0.15)).toBeUndefined();
  });

  it("last-value targets are in typical steps on every series, whatever the spread of its level", () => {
    // A smooth series whose level swings far more than it steps, and a noisy one that mostly steps.
    const smooth = windows(seasonalSteps('smooth', { n: 1200, period: 400, amplitude: 30, noise: 0.2, seed: 5 }));
    const noisy = windows(seasonalSteps('noisy', { n: 1200, period: 400, amplitude: 1, noise: 3, seed: 6 }));
    const base = chooseBase([...smooth, ...noisy], spec, 4096, 0.15);
    const layout = featureLayout(['hourOfDay'], 6, undefined, base);
    const meanAbsTarget = (ws: typeof smooth, unit?: (w: (typeof smooth)[number]) => Float64Array): number => {
      const { train } = buildDatasets(ws, { layout, horizon: 1, context: 24, valFraction: 0.15, ...(unit !== undefined ? { originScale: unit } : {}) });
      rebaseDataset(train, base);
      return meanAbsTarget1(train);
    };
    const unit = originScaleOf(base)!;
    const a = meanAbsTarget(smooth, unit);
    const b = meanAbsTarget(noisy, unit);
    // In change units both are about one typical step (≈ 1) ...
    for (const x of [a, b]) {
      expect(x).toBeGreaterThan(0.7);
      expect(x).toBeLessThan(1.4);
    }
    // ... where in std units the smooth series' steps are a small fraction of the noisy one's: a
    // correction learnt on one would be many times too large on the other.
    expect(meanAbsTarget(noisy) / meanAbsTarget(smooth)).toBeGreaterThan(5);
    // The promotion bar is in the same units as the model's targets.
    expect(bestBaselineLoss([...smooth, ...noisy], spec, 0.15, base)).not.toBeCloseTo(bestBaselineLoss([...smooth, ...noisy], spec, 0.15)!, 2);
  });
});

/** Mean |target| at horizon 1 over the counted cells of a last-value-rebased dataset. */
function meanAbsTarget1(ds: TbpttDataset): number {
  const T = ds.chunks * ds.context;
  let s = 0;
  let n = 0;
  for (let l = 0; l < ds.lanes; l++) {
    for (let t = 0; t < T; t++) {
      if (!ds.lossMask[l * T + t] || !ds.targetOk[l * (T + 1) + t + 1]) continue;
      s += Math.abs((ds.value[l * (T + 1) + t + 1]! - ds.mean[l * T + t]!) / ds.std[l * T + t]!);
      n++;
    }
  }
  return s / n;
}
