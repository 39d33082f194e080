import { describe, expect, it } from 'vitest';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import { bestBaselineLoss, chooseBase, seasonCandidates } from '../../../src/training/baseChoice.js';
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
    expect(chooseBase(slow, spec, 4096, 0.15)).toEqual({ kind: 'last-value' });
    // A season longer than half the history kept is not considered.
    expect(chooseBase(daily, spec, 40, 0.15)).toEqual({ kind: 'last-value' });
  });

  it('the bar is the lowest of the baselines on the held-out cells', () => {
    const ws = windows(seasonalSteps('a', { n: 1000, seed: 3 }));
    const common = { horizon: spec.model.horizon, quantiles: spec.model.quantiles, valFraction: 0.15 };
    const each = [1, 24, 168].map((m) => baselineLoss(ws, { ...common, seasonSteps: m })!);
    expect(bestBaselineLoss(ws, spec, 0.15)).toBe(Math.min(...each));
    expect(bestBaselineLoss([], spec, 0.15)).toBeUndefined();
  });
});
