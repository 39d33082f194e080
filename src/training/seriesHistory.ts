import { ConfigError, StreamcastError } from '../domain/errors.js';
import type { EpochMs, SeriesId } from '../domain/point.js';
import { SeriesSlots, SlotPages, pageBitsFor } from '../domain/seriesSlots.js';
import type { NormalizedStep } from '../domain/step.js';
import { Float12, fromFloat16, toFloat16 } from './float16.js';

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
   * (retrain.minHistory or several contexts). Memory is ≈ 5.13 bytes per step per series, plus
   * about 90 bytes per series (scale anchors, ring indices, the series index).
   */
  readonly capacity: number;
  /** Initial size in series; it grows as needed (doubling up to one page, then page by page). */
  readonly initialSeries?: number;
}

// Beyond these a step's scale change is not representable (the codes' range / sane ratios): the
// ring restarts there rather than store a wrong scale path.
const MAX_MEAN_STEP = 60_000;
const MAX_LOG_STD_STEP = 20;

/** Residual of (mean_t − mean_{t−1}) / std_{t−1}: sign, 5 exponent bits, 6 mantissa bits; ±65024, steps of 2⁻²¹ near 0. */
const D_MEAN = new Float12(5, 16);
/** Residual of log(std_t / std_{t−1}): sign, 4 exponent bits, 7 mantissa bits; ±31.9, steps of 2⁻¹⁷ near 0. */
const D_LOG_STD = new Float12(4, 11);

// The drift predictor (see SeriesHistory): learnt from observed steps with G_MIN_Z ≤ |z| < G_MAX_Z
// (below, the ratio is ill-conditioned; at the clip, z no longer carries the value).
const G_MIN_Z = 0.5;
const G_MAX_Z = 49.9;

/**
 * The decoding state along a ring: [mean, std, g] — the step's decoded scale and the predictor's
 * g ≈ 1/(w − 1) (w: the normalizer's sum of weights), learnt from the decoded drifts.
 */
type Chain = Float64Array;

function predictedLogStd(z: number, g: number): number {
  // Normalizer update, unfloored: std_t²/std_{t−1}² = 1 / ((1 + g)(1 − z²g)), where z²g < 1; a
  // step beyond that does not follow the rule (at most 2.3 either way).
  const u = 1 - z * z * g;
  return u > 0 ? -0.5 * Math.log((1 + g) * Math.max(0.01, u)) : 0;
}

/**
 * Normalizer update: mean_t − mean_{t−1} = z_t·std_t·g, in std_{t−1}. The ratio is capped so that
 * the prediction (≤ 800), and so the residual, stays well within the codes' range.
 */
function predictedMean(z: number, observed: boolean, g: number, stdRatio: number): number {
  return observed ? z * g * Math.min(stdRatio, 16) : 0;
}

// Encoding and decoding share these, so that both compute bit-identical chains.
function stepStd(std0: number, pl: number, cl: number): number {
  return std0 * Math.exp(pl + D_LOG_STD.decode(cl));
}

function stepMean(mean0: number, std0: number, std1: number, z: number, observed: boolean, g: number, cm: number): number {
  return mean0 + (predictedMean(z, observed, g, std1 / std0) + D_MEAN.decode(cm)) * std0;
}

function moveTo(chain: Chain, mean0: number, mean1: number, std1: number, z: number, observed: boolean): void {
  chain[0] = mean1;
  chain[1] = std1;
  const az = Math.abs(z);
  if (observed && az >= G_MIN_Z && az < G_MAX_Z) chain[2] = learnG(chain[2]!, (mean1 - mean0) / (z * std1));
}

/**
 * The predictor's state in one number: g ≈ 1/(w − 1) in (0, 1] plus c ∈ {0, 1, 2}, how many
 * observed steps in a row implied a g within 25% of the previous one (0: no g). The prediction is
 * used at c = 2 only: the normalizer's w varies smoothly, so its steps agree all along, while
 * steps that do not follow the rule (hand-made, std floor) rarely agree twice in a row by chance.
 */
function usableG(state: number): number {
  return state > 2 ? state - 2 : 0;
}

