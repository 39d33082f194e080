import { ConfigError, StreamcastError } from '../domain/errors.js';
import type { EpochMs, SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';
import { fromFloat16, toFloat16 } from './float16.js';

/**
 * The newest steps of one series, decoded from the history ring: what training and re-warming
 * read. Step i is at ts `firstTs + i·stepMs`; the steps are consecutive on the grid and the first
 * one starts a segment (h₀ = 0), as after a `reset` step.
 */
export interface SeriesWindow {
  readonly series: SeriesId;
  readonly stepMs: number;
  readonly firstTs: EpochMs;
  readonly length: number;
  /** Normalized value as the pipeline produced it (imputed when not observed). */
  readonly z: Float32Array;
  /** 1 observed, 0 imputed. */
  readonly observed: Uint8Array;
  readonly sinceObserved: Float32Array;
  /** The scale in force at each step; value = z·std + mean. */
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

export interface SeriesHistoryOptions {
  /** The pipeline's window.step in ms: steps of a series must arrive every stepMs. */
  readonly stepMs: number;
  /**
   * Steps kept per series (the newest). Re-warming needs `model.context`; training wants more
   * (retrain.minHistory or several contexts). Memory is ≈ 6.13 bytes per step per series.
   */
  readonly capacity: number;
  /** Initial slab size in series; it doubles as needed. */
  readonly initialSeries?: number;
}

// Per-step record: three float16 words (see SeriesHistory).
const WORDS = 3;
// Beyond these a step's scale change is not representable (float16 range / sane ratios): the
// ring restarts there rather than store a wrong scale path.
const MAX_MEAN_STEP = 60_000;
const MAX_LOG_STD_STEP = 20;

const SNAPSHOT_MAGIC = 0x31485353; // "SSH1" little-endian: Streamcast Series History, format 1
const SNAPSHOT_HEADER = 40;

/**
 * Per-series history ring buffers for training and re-warming, in one slab of typed arrays indexed
 * by slot (no object per series or per step).
 *
 * Each step costs 6 bytes + 1 bit:
 *   z        float16   normalized value (the input the model saw; |z| ≤ 50 from the normalizer)
 *   dMean    float16   (mean_t − mean_{t−1}) / std_{t−1}: the scale's drift, in the previous std
 *   dLogStd  float16   log(std_t / std_{t−1})
 *   observed 1 bit
 * plus, per series, the newest step's exact ts, mean and std (float64) and the oldest step's
 * sinceObserved. Everything else is derived: ts from the newest ts and the step, sinceObserved
 * from the mask, and the scale path by walking back from the newest exact scale, so a target can
 * be re-expressed in the scale at its origin — (value_{t+h} − mean_t)/std_t — to float16 precision
 * of the (small) per-step drift, not of the absolute level (a mean of 1e6 with std 1 stays exact).
 *
 * The ring holds one segment of consecutive grid steps. It restarts (forgets the series' older
 * steps) on a `reset` step (first step, or data back after a gap longer than impute.maxGap: the
 * serving model zeroes the hidden state there too), on a ts that is not the previous ts + stepMs,
 * and on a scale jump float16 cannot carry (|dMean| > 6e4 or |dLogStd| > 20, only seen on a
 * series' first few points). Steps at or before the series' newest ts are ignored (stale).
 */
export class SeriesHistory {
  readonly stepMs: number;
  readonly capacity: number;
  #slots = new Map<SeriesId, number>();
  #free: number[] = [];
  #cap: number;
  #words: Uint16Array;
  #mask: Uint8Array;
  #maskBytes: number;
  /** Per slot: newest ts, newest mean, newest std. */
  #meta: Float64Array;
  /** Per slot: physical index of the oldest step, count, sinceObserved of the oldest step. */
  #ring: Int32Array;

  constructor(opts: SeriesHistoryOptions) {
    if (!Number.isInteger(opts.stepMs) || opts.stepMs <= 0) throw new ConfigError(`history: stepMs is ${opts.stepMs}; use the pipeline's window.step in ms`);
    if (!Number.isInteger(opts.capacity) || opts.capacity < 2) throw new ConfigError(`history capacity is ${opts.capacity}; it must be a whole number of steps ≥ 2`);
    this.stepMs = opts.stepMs;
    this.capacity = opts.capacity;
    this.#maskBytes = Math.ceil(opts.capacity / 8);
    this.#cap = Math.max(1, opts.initialSeries ?? 16);
    this.#words = new Uint16Array(this.#cap * opts.capacity * WORDS);
    this.#mask = new Uint8Array(this.#cap * this.#maskBytes);
    this.#meta = new Float64Array(this.#cap * 3);
    this.#ring = new Int32Array(this.#cap * 3);
  }

  /** Series with at least one step. */
  get size(): number {
    return this.#slots.size;
  }

  /** Typed-array bytes held (the slab, including unused slots): for memory reports. */
  get bytes(): number {
    return this.#words.byteLength + this.#mask.byteLength + this.#meta.byteLength + this.#ring.byteLength;
  }

  series(): IterableIterator<SeriesId> {
    return this.#slots.keys();
  }

  /** Steps held for `series` (0 when unknown). */
  lengthOf(series: SeriesId): number {
    const slot = this.#slots.get(series);
    return slot === undefined ? 0 : this.#ring[slot * 3 + 1]!;
  }

  /** Appends one step; returns false when it was ignored as stale. */
  append(step: NormalizedStep): boolean {
    const slot = this.#slotOf(step.series);
    const C = this.capacity;
    const r = slot * 3;
    const m = slot * 3;
    let count = this.#ring[r + 1]!;
    const mean = step.scale.mean;
    const std = step.scale.std;
    let dMean = 0;
    let dLogStd = 0;
    if (count > 0) {
      const lastTs = this.#meta[m]!;
      if (step.ts <= lastTs) return false;
      const prevMean = this.#meta[m + 1]!;
      const prevStd = this.#meta[m + 2]!;
      dMean = (mean - prevMean) / prevStd;
      dLogStd = Math.log(std / prevStd);
      const representable = Number.isFinite(dMean) && Number.isFinite(dLogStd) && Math.abs(dMean) <= MAX_MEAN_STEP && Math.abs(dLogStd) <= MAX_LOG_STD_STEP;
      if (step.reset || step.ts !== lastTs + this.stepMs || !representable) {
        count = 0;
        dMean = 0;
        dLogStd = 0;
      }
    }
    let head = this.#ring[r]!;
    let p: number;
    if (count === 0) {
      head = 0;
      p = 0;
      count = 1;
      this.#ring[r + 2] = step.sinceObserved;
    } else if (count < C) {
      p = (head + count) % C;
      count++;
    } else {
      // Full: overwrite the oldest; the next one becomes the oldest, its sinceObserved derived.
      p = head;
      head = (head + 1) % C;
      this.#ring[r + 2] = this.#bit(slot, head) ? 0 : this.#ring[r + 2]! + 1;
    }
    const w = (slot * C + p) * WORDS;
    this.#words[w] = toFloat16(step.z);
    this.#words[w + 1] = toFloat16(dMean);
    this.#words[w + 2] = toFloat16(dLogStd);
    const byte = slot * this.#maskBytes + (p >>> 3);
    if (step.observed) this.#mask[byte]! |= 1 << (p & 7);
    else this.#mask[byte]! &= ~(1 << (p & 7));
    this.#ring[r] = head;
    this.#ring[r + 1] = count;
    this.#meta[m] = step.ts;
    this.#meta[m + 1] = mean;
    this.#meta[m + 2] = std;
    return true;
  }

  /** The series' steps, oldest first; undefined when unknown. */
  windowOf(series: SeriesId): SeriesWindow | undefined {
    const slot = this.#slots.get(series);
    if (slot === undefined) return undefined;
    const C = this.capacity;
    const r = slot * 3;
    const head = this.#ring[r]!;
    const n = this.#ring[r + 1]!;
    const z = new Float32Array(n);
    const observed = new Uint8Array(n);
    const sinceObserved = new Float32Array(n);
    const mean = new Float64Array(n);
    const std = new Float64Array(n);
    const dMean = new Float64Array(n);
    const dLogStd = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = (head + i) % C;
      const w = (slot * C + p) * WORDS;
      z[i] = fromFloat16(this.#words[w]!);
      dMean[i] = fromFloat16(this.#words[w + 1]!);
      dLogStd[i] = fromFloat16(this.#words[w + 2]!);
      observed[i] = this.#bit(slot, p) ? 1 : 0;
    }
    let since = this.#ring[r + 2]!;
    for (let i = 0; i < n; i++) {
      if (i > 0) since = observed[i] ? 0 : since + 1;
      sinceObserved[i] = since;
    }
    const m = slot * 3;
    mean[n - 1] = this.#meta[m + 1]!;
    std[n - 1] = this.#meta[m + 2]!;
    for (let i = n - 1; i > 0; i--) {
      std[i - 1] = std[i]! / Math.exp(dLogStd[i]!);
      mean[i - 1] = mean[i]! - dMean[i]! * std[i - 1]!;
    }
    const lastTs = this.#meta[m]!;
    return { series, stepMs: this.stepMs, firstTs: lastTs - (n - 1) * this.stepMs, length: n, z, observed, sinceObserved, mean, std };
  }

  /** The series' steps as NormalizedSteps (the first flagged `reset`): to re-warm a hidden state. */
  stepsOf(series: SeriesId): NormalizedStep[] {
    const w = this.windowOf(series);
    return w === undefined ? [] : windowSteps(w);
  }

  drop(series: SeriesId): void {
    const slot = this.#slots.get(series);
    if (slot === undefined) return;
    this.#slots.delete(series);
    this.#ring[slot * 3 + 1] = 0;
    this.#free.push(slot);
  }

  /** One series' history as bytes (for the state changelog); undefined when unknown. */
  snapshot(series: SeriesId): Uint8Array | undefined {
    const slot = this.#slots.get(series);
    if (slot === undefined) return undefined;
    const C = this.capacity;
    const r = slot * 3;
    const head = this.#ring[r]!;
    const n = this.#ring[r + 1]!;
    const maskLen = Math.ceil(n / 8);
    const out = new Uint8Array(SNAPSHOT_HEADER + n * WORDS * 2 + maskLen);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, SNAPSHOT_MAGIC, true);
    dv.setUint32(4, n, true);
    dv.setUint32(8, this.#ring[r + 2]!, true);
    dv.setFloat64(16, this.#meta[slot * 3]!, true);
    dv.setFloat64(24, this.#meta[slot * 3 + 1]!, true);
    dv.setFloat64(32, this.#meta[slot * 3 + 2]!, true);
    for (let i = 0; i < n; i++) {
      const p = (head + i) % C;
      const w = (slot * C + p) * WORDS;
      for (let k = 0; k < WORDS; k++) dv.setUint16(SNAPSHOT_HEADER + (i * WORDS + k) * 2, this.#words[w + k]!, true);
      if (this.#bit(slot, p)) out[SNAPSHOT_HEADER + n * WORDS * 2 + (i >>> 3)]! |= 1 << (i & 7);
    }
    return out;
  }

  /**
   * Replaces one series' history with a snapshot (from any capacity: a longer one keeps its newest
   * `capacity` steps). Throws a `fatal` StreamcastError on a corrupt snapshot, leaving the series
   * as it was.
   */
  restore(series: SeriesId, snap: Uint8Array): void {
    const bad = (why: string): never => {
      throw new StreamcastError('fatal', `history snapshot of series "${series}" is invalid (${why}); drop its changelog entry`);
    };
    if (snap.byteLength < SNAPSHOT_HEADER) bad('too short');
    const dv = new DataView(snap.buffer, snap.byteOffset, snap.byteLength);
    if (dv.getUint32(0, true) !== SNAPSHOT_MAGIC) bad('bad magic');
    const n = dv.getUint32(4, true);
    if (n < 1 || snap.byteLength !== SNAPSHOT_HEADER + n * WORDS * 2 + Math.ceil(n / 8)) bad('length mismatch');
    let since = dv.getUint32(8, true);
    const lastTs = dv.getFloat64(16, true);
    const mean = dv.getFloat64(24, true);
    const std = dv.getFloat64(32, true);
    if (!Number.isFinite(lastTs) || !Number.isFinite(mean) || !(std > 0) || !Number.isFinite(std)) bad('non-finite scale or ts');
    const maskAt = SNAPSHOT_HEADER + n * WORDS * 2;
    const bitAt = (i: number): boolean => ((snap[maskAt + (i >>> 3)]! >>> (i & 7)) & 1) === 1;
    const keep = Math.min(n, this.capacity);
    const skip = n - keep;
    for (let i = 1; i <= skip; i++) since = bitAt(i) ? 0 : since + 1;
    const slot = this.#slotOf(series);
    const C = this.capacity;
    for (let i = 0; i < keep; i++) {
      const w = (slot * C + i) * WORDS;
      for (let k = 0; k < WORDS; k++) this.#words[w + k] = dv.getUint16(SNAPSHOT_HEADER + ((skip + i) * WORDS + k) * 2, true);
      const byte = slot * this.#maskBytes + (i >>> 3);
      if (bitAt(skip + i)) this.#mask[byte]! |= 1 << (i & 7);
      else this.#mask[byte]! &= ~(1 << (i & 7));
    }
    this.#ring[slot * 3] = 0;
    this.#ring[slot * 3 + 1] = keep;
    this.#ring[slot * 3 + 2] = since;
    this.#meta[slot * 3] = lastTs;
    this.#meta[slot * 3 + 1] = mean;
    this.#meta[slot * 3 + 2] = std;
  }

  #bit(slot: number, p: number): boolean {
    return ((this.#mask[slot * this.#maskBytes + (p >>> 3)]! >>> (p & 7)) & 1) === 1;
  }

  #slotOf(series: SeriesId): number {
    const known = this.#slots.get(series);
    if (known !== undefined) return known;
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#slots.size;
      if (slot >= this.#cap) this.#grow();
    }
    this.#slots.set(series, slot);
    this.#ring[slot * 3] = 0;
    this.#ring[slot * 3 + 1] = 0;
    return slot;
  }

  #grow(): void {
    const cap = this.#cap * 2;
    const grow = <T extends Uint16Array | Uint8Array | Float64Array | Int32Array>(a: T, make: (n: number) => T, per: number): T => {
      const b = make(cap * per);
      b.set(a);
      return b;
    };
    this.#words = grow(this.#words, (n) => new Uint16Array(n), this.capacity * WORDS);
    this.#mask = grow(this.#mask, (n) => new Uint8Array(n), this.#maskBytes);
    this.#meta = grow(this.#meta, (n) => new Float64Array(n), 3);
    this.#ring = grow(this.#ring, (n) => new Int32Array(n), 3);
    this.#cap = cap;
  }
}

/** A window's step i as the pipeline emitted it (up to float16 rounding of z). */
export function windowSteps(w: SeriesWindow, from = 0, to = w.length): NormalizedStep[] {
  const out: NormalizedStep[] = [];
  for (let i = from; i < to; i++) {
    const z = w.z[i]!;
    const scale = { mean: w.mean[i]!, std: w.std[i]! };
    const observed = w.observed[i] === 1;
    out.push({
      series: w.series,
      ts: w.firstTs + i * w.stepMs,
      value: z * scale.std + scale.mean,
      observed,
      imputed: !observed,
      sinceObserved: w.sinceObserved[i]!,
      reset: i === 0,
      z,
      scale,
    });
  }
  return out;
}
