import type { PipelineSpec } from '../../spec/pipelineSpec.js';
import { seasonSteps } from '../combiner/lagExperts.js';
import type { LagInput } from './featureLayout.js';
import type { ResidualBase } from './residualBase.js';

/** Offsets shown per lag at most: beyond a dozen, spread over the horizon (see lagOffsets). */
export const MAX_LAG_OFFSETS = 12;

/**
 * The offsets k of a lag of `steps` for a model of `horizon` steps: y[t+k−m] for every k up to
 * min(horizon, m − 1) when there are at most MAX_LAG_OFFSETS of them, else that many spread
 * denser near the origin (k = 1 + (n − 1)·(j/11)^1.5), where the next steps weigh most and a
 * day's shape a day ahead is still seen every few steps. Offsets past m − 1 would repeat (the
 * seasonal-naive forecast at k + m is the one at k), and k = m is the value itself.
 */
export function lagOffsets(steps: number, horizon: number): number[] {
  const n = Math.min(horizon, steps - 1);
  if (n <= MAX_LAG_OFFSETS) return Array.from({ length: n }, (_, j) => j + 1);
  const out: number[] = [];
  for (let j = 0; j < MAX_LAG_OFFSETS; j++) {
    const k = Math.round(1 + (n - 1) * Math.pow(j / (MAX_LAG_OFFSETS - 1), 1.5));
    if (out.length === 0 || k > out[out.length - 1]!) out.push(k);
  }
  return out;
}

/**
 * The GRU's seasonal-lag inputs for `spec` under `base`: `model.lags` as given in steps (`auto`:
 * one day and one week wherever the step divides them, the combiner's rule in lagExperts.ts,
 * plus the baseline's season), less a seasonal base's own season (its input already is the
 * difference at that lag; the lags are then of the seasonally differenced series).
 */
export function seasonalLags(spec: PipelineSpec, base?: ResidualBase): LagInput[] {
  const own = base?.kind === 'seasonal' ? base.steps : 0;
  const lags = spec.model.lags;
  let steps: number[];
  if (lags === 'none') steps = [];
  else if (lags === 'auto') {
    steps = seasonSteps(spec.window.step);
    const own = spec.baseline.season / spec.window.step;
    if (spec.baseline.type === 'seasonal-naive' && Number.isInteger(own) && own >= 2 && !steps.includes(own)) steps.push(own);
  } else steps = lags.map((ms) => ms / spec.window.step);
  return [...new Set(steps)].filter((m) => m !== own).sort((a, b) => a - b).map((m) => ({ steps: m, offsets: lagOffsets(m, spec.model.horizon) }));
}

/**
 * The base columns' offsets of a new model (featureLayout.ts): under a seasonal base of m steps,
 * the offsets a lag of m would show (lagOffsets); none under any other base, whose column 0
 * already says where the series is now.
 */
export function baseOffsets(base: ResidualBase, horizon: number): number[] {
  return base.kind === 'seasonal' && base.steps >= 2 ? lagOffsets(base.steps, horizon) : [];
}