function learnG(state: number, next: number): number {
  if (!(next > 0 && next <= 1)) return 0;
  if (!(state > 0)) return next;
  const c = Math.ceil(state) - 1;
  const prev = state - c;
  return next >= 0.75 * prev && next <= 1.25 * prev ? next + Math.min(2, c + 1) : next;
}

/** Advances `chain` over one step: z is the step's decoded z, (cm, cl) its residual codes. */
function advance(chain: Chain, z: number, observed: boolean, cm: number, cl: number): void {
  const mean0 = chain[0]!;
  const std0 = chain[1]!;
  const g = usableG(chain[2]!);
  const std1 = stepStd(std0, observed ? predictedLogStd(z, g) : 0, cl);
  moveTo(chain, mean0, stepMean(mean0, std0, std1, z, observed, g, cm), std1, z, observed);
}

/**
 * The residual codes (cm | cl << 12) that take `chain` to the exact scale (mean, std) as closely
 * as the codes allow, advancing it as `advance` with those codes will; or -1, leaving the chain,
 * when the change is beyond MAX_MEAN_STEP / MAX_LOG_STD_STEP.
 */
function encodeAdvance(chain: Chain, z: number, observed: boolean, mean: number, std: number): number {
  const mean0 = chain[0]!;
  const std0 = chain[1]!;
  const g = usableG(chain[2]!);
  const dMean = (mean - mean0) / std0;
  const dLogStd = Math.log(std / std0);
  if (!(Math.abs(dMean) <= MAX_MEAN_STEP && Math.abs(dLogStd) <= MAX_LOG_STD_STEP)) return -1;
  const pl = observed ? predictedLogStd(z, g) : 0;
  const cl = D_LOG_STD.encode(dLogStd - pl);
  const std1 = stepStd(std0, pl, cl);
  const cm = D_MEAN.encode(dMean - predictedMean(z, observed, g, std1 / std0));
  moveTo(chain, mean0, stepMean(mean0, std0, std1, z, observed, g, cm), std1, z, observed);
  return cm | (cl << 12);
}

// Per-slot Float64 record.
const LAST_TS = 0; // the newest step's ts
const ANCHOR = 1; // the chain at the oldest step: mean, std, g
const NEWEST = 4; // the chain at the newest step
const APPENDED = 7; // steps appended since the slot was created or restored (absolute index of the next one)
// The chain and sinceObserved at absolute step TAIL - 1 (0: none), where the previous snapshot's
// kept tail began: the next snapshot walks on from there, not from the oldest step, so a
// checkpoint costs the steps appended since the last one rather than the whole history.
const TAIL = 8;
const TAIL_ANCHOR = 9;
const META = 12;
// Per-slot Int32 record.
const HEAD = 0; // physical index of the oldest step
const COUNT = 1;
const SINCE = 2; // sinceObserved of the oldest step
const TAIL_SINCE = 3; // sinceObserved at the TAIL step
const CAP = 4; // steps the slot's buffer holds now (≤ capacity): it grows with the series
const RING = 5;

/** Steps a series' buffer starts with; it doubles as the series grows, up to `capacity`. */
const INITIAL_STEPS = 8;

/**
 * One series' steps in one buffer of `cap` steps: z codes (float16, little-endian) at [0, 2·cap),
 * the residual codes at [2·cap, 5·cap), the observed bits at [5·cap, 5·cap + ⌈cap/8⌉).
 */
function stepBuffer(cap: number): Uint8Array {
  return new Uint8Array(5 * cap + Math.ceil(cap / 8));
}

function zCodeAt(buf: Uint8Array, p: number): number {
  return buf[2 * p]! | (buf[2 * p + 1]! << 8);
}

function putZCode(buf: Uint8Array, p: number, code: number): void {
  buf[2 * p] = code & 0xff;
  buf[2 * p + 1] = code >>> 8;
}

const SNAPSHOT_MAGIC_V1 = 0x31485353; // "SSH1": z, dMean, dLogStd as float16, newest scale exact
const SNAPSHOT_HEADER_V1 = 40;
const V1_WORDS = 3;
const SNAPSHOT_MAGIC = 0x32485353; // "SSH2" little-endian: Streamcast Series History, format 2
const SNAPSHOT_HEADER = 48;

