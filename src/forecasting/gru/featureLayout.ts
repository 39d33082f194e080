import { ConfigError } from '../../domain/errors.js';
import type { NormalizedStep } from '../../domain/step.js';
import { TIME_FEATURES, writeTimeFeatures } from '../../domain/timeFeatures.js';
import type { TimeFeature } from '../../domain/timeFeatures.js';
import type { SeriesWindow } from '../../state/seriesWindow.js';
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
 *   …  per seasonal lag m (`lags`, after the time features):
 *        lag{m}.known     1 when the series has the m − 1 steps before t on its grid, else 0
 *        lag{m}+{k}       per offset k: (y[t+k−m] − y[t]) / std_t, clipped to ±zClip, 0 when
 *                         unknown: the seasonal-naive forecast at horizon k as a change from now,
 *                         in the std (of order one on any series; the change scale, the head's
 *                         unit under the last-value base, made them saturate on non-seasonal
 *                         series and cost machine_temperature 5 %); y is the series as the model
 *                         sees it (the seasonal difference under a seasonal base)
 *      (see seasonalLags.ts: the GRU cannot remember a season of 24–2,016 steps in its state, so
 *      "the same hour a day ago" is handed to it for the next steps instead)
 *   …  under a seasonal base m, per offset k of `baseOffsets` (after the lags):
 *        base+{k}         (y[t+k−m] − y[t]) / std_t of the series itself (not its seasonal
 *                         difference), clipped to ±zClip: how far the base's forecast at horizon k
 *                         lies from the last value. Column 0 carries only the seasonal
 *                         difference, so without these the model cannot tell where "now" is
 *                         relative to its base, and cannot forecast the last value at the short
 *                         horizons where it beats a season ago (ambient_temperature: the GRU alone
 *                         1.24 × the last value at h = 1 without them).
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
  /** Seasonal-lag columns (see above); absent = none. */
  readonly lags?: readonly LagInput[];
  /** Offsets k of the base columns (see above; a seasonal base only); absent = none. */
  readonly baseOffsets?: readonly number[];
}

/** One seasonal lag's columns: its season in steps and the offsets k it shows (1 ≤ k < steps). */
export interface LagInput {
  readonly steps: number;
  readonly offsets: readonly number[];
}

/** A step as the GRU reads it: a layout with lags reads their columns from `lagInputs` (zeros when absent). */
export type GruInputStep = NormalizedStep & { readonly lagInputs?: ArrayLike<number> };

export const DEFAULT_Z_CLIP = 10;
/** Differences of z are small next to z itself; scaled so that the input is of order one. */
export const DIFF_SCALE = 4;

export function featureLayout(
  timeFeatures: readonly TimeFeature[],
  maxGapSteps: number,
  zClip: number = DEFAULT_Z_CLIP,
  base?: ResidualBase,
  diff = false,
  lags: readonly LagInput[] = [],
  baseOffsets: readonly number[] = [],
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
  const seen = new Set<number>();
  for (const l of lags) {
    if (!Number.isInteger(l.steps) || l.steps < 2 || seen.has(l.steps)) {
      throw new ConfigError(`seasonal lag of ${l.steps} steps; each lag must be a distinct whole number of steps ≥ 2`);
    }
    seen.add(l.steps);
    if (l.offsets.length === 0 || l.offsets.some((k, i) => !Number.isInteger(k) || k < 1 || k >= l.steps || (i > 0 && k <= l.offsets[i - 1]!))) {
      throw new ConfigError(`seasonal lag of ${l.steps} steps has offsets [${l.offsets.join(', ')}]; use increasing whole numbers from 1 to ${l.steps - 1}`);
    }
  }
  if (baseOffsets.length > 0) {
    const m = base?.kind === 'seasonal' ? base.steps : 0;
    if (m === 0) throw new ConfigError('base columns need a seasonal base');
    if (baseOffsets.some((k, i) => !Number.isInteger(k) || k < 1 || k >= m || (i > 0 && k <= baseOffsets[i - 1]!))) {
      throw new ConfigError(`base columns at offsets [${baseOffsets.join(', ')}]; use increasing whole numbers from 1 to ${m - 1}`);
    }
  }
  const withBase = base !== undefined && base.kind !== 'none' ? { base: Object.freeze({ ...base }) } : {};
  const withLags = lags.length > 0 ? { lags: Object.freeze(lags.map((l) => Object.freeze({ steps: l.steps, offsets: Object.freeze([...l.offsets]) }))) } : {};
  return Object.freeze({ timeFeatures: Object.freeze([...timeFeatures]), maxGapSteps, zClip, ...withBase, ...(diff ? { diff: true } : {}), ...withLags, ...(baseOffsets.length > 0 ? { baseOffsets: Object.freeze([...baseOffsets]) } : {}) });
}

