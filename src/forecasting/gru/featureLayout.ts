import { ConfigError } from '../../domain/errors.js';
import type { NormalizedStep } from '../../domain/step.js';
import { TIME_FEATURES, writeTimeFeatures } from '../../domain/timeFeatures.js';
import type { TimeFeature } from '../../domain/timeFeatures.js';
import type { ResidualBase } from './residualBase.js';
import { baseLag, baseName } from './residualBase.js';

/**
 * What one GRU input vector holds, in order:
 *   0  z              normalized value (imputed when missing), clipped to ±zClip
 *   1  observed       missing mask: 1 observed, 0 imputed (GRU-D: the model sees missingness)
 *   2  sinceObserved  log1p(sinceObserved) / log1p(maxGapSteps), clipped to [0, 1]
 *  (3  dz             with `diff`: DIFF_SCALE × (column 0 − the previous step's column 0), 0 after
 *                     a reset, clipped to ±zClip: the step's change, which a near-random-walk
 *                     series forecasts from and which the recurrence would otherwise have to
 *                     compute from two levels)
 *   3… sin, cos       per time feature of the step's ts, in `timeFeatures` order (after dz)
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
  /** A first-difference column (see above); absent = none. */
  readonly diff?: boolean;
}

export const DEFAULT_Z_CLIP = 10;
/** Differences of z are small next to z itself; scaled so that the input is of order one. */
export const DIFF_SCALE = 4;

export function featureLayout(
  timeFeatures: readonly TimeFeature[],
  maxGapSteps: number,
  zClip: number = DEFAULT_Z_CLIP,
  base?: ResidualBase,
  diff = false,
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
  return Object.freeze({ timeFeatures: Object.freeze([...timeFeatures]), maxGapSteps, zClip, ...withBase, ...(diff ? { diff: true } : {}) });
}

/** Length of one step's input vector. */
export function inputSize(timeFeatures: readonly TimeFeature[], diff = false): number {
  return 3 + (diff ? 1 : 0) + 2 * timeFeatures.length;
}

/** inputSize of a layout. */
export function layoutInputSize(layout: FeatureLayout): number {
  return inputSize(layout.timeFeatures, layout.diff === true);
}

/** Names of the input columns, for artifacts' meta.json and compatibility checks. */
export function inputNames(layout: FeatureLayout): string[] {
  const lag = baseLag(layout.base);
  const names = [lag > 0 ? `dz@${lag}` : 'z', 'observed', 'sinceObserved'];
  if (layout.diff === true) names.push('dz');
  for (const f of layout.timeFeatures) names.push(`${f}.sin`, `${f}.cos`);
  return names;
}

/** Column 0 as written: z clipped to ±zClip, NaN → 0. */
export function clippedZ(z: number, layout: FeatureLayout): number {
  const c = layout.zClip;
  // NaN fails every comparison, so it lands on 0 (the series mean) rather than poisoning h.
  return z > c ? c : z < -c ? -c : z >= -c ? z : 0;
}

/**
 * Writes `step`'s input vector into `out` at `offset`; returns the offset after it. `prevZ` is the
 * previous step's column 0 (`clippedZ`), NaN after a reset: used by a `diff` layout only.
 */
export function writeInput(step: NormalizedStep, layout: FeatureLayout, out: Float32Array, offset: number, prevZ = Number.NaN): number {
  const c = layout.zClip;
  const z = clippedZ(step.z, layout);
  out[offset] = z;
  out[offset + 1] = step.observed ? 1 : 0;
  const since = step.sinceObserved > 0 ? Math.log1p(step.sinceObserved) / Math.log1p(layout.maxGapSteps) : 0;
  out[offset + 2] = since > 1 ? 1 : since;
  let o = offset + 3;
  if (layout.diff === true) {
    const d = Number.isNaN(prevZ) ? 0 : DIFF_SCALE * (z - prevZ);
    out[o++] = d > c ? c : d < -c ? -c : d;
  }
  return writeTimeFeatures(layout.timeFeatures, step.ts, out, o);
}

/** Whether weights trained for layout `a` read inputs exactly as `b` writes them (adopt, fine-tuning). */
export function sameLayout(a: FeatureLayout, b: FeatureLayout): boolean {
  return (
    baseName(a.base) === baseName(b.base) &&
    (a.diff === true) === (b.diff === true) &&
    a.maxGapSteps === b.maxGapSteps &&
    a.zClip === b.zClip &&
    a.timeFeatures.length === b.timeFeatures.length &&
    a.timeFeatures.every((f, i) => f === b.timeFeatures[i])
  );
}