/**
 * Per-series history ring buffers for training and re-warming, in paged typed arrays indexed by
 * slot (no object per series or per step).
 *
 * Each step costs 5 bytes + 1 bit:
 *   z        float16   normalized value (the input the model saw; |z| ≤ 50 from the normalizer)
 *   dMean    12 bits   (mean_t − mean_{t−1}) / std_{t−1}, the scale's drift in the previous std,
 *                      less its prediction
 *   dLogStd  12 bits   log(std_t / std_{t−1}), less its prediction
 *   observed 1 bit
 * plus, per series, the newest step's ts, the oldest step's sinceObserved and scale (the anchor,
 * float64), and the newest step's decoded scale. Everything else is derived: ts from the newest
 * ts and the step, sinceObserved from the mask, and the scale path by walking forward from the
 * anchor, so a target can be re-expressed in the scale at its origin — (value_{t+h} − mean_t)/
 * std_t — to the precision of the (small) per-step drift, not of the absolute level (a mean of 1e6
 * with std 1 stays exact).
 *
 * Closed loop: each step's codes take the previous step's *decoded* scale to the step's exact one,
 * so rounding errors do not accumulate along the ring: every decoded scale is within one code's
 * rounding (2⁻⁷ of the residual drift, 2⁻⁸ of the residual log-std change) of the exact one. When
 * the oldest step is evicted, the anchor moves on by the same rule.
 *
 * Prediction: for steps from the pipeline's Normalizer, an observed step moves the mean by
 * z_t·std_t/(w − 1) and the variance by a known factor of z_t and w (w: its sum of weights), so the
 * drift is mostly predictable from z and g ≈ 1/(w − 1), which is learnt from the previous observed
 * steps' decoded drifts; only the residual is coded, which is what makes 12 bits enough. Steps that
 * do not follow the rule (std floor, clipped z, hand-made steps) just have larger residuals.
 *
 * The ring holds one segment of consecutive grid steps. It restarts (forgets the series' older
 * steps) on a `reset` step (first step, or data back after a gap longer than impute.maxGap: the
 * serving model zeroes the hidden state there too), on a ts that is not the previous ts + stepMs,
 * and on a scale jump the codes cannot carry (|dMean| > 6e4 or |dLogStd| > 20, only seen on a
 * series' first few points). Steps at or before the series' newest ts are ignored (stale).
 */
export class SeriesHistory {
  readonly stepMs: number;
  readonly capacity: number;
  readonly #slots = new SeriesSlots();
  /**
   * Each slot's steps (see stepBuffer): sized to the series' length, not to `capacity`, so that a
   * series with a few steps costs a few bytes — with many sparse or short-lived series, buffers
   * preallocated at `capacity` were most of the process' memory (the 40 KB per series).
   */
  readonly #steps: (Uint8Array | undefined)[] = [];
  #stepBytes = 0;
  readonly #meta: SlotPages<Float64Array>;
  readonly #ring: SlotPages<Int32Array>;
  /** Scratch decoding states (no allocation per step). */
  readonly #chain: Chain = new Float64Array(3);
  readonly #anchor: Chain = new Float64Array(3);

  constructor(opts: SeriesHistoryOptions) {
    if (!Number.isInteger(opts.stepMs) || opts.stepMs <= 0) throw new ConfigError(`history: stepMs is ${opts.stepMs}; use the pipeline's window.step in ms`);
    if (!Number.isInteger(opts.capacity) || opts.capacity < 2) throw new ConfigError(`history capacity is ${opts.capacity}; it must be a whole number of steps ≥ 2`);
    this.stepMs = opts.stepMs;
    this.capacity = opts.capacity;
    const initial = Math.max(1, opts.initialSeries ?? 16);
    const bits = pageBitsFor(8 * META + 4 * RING);
    this.#meta = new SlotPages(META, (n) => new Float64Array(n), initial, bits);
    this.#ring = new SlotPages(RING, (n) => new Int32Array(n), initial, bits);
  }