/** Length of one step's input vector. */
export function inputSize(timeFeatures: readonly TimeFeature[], diff = false, lags: readonly LagInput[] = [], baseColumns = 0): number {
  return 3 + (diff ? 1 : 0) + 2 * timeFeatures.length + lagColumns(lags) + baseColumns;
}

/** inputSize of a layout. */
export function layoutInputSize(layout: FeatureLayout): number {
  return inputSize(layout.timeFeatures, layout.diff === true, layout.lags, layout.baseOffsets?.length ?? 0);
}

/** Columns a step carries in its `lagInputs`: the seasonal lags', then the base's. */
export function lagInputColumns(layout: FeatureLayout): number {
  return lagColumns(layout.lags) + (layout.baseOffsets?.length ?? 0);
}

/** Number of seasonal-lag columns: per lag, its `known` flag and one per offset. */
export function lagColumns(lags: readonly LagInput[] = []): number {
  return lags.reduce((n, l) => n + 1 + l.offsets.length, 0);
}

/** Steps of values before t that the lag columns read (the longest lag less one; 0 without lags). */
export function lagSpan(layout: FeatureLayout | undefined): number {
  return (layout?.lags ?? []).reduce((n, l) => Math.max(n, l.steps - 1), 0);
}

/**
 * Writes the seasonal-lag columns of one step into `out` at `offset` (layout order); returns the
 * offset after them. `y` is the step's value, `unit` its std, `held` how many
 * consecutive grid steps before it are known and `ago(back)` the value `back` steps before it
 * (1 ≤ back ≤ held). Training (datasetBuilder) and serving (servingGru) both write through here.
 */
export function writeLagInputs(layout: FeatureLayout, y: number, unit: number, held: number, ago: (back: number) => number, out: Float32Array, offset: number): number {
  const c = layout.zClip;
  let o = offset;
  for (const l of layout.lags ?? []) {
    const known = held >= l.steps - 1 && unit > 0 && Number.isFinite(y);
    out[o++] = known ? 1 : 0;
    for (const k of l.offsets) {
      const v = known ? (ago(l.steps - k) - y) / unit : 0;
      // NaN fails both comparisons and the last one too: it lands on 0, as unknown.
      out[o++] = v > c ? c : v < -c ? -c : v >= -c ? v : 0;
    }
  }
  return o;
}

/**
 * Writes the base columns (see above) into `out` at `offset`; returns the offset after them. `y`
 * is the step's value (the series itself), `unit` its std, `known` whether the m steps before it
 * are on its grid, and `ago(back)` the value `back` steps before it (1 ≤ back ≤ m).
 */
export function writeBaseInputs(layout: FeatureLayout, y: number, unit: number, known: boolean, ago: (back: number) => number, out: Float32Array, offset: number): number {
  const c = layout.zClip;
  const m = baseLag(layout.base);
  let o = offset;
  const ok = known && unit > 0 && Number.isFinite(y);
  for (const k of layout.baseOffsets ?? []) {
    const v = ok ? (ago(m - k) - y) / unit : 0;
    out[o++] = v > c ? c : v < -c ? -c : v >= -c ? v : 0;
  }
  return o;
}

/**
 * The lag and base columns of step `i` of window `w` (values reconstructed as z·std + mean, the
 * steps before `i` in the window as its past) in `unit[i]`, into `out` from 0. For training
 * windows and re-warms. `w` is the model's view (rebaseWindow); the base columns read `raw`, the
 * window it was rebased from (step i of `w` is step i + m of `raw`).
 */
