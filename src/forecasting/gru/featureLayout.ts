import { ConfigError } from '../../domain/errors.js';
import type { NormalizedStep } from '../../domain/step.js';
import { TIME_FEATURES, writeTimeFeatures } from '../../domain/timeFeatures.js';
import type { TimeFeature } from '../../domain/timeFeatures.js';
import type { ResidualBase } from './residualBase.js';
import { baseLag } from './residualBase.js';

/**
 * What one GRU input vector holds, in order:
 *   0  z              normalized value (imputed when missing), clipped to ±zClip
 *   1  observed       missing mask: 1 observed, 0 imputed (GRU-D: the model sees missingness)
 *   2  sinceObserved  log1p(sinceObserved) / log1p(maxGapSteps), clipped to [0, 1]
 *   3… sin, cos       per time feature of the step's ts, in `timeFeatures` order
 * A trained model is only valid for the layout it was trained with, so artifacts store it.
 */
export interface FeatureLayout {
  readonly timeFeatures: readonly TimeFeature[];
  /** The imputer's maxGap in steps: the longest run it fills, hence where the gap scale saturates. */
  readonly maxGapSteps: number;
  /**
   * Bound on |z|. A single wild point (a sensor glitch at 1e6 σ) would otherwise saturate every
   * gate and wipe the hidden state; 10σ keeps genuine extremes distinguishable.
   */
  readonly zClip: number;
  /**
   * What the head forecasts a correction to (see residualBase.ts); absent = `none`. Under
   * `seasonal m` column 0 carries the seasonal difference (y[t] − y[t−m]) / std_t instead of z.
   */
  readonly base?: ResidualBase;
}

export const DEFAULT_Z_CLIP = 10;

export function featureLayout(
  timeFeatures: readonly TimeFeature[],
  maxGapSteps: number,
  zClip: number = DEFAULT_Z_CLIP,
  base?: ResidualBase,
): FeatureLayout {
  for (const f of timeFeatures) {
    if (!(TIME_FEATURES as readonly string[]).includes(f)) {
      throw new ConfigError(`unknown time feature "${f}"; use some of ${TIME_FEATURES.join(', ')}`);
    }
  }
  if (!Number.isFinite(maxGapSteps) || maxGapSteps < 1) {
    throw new ConfigError(`maxGapSteps is ${maxGapSteps}; it must be a finite number ≥ 1 (impute.maxGap / window.step)`);
  }
  if (!Number.isFinite(zClip) || zClip <= 0) throw new ConfigError(`zClip is ${zClip}; it must be a positive finite number`);
  if (base?.kind === 'seasonal' && (!Number.isInteger(base.steps) || base.steps < 1)) {
    throw new ConfigError(`seasonal base of ${base.steps} steps; it must be a whole number of steps ≥ 1`);
  }
  const withBase = base !== undefined && base.kind !== 'none' ? { base: Object.freeze({ ...base }) } : {};
  return Object.freeze({ timeFeatures: Object.freeze([...timeFeatures]), maxGapSteps, zClip, ...withBase });
}

/** Length of one step's input vector. */
export function inputSize(timeFeatures: readonly TimeFeature[]): number {
  return 3 + 2 * timeFeatures.length;
}

/** Names of the input columns, for artifacts' meta.json and compatibility checks. */
export function inputNames(layout: FeatureLayout): string[] {
  const lag = baseLag(layout.base);
  const names = [lag > 0 ? `dz@${lag}` : 'z', 'observed', 'sinceObserved'];
  for (const f of layout.timeFeatures) names.push(`${f}.sin`, `${f}.cos`);
  return names;
}

/** Writes `step`'s input vector into `out` at `offset`; returns the offset after it. */
export function writeInput(step: NormalizedStep, layout: FeatureLayout, out: Float32Array, offset: number): number {
  const c = layout.zClip;
  const z = step.z;
  // NaN fails every comparison, so it lands on 0 (the series mean) rather than poisoning h.
  out[offset] = z > c ? c : z < -c ? -c : z >= -c ? z : 0;
  out[offset + 1] = step.observed ? 1 : 0;
  const since = step.sinceObserved > 0 ? Math.log1p(step.sinceObserved) / Math.log1p(layout.maxGapSteps) : 0;
  out[offset + 2] = since > 1 ? 1 : since;
  return writeTimeFeatures(layout.timeFeatures, step.ts, out, offset + 3);
}