  /** Series with at least one step. */
  get size(): number {
    return this.#slots.size;
  }

  /** Typed-array bytes held (the step buffers and the per-slot pages): for memory reports. */
  get bytes(): number {
    return this.#stepBytes + this.#meta.bytes + this.#ring.bytes;
  }

  series(): IterableIterator<SeriesId> {
    return this.#slots.keys();
  }

  /** Steps held for `series` (0 when unknown). */
  lengthOf(series: SeriesId): number {
    const slot = this.#slots.get(series);
    return slot === undefined ? 0 : this.#ring.page(slot)[this.#ring.offset(slot) + COUNT]!;
  }

  /** Appends one step; returns false when it was ignored as stale. */
  append(step: NormalizedStep): boolean {
    const slot = this.#slotOf(step.series);
    const C = this.capacity;
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    const meta = this.#meta.page(slot);
    const m = this.#meta.offset(slot);
    const chain = this.#chain;
    let count = ring[r + COUNT]!;
    const zCode = toFloat16(step.z);
    const z = fromFloat16(zCode);
    let codes = 0;
    if (count > 0) {
      const lastTs = meta[m + LAST_TS]!;
      if (step.ts <= lastTs) return false;
      if (step.reset || step.ts !== lastTs + this.stepMs) count = 0;
      else {
        chain[0] = meta[m + NEWEST]!;
        chain[1] = meta[m + NEWEST + 1]!;
        chain[2] = meta[m + NEWEST + 2]!;
        codes = encodeAdvance(chain, z, step.observed, step.scale.mean, step.scale.std);
        if (codes < 0) count = 0;
      }
    }
    let head = ring[r + HEAD]!;
    let p: number;
    if (count > 0 && count < C && count === ring[r + CAP]!) this.#grow(slot, Math.min(C, 2 * count));
    const cap = ring[r + CAP]!;
    const buf = this.#steps[slot]!;
    const cBase = 2 * cap;
    if (count === 0) {
      head = 0;
      p = 0;
      count = 1;
      codes = 0;
      ring[r + SINCE] = step.sinceObserved;
      meta[m + ANCHOR] = step.scale.mean;
      meta[m + ANCHOR + 1] = step.scale.std;
      meta[m + ANCHOR + 2] = 0;
      meta.copyWithin(m + NEWEST, m + ANCHOR, m + ANCHOR + 3);
    } else {
      if (count < C) {
        p = (head + count) % cap;
        count++;
      } else {
        // Full: overwrite the oldest; the next one becomes the oldest: the anchor moves on to it
        // and its sinceObserved is derived.
        p = head;
        head = (head + 1) % cap;
        const anchor = this.#anchor;
        anchor[0] = meta[m + ANCHOR]!;
        anchor[1] = meta[m + ANCHOR + 1]!;
        anchor[2] = meta[m + ANCHOR + 2]!;
        const q = cBase + 3 * head;
        advance(anchor, fromFloat16(zCodeAt(buf, head)), this.#bit(slot, head), codeM(buf, q), codeL(buf, q));
        meta[m + ANCHOR] = anchor[0]!;
        meta[m + ANCHOR + 1] = anchor[1]!;
        meta[m + ANCHOR + 2] = anchor[2]!;
        ring[r + SINCE] = this.#bit(slot, head) ? 0 : ring[r + SINCE]! + 1;
      }
      meta[m + NEWEST] = chain[0]!;
      meta[m + NEWEST + 1] = chain[1]!;
      meta[m + NEWEST + 2] = chain[2]!;
    }
    putZCode(buf, p, zCode);
    putCodes(buf, cBase + 3 * p, codes & 0xfff, codes >>> 12);
    this.#setBit(slot, p, step.observed);
    ring[r + HEAD] = head;
    ring[r + COUNT] = count;
    meta[m + LAST_TS] = step.ts;
    meta[m + APPENDED] = meta[m + APPENDED]! + 1;
    return true;
  }

  /** The series' steps, oldest first; undefined when unknown. */
  windowOf(series: SeriesId): SeriesWindow | undefined {
    const slot = this.#slots.get(series);
    if (slot === undefined) return undefined;
    const { ring, r, meta, m, buf, cap, cBase } = this.#view(slot);
    const head = ring[r + HEAD]!;
    const n = ring[r + COUNT]!;
    const z = new Float32Array(n);
    const observed = new Uint8Array(n);
    const sinceObserved = new Float32Array(n);
    const mean = new Float64Array(n);
    const std = new Float64Array(n);
    const chain = this.#chain;
    chain.set(meta.subarray(m + ANCHOR, m + ANCHOR + 3));
    let since = ring[r + SINCE]!;
    for (let i = 0; i < n; i++) {
      const p = (head + i) % cap;
      const zi = fromFloat16(zCodeAt(buf, p));
      const obs = this.#bit(slot, p);
      z[i] = zi;
      observed[i] = obs ? 1 : 0;
      if (i > 0) {
        const q = cBase + 3 * p;
        advance(chain, zi, obs, codeM(buf, q), codeL(buf, q));
        since = obs ? 0 : since + 1;
      }
      mean[i] = chain[0]!;
      std[i] = chain[1]!;
      sinceObserved[i] = since;
    }
    const lastTs = meta[m + LAST_TS]!;
    return { series, stepMs: this.stepMs, firstTs: lastTs - (n - 1) * this.stepMs, length: n, z, observed, sinceObserved, mean, std };
  }

  /** The series' steps as NormalizedSteps (the first flagged `reset`): to re-warm a hidden state. */
  stepsOf(series: SeriesId): NormalizedStep[] {
    const w = this.windowOf(series);
    return w === undefined ? [] : windowSteps(w);
  }

  drop(series: SeriesId): void {
    const slot = this.#slots.delete(series);
    if (slot === undefined) return;
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    ring[r + COUNT] = 0;
    ring[r + CAP] = 0;
    this.#stepBytes -= this.#steps[slot]?.byteLength ?? 0;
    this.#steps[slot] = undefined;
  }

  /**
   * One series' history (its newest `maxSteps` steps, default all) as bytes, for the state
   * changelog; undefined when unknown. Format 2:
   * header (magic "SSH2", n, sinceObserved of the oldest step, 0, newest ts, anchor mean, std, g),
   * then n float16 z, n × 3 bytes of codes (the oldest step's are zero), and the observed bits.
   */
  snapshot(series: SeriesId, maxSteps = Number.POSITIVE_INFINITY): Uint8Array | undefined {
    const slot = this.#slots.get(series);
    if (slot === undefined) return undefined;
    const { ring, r, meta, m, buf, cap, cBase } = this.#view(slot);
    const count = ring[r + COUNT]!;
    // Only the newest maxSteps: the anchor (scale chain) and sinceObserved move on to the first kept step.
    const skip = Math.max(0, count - Math.max(1, Math.floor(maxSteps)));
    const head = (ring[r + HEAD]! + skip) % cap;
    const n = count - skip;
    const anchor = this.#anchor;
    // Absolute index of the oldest step kept in the ring, and of the first step this snapshot keeps.
    const oldest = meta[m + APPENDED]! - count;
    const target = oldest + skip;
    const cached = meta[m + TAIL]! - 1;
    let from: number;
    let since: number;
    if (cached >= oldest && cached <= target) {
      from = cached - oldest;
      for (let k = 0; k < 3; k++) anchor[k] = meta[m + TAIL_ANCHOR + k]!;
      since = ring[r + TAIL_SINCE]!;
    } else {
      from = 0;
      for (let k = 0; k < 3; k++) anchor[k] = meta[m + ANCHOR + k]!;
      since = ring[r + SINCE]!;
    }
    for (let i = from + 1; i <= skip; i++) {
      const p = (ring[r + HEAD]! + i) % cap;
      const q = cBase + 3 * p;
      const obs = this.#bit(slot, p);
      advance(anchor, fromFloat16(zCodeAt(buf, p)), obs, codeM(buf, q), codeL(buf, q));
      since = obs ? 0 : since + 1;
    }
    meta[m + TAIL] = target + 1;
    for (let k = 0; k < 3; k++) meta[m + TAIL_ANCHOR + k] = anchor[k]!;
    ring[r + TAIL_SINCE] = since;
    const codesAt = SNAPSHOT_HEADER + 2 * n;
    const maskAt = codesAt + 3 * n;
    const out = new Uint8Array(maskAt + Math.ceil(n / 8));
    const dv = new DataView(out.buffer);
    dv.setUint32(0, SNAPSHOT_MAGIC, true);
    dv.setUint32(4, n, true);
    dv.setUint32(8, since, true);
    dv.setFloat64(16, meta[m + LAST_TS]!, true);
    for (let k = 0; k < 3; k++) dv.setFloat64(24 + 8 * k, anchor[k]!, true);
    for (let i = 0; i < n; i++) {
      const p = (head + i) % cap;
      dv.setUint16(SNAPSHOT_HEADER + 2 * i, zCodeAt(buf, p), true);
      if (i > 0) for (let k = 0; k < 3; k++) out[codesAt + 3 * i + k] = buf[cBase + 3 * p + k]!;
      if (this.#bit(slot, p)) out[maskAt + (i >>> 3)]! |= 1 << (i & 7);
    }
    return out;
  }

  /**
   * Replaces one series' history with a snapshot (from any capacity: a longer one keeps its newest
   * `capacity` steps). Reads format 2 and the float16 format 1 of earlier versions (re-encoded).
   * Throws a `fatal` StreamcastError on a corrupt snapshot, leaving the series as it was.
   */
  restore(series: SeriesId, snap: Uint8Array): void {
    const bad = (why: string): never => {
      throw new StreamcastError('fatal', `history snapshot of series "${series}" is invalid (${why}); drop its changelog entry`);
    };
    if (snap.byteLength < SNAPSHOT_HEADER_V1) bad('too short');
    const dv = new DataView(snap.buffer, snap.byteOffset, snap.byteLength);
    const magic = dv.getUint32(0, true);
    if (magic === SNAPSHOT_MAGIC_V1) return this.#restoreV1(series, snap, dv, bad);
    if (magic !== SNAPSHOT_MAGIC) bad('bad magic');
    if (snap.byteLength < SNAPSHOT_HEADER) bad('too short');
    const n = dv.getUint32(4, true);
    const codesAt = SNAPSHOT_HEADER + 2 * n;
    const maskAt = codesAt + 3 * n;
    if (n < 1 || snap.byteLength !== maskAt + Math.ceil(n / 8)) bad('length mismatch');
    let since = dv.getUint32(8, true);
    const lastTs = dv.getFloat64(16, true);
    const chain = this.#chain;
    for (let k = 0; k < 3; k++) chain[k] = dv.getFloat64(24 + 8 * k, true);
    if (!Number.isFinite(lastTs) || !Number.isFinite(chain[0]!) || !(chain[1]! > 0) || !Number.isFinite(chain[1]!) || !(chain[2]! >= 0 && chain[2]! <= 3)) bad('non-finite scale or ts');
    const zAt = (i: number): number => dv.getUint16(SNAPSHOT_HEADER + 2 * i, true);
    const bitAt = (i: number): boolean => ((snap[maskAt + (i >>> 3)]! >>> (i & 7)) & 1) === 1;
    const keep = Math.min(n, this.capacity);
    const skip = n - keep;
    for (let i = 1; i <= skip; i++) {
      const q = codesAt + 3 * i;
      advance(chain, fromFloat16(zAt(i)), bitAt(i), codeM(snap, q), codeL(snap, q));
      since = bitAt(i) ? 0 : since + 1;
    }
    const slot = this.#slotOf(series);
    this.#resize(slot, keep);
    const { buf, cBase, meta, m } = this.#view(slot);
    meta.set(chain, m + ANCHOR);
    for (let i = 0; i < keep; i++) {
      const j = skip + i;
      putZCode(buf, i, zAt(j));
      const q = codesAt + 3 * j;
      if (i === 0) putCodes(buf, cBase, 0, 0);
      else {
        for (let k = 0; k < 3; k++) buf[cBase + 3 * i + k] = snap[q + k]!;
        advance(chain, fromFloat16(zAt(j)), bitAt(j), codeM(snap, q), codeL(snap, q));
      }
      this.#setBit(slot, i, bitAt(j));
    }
    this.#finishRestore(slot, keep, since, lastTs);
  }

  /** Format 1 (float16 drifts walked back from the newest exact scale): decoded, then re-encoded. */
  #restoreV1(series: SeriesId, snap: Uint8Array, dv: DataView, bad: (why: string) => never): void {
    const n = dv.getUint32(4, true);
    if (n < 1 || snap.byteLength !== SNAPSHOT_HEADER_V1 + n * V1_WORDS * 2 + Math.ceil(n / 8)) bad('length mismatch');
    let since = dv.getUint32(8, true);
    const lastTs = dv.getFloat64(16, true);
    const newestMean = dv.getFloat64(24, true);
    const newestStd = dv.getFloat64(32, true);
    if (!Number.isFinite(lastTs) || !Number.isFinite(newestMean) || !(newestStd > 0) || !Number.isFinite(newestStd)) bad('non-finite scale or ts');
    const maskAt = SNAPSHOT_HEADER_V1 + n * V1_WORDS * 2;
    const bitAt = (i: number): boolean => ((snap[maskAt + (i >>> 3)]! >>> (i & 7)) & 1) === 1;
    const word = (i: number, k: number): number => dv.getUint16(SNAPSHOT_HEADER_V1 + (i * V1_WORDS + k) * 2, true);
    const mean = new Float64Array(n);
    const std = new Float64Array(n);
    mean[n - 1] = newestMean;
    std[n - 1] = newestStd;
    for (let i = n - 1; i > 0; i--) {
      std[i - 1] = std[i]! / Math.exp(fromFloat16(word(i, 2)));
      mean[i - 1] = mean[i]! - fromFloat16(word(i, 1)) * std[i - 1]!;
    }
    // Re-encode the newest `capacity` steps, from the last step whose change the codes cannot carry.
    const chain = this.#chain;
    const encodeFrom = (start: number, out?: { codes: Uint8Array; at: number }): number => {
      chain[0] = mean[start]!;
      chain[1] = std[start]!;
      chain[2] = 0;
      for (let i = start + 1; i < n; i++) {
        const z = fromFloat16(word(i, 0));
        const c = encodeAdvance(chain, z, bitAt(i), mean[i]!, std[i]!);
        if (c < 0) return i;
        if (out !== undefined) putCodes(out.codes, out.at + 3 * (i - start), c & 0xfff, c >>> 12);
      }
      return n;
    };
    let start = n - Math.min(n, this.capacity);
    for (let cut = encodeFrom(start); cut < n; cut = encodeFrom(start)) start = cut;
    if (!Number.isFinite(mean[start]!) || !(std[start]! > 0) || !Number.isFinite(std[start]!)) bad('non-finite scale');
    for (let i = 1; i <= start; i++) since = bitAt(i) ? 0 : since + 1;
    const keep = n - start;
    const slot = this.#slotOf(series);
    this.#resize(slot, keep);
    const { buf, cBase, meta, m } = this.#view(slot);
    meta[m + ANCHOR] = mean[start]!;
    meta[m + ANCHOR + 1] = std[start]!;
    meta[m + ANCHOR + 2] = 0;
    putCodes(buf, cBase, 0, 0);
    encodeFrom(start, { codes: buf, at: cBase });
    for (let i = 0; i < keep; i++) {
      putZCode(buf, i, word(start + i, 0));
      this.#setBit(slot, i, bitAt(start + i));
    }
    this.#finishRestore(slot, keep, since, lastTs);
  }

  /** After a restore wrote `keep` steps from index 0 and `#chain` holds the newest step's state. */
  #finishRestore(slot: number, keep: number, since: number, lastTs: number): void {
    const meta = this.#meta.page(slot);
    const m = this.#meta.offset(slot);
    meta.set(this.#chain, m + NEWEST);
    meta[m + LAST_TS] = lastTs;
    meta[m + APPENDED] = keep;
    meta[m + TAIL] = 0;
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    ring[r + HEAD] = 0;
    ring[r + COUNT] = keep;
    ring[r + SINCE] = since;
  }

  /** One slot's records and step buffer (cBase: where its residual codes start). */
  #view(slot: number): { ring: Int32Array; r: number; meta: Float64Array; m: number; buf: Uint8Array; cap: number; cBase: number } {
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    const cap = ring[r + CAP]!;
    return { ring, r, meta: this.#meta.page(slot), m: this.#meta.offset(slot), buf: this.#steps[slot]!, cap, cBase: 2 * cap };
  }

  #bit(slot: number, p: number): boolean {
    const buf = this.#steps[slot]!;
    const cap = this.#ring.page(slot)[this.#ring.offset(slot) + CAP]!;
    return ((buf[5 * cap + (p >>> 3)]! >>> (p & 7)) & 1) === 1;
  }

