import type { PipelineSpec } from '../../spec/pipelineSpec.js';
import type { SeasonalMean } from './candidates.js';

const DAY = 86_400_000;
/** Longest season kept as a lag expert, in steps (one week of 5-minute steps): bounds per-series memory. */
export const MAX_LAG_STEPS = 2016;

/**
 * The lag experts the served forecast may use beside the pipeline's own baseline: the last value
 * (unless that is the baseline) and seasonal naive at one day and one week wherever the step
 * divides the season (the backtest's baseline set), except the baseline's own season.
 */
export function lagExperts(spec: PipelineSpec): number[] {
  const step = spec.window.step;
  const own = spec.baseline.type === 'last-value' ? 1 : spec.baseline.season / step;
  const lags: number[] = own === 1 ? [] : [1];
  for (const steps of seasonSteps(step)) if (steps !== own) lags.push(steps);
  return lags;
}

/** One day and one week in steps, wherever the step divides them (2 to MAX_LAG_STEPS steps). */
export function seasonSteps(stepMs: number): number[] {
  const out: number[] = [];
  for (const season of [DAY, 7 * DAY]) {
    const steps = season / stepMs;
    if (Number.isInteger(steps) && steps >= 2 && steps <= MAX_LAG_STEPS) out.push(steps);
  }
  return out;
}

/** The pipeline baseline's season in steps (1 for last value). */
export function baselineSeasonSteps(spec: PipelineSpec): number {
  return spec.baseline.type === 'last-value' ? 1 : Math.round(spec.baseline.season / spec.window.step);
}

/**
 * Windows of the moving-mean experts: the mean of the last `horizon` values (at least 2), the
 * local level that a noisy, mean-reverting series (counts, utilisation) is better forecast by
 * than its last value, and that the combiner chooses only where its errors say so.
 */
export function meanExperts(spec: PipelineSpec): number[] {
  return [Math.max(2, spec.model.horizon)];
}

/**
 * The seasonal-mean experts, where the step divides a day: one day's seasonal naive averaged over
 * the last three days (the daily shape without one day's noise), and the same re-levelled to the
 * last value (y[t] + P(t+h) − P(t), P that mean: the shape's change from now, where the level
 * wanders under the shape, which the plain mean lags by up to three days).
 */
export function seasonalMeanExperts(spec: PipelineSpec): SeasonalMean[] {
  const steps = DAY / spec.window.step;
  return Number.isInteger(steps) && steps >= 2 ? [{ season: steps, count: 3 }, { season: steps, count: 3, level: 1 }] : [];
}

/**
 * Order of the pooled autoregressive expert on one-step changes (changeAr.ts): as many changes as
 * the horizon has steps (the input window a direct forecaster would see), at least 12 and at most
 * 48. One fit serves every series of a pipeline, so even 48 weights are learnt from thousands of
 * changes within hours of a start; the seasons beyond its reach are the seasonal experts'.
 * Measured on the shared sets' recordings: 24 changes beat 12 on the hourly sets (horizon 24),
 * 12 beat 24 on the 5-minute ones (horizon 12; docs/benchmarks.md, "An autoregressive expert").
 * The cost is order² per learnt change and horizon × order per forecast.
 */
export const AR_MIN_ORDER = 12;
export const AR_MAX_ORDER = 48;

export function arExpertOrder(spec: PipelineSpec): number {
  return Math.min(AR_MAX_ORDER, Math.max(AR_MIN_ORDER, spec.model.horizon));
}
