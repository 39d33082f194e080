import { ConfigError } from '../../domain/errors.js';
import type { SeriesId } from '../../domain/point.js';
import type { NormalizedStep } from '../../domain/step.js';
import type { SeriesWindow } from '../../state/seriesWindow.js';

/**
 * What the GRU's quantile head predicts a correction to (the model's "base" forecast):
 *   none         the head predicts the value itself, (y[t+h] − mean_t) / std_t (the original layout)
 *   last-value   (y[t+h] − y[t]) / std_t: an untrained head already forecasts the last value
 *   last-value, change scale k   (y[t+h] − y[t]) / d_t, d_t the series' change scale (changeScale.ts,
 *                half-life k steps) instead of std_t: a correction means as many typical steps on
 *                every series, whatever its level's spread (chosen against the std unit at the first training)
 *   seasonal m   (y[t+h] − y[t+h−m]) / std_t, with input z' = (y[t] − y[t−m]) / std_t instead of z:
 *                the GRU models the seasonally differenced series (m ≥ horizon), so a season longer
 *                than its context (a week of half hours) is not something it has to remember.
 * A correction on top of the best baseline is much easier to learn than the level, and a model
 * that has learnt nothing yet still forecasts that baseline. Chosen per pipeline at its first
 * training (the baseline with the lowest loss on the history) and stored with the model.
 */
export type ResidualBase =
  | { readonly kind: 'none' }
  /** `changeHalfLife` (steps): the head's unit is the change scale, not the std (absent in artifacts before it). */
  | { readonly kind: 'last-value'; readonly changeHalfLife?: number }
  | { readonly kind: 'seasonal'; readonly steps: number };

export const NO_BASE: ResidualBase = Object.freeze({ kind: 'none' });

/**
 * Stable text form for artifacts' meta.json and model frames: `none`, `last-value`,
 * `last-value:change:288`, `seasonal:336`. The change scale is in the name so that a version
 * that does not know it refuses the artifact (unknown base) rather than serving it in std units.
 */
export function baseName(base: ResidualBase | undefined): string {
  if (base === undefined || base.kind === 'none') return 'none';
  if (base.kind === 'last-value') return base.changeHalfLife === undefined ? 'last-value' : `last-value:change:${base.changeHalfLife}`;
  return `seasonal:${base.steps}`;
}

export function parseBase(text: string | undefined): ResidualBase {
  if (text === undefined || text === 'none') return NO_BASE;
  if (text === 'last-value') return { kind: 'last-value' };
  const c = /^last-value:change:([1-9][0-9]*)$/.exec(text);
  if (c) return { kind: 'last-value', changeHalfLife: Number(c[1]) };
  const m = /^seasonal:([1-9][0-9]*)$/.exec(text);
  if (m) return { kind: 'seasonal', steps: Number(m[1]) };
  throw new ConfigError(`unknown model base "${text}"; expected none, last-value, last-value:change:<steps> or seasonal:<steps> (an artifact from a newer streamcast: upgrade, or retrain it with this one)`);
}

/** The change scale's half-life in steps when the head works in it (last-value base), else undefined. */
export function changeHalfLife(base: ResidualBase | undefined): number | undefined {
  return base?.kind === 'last-value' ? base.changeHalfLife : undefined;
}

/** Steps of past values a series needs before the model can serve it (0 for none/last-value). */
export function baseLag(base: ResidualBase | undefined): number {
  return base?.kind === 'seasonal' ? base.steps : 0;
}

/**
 * A training window in the model's base: `seasonal m` drops the first m steps and carries the
 * seasonal differences as values (mean 0, the original std, so targets stay in std_t units);
 * the others are unchanged (last-value is applied to the datasets: training/datasetBuilder.ts' `rebaseDataset`).
 * Undefined when too short.
 */
export function rebaseWindow(w: SeriesWindow, base: ResidualBase): SeriesWindow | undefined {
  if (base.kind !== 'seasonal') return w;
  const m = base.steps;
  const n = w.length - m;
  if (n < 2) return undefined;
  const z = new Float32Array(n);
  const observed = new Uint8Array(n);
  const sinceObserved = new Float32Array(n);
  const mean = new Float64Array(n);
  const std = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const j = i + m;
    const d = w.z[j]! * w.std[j]! + w.mean[j]! - (w.z[i]! * w.std[i]! + w.mean[i]!);
    std[i] = w.std[j]!;
    z[i] = d / std[i]!;
    observed[i] = w.observed[j]!;
    sinceObserved[i] = w.sinceObserved[j]!;
  }
  return { series: w.series, stepMs: w.stepMs, firstTs: w.firstTs + m * w.stepMs, length: n, z, observed, sinceObserved, mean, std };
}