  #setBit(slot: number, p: number, on: boolean): void {
    const buf = this.#steps[slot]!;
    const byte = 5 * this.#ring.page(slot)[this.#ring.offset(slot) + CAP]! + (p >>> 3);
    if (on) buf[byte]! |= 1 << (p & 7);
    else buf[byte]! &= ~(1 << (p & 7));
  }

  /**
   * Moves the slot's steps into a buffer of `cap` steps. Only while the ring has not wrapped
   * (count < capacity: head is 0, the steps are at [0, count)), which is when a series grows.
   */
  #grow(slot: number, cap: number): void {
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    const old = this.#steps[slot]!;
    const was = ring[r + CAP]!;
    const count = ring[r + COUNT]!;
    const next = stepBuffer(cap);
    next.set(old.subarray(0, 2 * count), 0);
    next.set(old.subarray(2 * was, 2 * was + 3 * count), 2 * cap);
    next.set(old.subarray(5 * was, 5 * was + Math.ceil(count / 8)), 5 * cap);
    this.#setSteps(slot, next, cap);
  }

  /** A fresh buffer for at least `steps` steps (restore: its contents are rewritten). */
  #resize(slot: number, steps: number): void {
    let cap = INITIAL_STEPS;
    while (cap < steps) cap *= 2;
    cap = Math.min(cap, this.capacity);
    if (this.#ring.page(slot)[this.#ring.offset(slot) + CAP] === cap) return;
    this.#setSteps(slot, stepBuffer(cap), cap);
  }

  #setSteps(slot: number, buf: Uint8Array, cap: number): void {
    this.#stepBytes += buf.byteLength - (this.#steps[slot]?.byteLength ?? 0);
    this.#steps[slot] = buf;
    this.#ring.page(slot)[this.#ring.offset(slot) + CAP] = cap;
  }

  #slotOf(series: SeriesId): number {
    const known = this.#slots.get(series);
    if (known !== undefined) return known;
    const slot = this.#slots.add(series);
    this.#meta.ensure(slot);
    this.#ring.ensure(slot);
    while (this.#steps.length <= slot) this.#steps.push(undefined);
    this.#setSteps(slot, stepBuffer(Math.min(INITIAL_STEPS, this.capacity)), Math.min(INITIAL_STEPS, this.capacity));
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    ring[r + HEAD] = 0;
    ring[r + COUNT] = 0;
    // A reused slot must not inherit its previous series' snapshot tail.
    const meta = this.#meta.page(slot);
    const m = this.#meta.offset(slot);
    meta[m + APPENDED] = 0;
    meta[m + TAIL] = 0;
    return slot;
  }
}

function codeM(b: Uint8Array, q: number): number {
  return b[q]! | ((b[q + 1]! & 0x0f) << 8);
}

function codeL(b: Uint8Array, q: number): number {
  return (b[q + 1]! >>> 4) | (b[q + 2]! << 4);
}

function putCodes(b: Uint8Array, q: number, cm: number, cl: number): void {
  b[q] = cm & 0xff;
  b[q + 1] = (cm >>> 8) | ((cl & 0x0f) << 4);
  b[q + 2] = cl >>> 4;
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