export function windowLagInputs(layout: FeatureLayout, w: SeriesWindow, i: number, unit: ArrayLike<number>, out: Float32Array, raw?: SeriesWindow): Float32Array {
  const y = w.z[i]! * w.std[i]! + w.mean[i]!;
  const o = writeLagInputs(layout, y, unit[i]!, i, (back) => w.z[i - back]! * w.std[i - back]! + w.mean[i - back]!, out, 0);
  if ((layout.baseOffsets?.length ?? 0) > 0) {
    const j = i + baseLag(layout.base);
    const at = (n: number): number => (raw !== undefined && n >= 0 && n < raw.length ? raw.z[n]! * raw.std[n]! + raw.mean[n]! : Number.NaN);
    writeBaseInputs(layout, at(j), unit[i]!, raw !== undefined && j < raw.length, (back) => at(j - back), out, o);
  }
  return out;
}

/** Names of the input columns, for artifacts' meta.json and compatibility checks. */
export function inputNames(layout: FeatureLayout): string[] {
  const lag = baseLag(layout.base);
  const names = [lag > 0 ? `dz@${lag}` : 'z', 'observed', 'sinceObserved'];
  if (layout.diff === true) names.push('dz');
  for (const f of layout.timeFeatures) names.push(`${f}.sin`, `${f}.cos`);
  for (const l of layout.lags ?? []) {
    names.push(`lag${l.steps}.known`);
    for (const k of l.offsets) names.push(`lag${l.steps}+${k}`);
  }
  for (const k of layout.baseOffsets ?? []) names.push(`base+${k}`);
  return names;
}

/** The base columns' offsets named in an artifact's input names (`base+{k}`); [] for an artifact without them. */
export function baseOffsetsFromNames(names: readonly string[]): number[] {
  const out: number[] = [];
  for (const n of names) {
    const col = /^base\+([1-9][0-9]*)$/.exec(n);
    if (col) out.push(Number(col[1]));
  }
  return out;
}

/**
 * The seasonal lags named in an artifact's input names (`lag{m}.known`, `lag{m}+{k}`), in order;
 * [] for an artifact from before lag columns.
 */
export function lagsFromNames(names: readonly string[]): LagInput[] {
  const out: { steps: number; offsets: number[] }[] = [];
  for (const n of names) {
    const known = /^lag([1-9][0-9]*)\.known$/.exec(n);
    if (known) {
      out.push({ steps: Number(known[1]), offsets: [] });
      continue;
    }
    const col = /^lag([1-9][0-9]*)\+([1-9][0-9]*)$/.exec(n);
    if (col) {
      const last = out[out.length - 1];
      if (last === undefined || last.steps !== Number(col[1])) throw new ConfigError(`input "${n}" does not follow its lag's "lag${col[1]}.known"; the artifact is corrupt`);
      last.offsets.push(Number(col[2]));
    }
  }
  return out;
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
export function writeInput(step: GruInputStep, layout: FeatureLayout, out: Float32Array, offset: number, prevZ = Number.NaN): number {
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
  o = writeTimeFeatures(layout.timeFeatures, step.ts, out, o);
  const n = lagInputColumns(layout);
  if (n === 0) return o;
  const lag = step.lagInputs;
  for (let j = 0; j < n; j++) out[o + j] = lag?.[j] ?? 0;
  return o + n;
}

/** Whether weights trained for layout `a` read inputs exactly as `b` writes them (adopt, fine-tuning). */
export function sameLayout(a: FeatureLayout, b: FeatureLayout): boolean {
  return (
    baseName(a.base) === baseName(b.base) &&
    (a.diff === true) === (b.diff === true) &&
    a.maxGapSteps === b.maxGapSteps &&
    a.zClip === b.zClip &&
    sameLags(a.lags ?? [], b.lags ?? []) &&
    (a.baseOffsets ?? []).join(',') === (b.baseOffsets ?? []).join(',') &&
    a.timeFeatures.length === b.timeFeatures.length &&
    a.timeFeatures.every((f, i) => f === b.timeFeatures[i])
  );
}

function sameLags(a: readonly LagInput[], b: readonly LagInput[]): boolean {
  return a.length === b.length && a.every((l, i) => l.steps === b[i]!.steps && l.offsets.length === b[i]!.offsets.length && l.offsets.every((k, j) => k === b[i]!.offsets[j]));
}