/** The raw window over the same steps as `rebaseWindow` (for baseline losses on the same cells). */
export function alignedRawWindow(w: SeriesWindow, base: ResidualBase): SeriesWindow | undefined {
  if (base.kind !== 'seasonal') return w;
  const m = base.steps;
  if (w.length - m < 2) return undefined;
  return {
    series: w.series,
    stepMs: w.stepMs,
    firstTs: w.firstTs + m * w.stepMs,
    length: w.length - m,
    z: w.z.subarray(m),
    observed: w.observed.subarray(m),
    sinceObserved: w.sinceObserved.subarray(m),
    mean: w.mean.subarray(m),
    std: w.std.subarray(m),
  };
}

/**
 * The newest `capacity` values of each series on its step grid, for the seasonal base at serving
 * time: one Float64Array slab indexed by slot. A series restarts on a step that is not the next
 * grid step (a gap the imputer did not fill).
 */
export class LagRing {
  readonly capacity: number;
  readonly #stepMs: number;
  readonly #slots = new Map<SeriesId, number>();
  readonly #free: number[] = [];
  #vals = new Float64Array(0);
  /** Per slot: next write position, count, last ts. */
  #meta = new Float64Array(0);
  #cap = 0;

  constructor(capacity: number, stepMs: number) {
    this.capacity = capacity;
    this.#stepMs = stepMs;
  }

  /** True when `series` has a full season of consecutive values before `ts`. */
  full(series: SeriesId, ts: number): boolean {
    const s = this.#slots.get(series);
    if (s === undefined) return false;
    return this.#meta[s * 3 + 1] === this.capacity && this.#meta[s * 3 + 2] === ts - this.#stepMs;
  }

  /**
   * How many consecutive grid steps right before `ts` the ring holds for `series` (at most the
   * capacity; 0 when its newest value is not the step before `ts`).
   */
  held(series: SeriesId, ts: number): number {
    const s = this.#slots.get(series);
    if (s === undefined || this.#meta[s * 3 + 2] !== ts - this.#stepMs) return 0;
    return this.#meta[s * 3 + 1]!;
  }

  /** The value `back` steps before the newest (1 = the newest); call only when full or back ≤ held. */
  ago(series: SeriesId, back: number): number {
    const s = this.#slots.get(series)!;
    const C = this.capacity;
    const pos = (((this.#meta[s * 3]! - back) % C) + C) % C;
    return this.#vals[s * C + pos]!;
  }

  push(series: SeriesId, ts: number, value: number): void {
    let s = this.#slots.get(series);
    if (s === undefined) {
      s = this.#free.pop() ?? this.#slots.size;
      if (s >= this.#cap) this.#grow(Math.max(8, this.#cap * 2));
      this.#slots.set(series, s);
      this.#meta.fill(0, s * 3, s * 3 + 3);
      this.#meta[s * 3 + 2] = Number.NaN;
    }
    const m = s * 3;
    if (this.#meta[m + 1]! > 0 && ts !== this.#meta[m + 2]! + this.#stepMs) {
      if (ts <= this.#meta[m + 2]!) return;
      this.#meta[m] = 0;
      this.#meta[m + 1] = 0;
    }
    const C = this.capacity;
    const pos = this.#meta[m]!;
    this.#vals[s * C + pos] = value;
    this.#meta[m] = (pos + 1) % C;
    this.#meta[m + 1] = Math.min(C, this.#meta[m + 1]! + 1);
    this.#meta[m + 2] = ts;
  }

  drop(series: SeriesId): void {
    const s = this.#slots.get(series);
    if (s === undefined) return;
    this.#slots.delete(series);
    this.#free.push(s);
  }

  #grow(cap: number): void {
    const vals = new Float64Array(cap * this.capacity);
    vals.set(this.#vals);
    const meta = new Float64Array(cap * 3);
    meta.set(this.#meta);
    this.#vals = vals;
    this.#meta = meta;
    this.#cap = cap;
  }
}

/**
 * The GRU's view of a serving step under `base`: seasonal replaces z by the seasonal difference
 * (needs y[t−m] = `lagged`) and offsets by 0; last-value offsets the output by y[t], in units of
 * `change` (the series' change scale at t) when the base has one, else of the std; none is the
 * step itself.
 */
export function rebaseStep(s: NormalizedStep, base: ResidualBase, lagged: number, change = Number.NaN): NormalizedStep {
  switch (base.kind) {
    case 'none':
      return s;
    case 'last-value':
      return { ...s, scale: { mean: s.value, std: base.changeHalfLife !== undefined && change > 0 ? change : s.scale.std } };
    case 'seasonal': {
      const d = s.value - lagged;
      return { ...s, value: d, z: d / s.scale.std, scale: { mean: 0, std: s.scale.std } };
    }
  }
}
