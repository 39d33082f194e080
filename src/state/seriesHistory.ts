import { ConfigError, StreamcastError } from '../domain/errors.js';
import type { SeriesId } from '../domain/point.js';
import { SlotPages, pageBitsFor } from '../domain/seriesSlots.js';
import { type HeldSlots, SeriesRegistry } from './seriesRegistry.js';
import { BlockSlab } from './blockSlab.js';
import type { NormalizedStep } from '../domain/step.js';
import { fromFloat16, toFloat16 } from './float16.js';
import { HISTORY_SNAPSHOT_HEADER, HISTORY_SNAPSHOT_HEADER_V1, HISTORY_SNAPSHOT_MAGIC, HISTORY_SNAPSHOT_MAGIC_V1, newHistorySnapshot, upgradeHistorySnapshotV1 } from './historySnapshotFormat.js';
import { advance, type Chain, codeL, codeM, encodeAdvance, putCodes } from './scaleChain.js';
import type { SeriesWindow } from './seriesWindow.js';
import { windowSteps } from './seriesWindow.js';


export interface SeriesHistoryOptions {
  /** The pipeline's window.step in ms: steps of a series must arrive every stepMs. */
  readonly stepMs: number;
  /**
   * Steps kept per series (the newest). Re-warming needs `model.context`; training wants more
   * (retrain.minHistory or several contexts). Memory is ≈ 5.13 bytes per step per series, plus
   * 124 bytes per series (scale anchors, ring indices, where its buffer lies) and its entry in the
   * pipeline's shared series index.
   */
  readonly capacity: number;
  /** Initial size in series; it grows as needed (doubling up to one page, then page by page). */
  readonly initialSeries?: number;
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
const BLOCK = 5; // the buffer: block BLOCK of the slab's size class CLS (−1: none)
const CLS = 6;
const RING = 7;

/** Steps a series' buffer starts with; it doubles as the series grows, up to `capacity`. */
const INITIAL_STEPS = 8;

/**
 * One series' steps in one buffer of `cap` steps, a block of the slab starting at `o`: z codes
 * (float16, little-endian) at o + [0, 2·cap), the residual codes at o + [2·cap, 5·cap), the
 * observed bits at o + [5·cap, 5·cap + ⌈cap/8⌉).
 */
function stepBytes(cap: number): number {
  return 5 * cap + Math.ceil(cap / 8);
}

function zCodeAt(buf: Uint8Array, o: number, p: number): number {
  return buf[o + 2 * p]! | (buf[o + 2 * p + 1]! << 8);
}

function putZCode(buf: Uint8Array, o: number, p: number, code: number): void {
  buf[o + 2 * p] = code & 0xff;
  buf[o + 2 * p + 1] = code >>> 8;
}

/** The buffer sizes a series passes through: INITIAL_STEPS doubling, then `capacity`. */
function bufferSteps(capacity: number): number[] {
  const out: number[] = [];
  for (let cap = INITIAL_STEPS; cap < capacity; cap *= 2) out.push(cap);
  out.push(capacity);
  return out;
}

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
 * The ring holds one segment of consecutive grid steps. It restarts on a `reset` step (first
 * step, or data back after a gap longer than impute.maxGap: the serving model zeroes the hidden
 * state there too), on a ts that is not the previous ts + stepMs, and on a scale jump the codes
 * cannot carry (|dMean| > 6e4 or |dLogStd| > 20, only seen on a series' first few points). Steps
 * at or before the series' newest ts are ignored (stale).
 *
 * The segment a restart ends is not forgotten: it is kept decoded, beside the ring, as a past
 * segment (`segmentsOf`), for training — a gap breaks the hidden state's continuity, not the
 * value of the data before it. Without them a sensor with a gap every few days trained only on
 * the days since its last gap (one run: retrains on 1–3 days of a 5-minute series, each candidate
 * rejected). Past and current segments together keep at most `capacity` steps, the newest; past
 * segments are not in snapshots (the training history grows back from the stream after a
 * restore, as the ring's older steps do) and cost ~25 bytes a step, only on series with gaps.
 *
 * Serving appends every step (ModelRuntime); training reads windows of it (Retrainer); so it sits
 * in state/, below both. The scale codec is scaleChain.ts and the snapshot formats
 * historySnapshotFormat.ts; what stays here (a little over 400 lines) is what walks the per-slot
 * records below (append, windows, snapshot, restore, growth), which would otherwise have to be
 * exposed.
 */
export class SeriesHistory {
  readonly stepMs: number;
  readonly capacity: number;
  readonly #slots: HeldSlots;
  /**
   * Each slot's steps (see stepBytes), one block of the slab: sized to the series' length, not to
   * `capacity`, so that a series with a few steps costs a few bytes — with many sparse or
   * short-lived series, buffers preallocated at `capacity` were most of the process' memory (the
   * issue's 40 KB per series). Size class k holds buffers of `#caps[k]` steps.
   */
  readonly #slab: BlockSlab;
  readonly #caps: readonly number[];
  readonly #classOf: ReadonlyMap<number, number>;
  readonly #meta: SlotPages<Float64Array>;
  readonly #ring: SlotPages<Int32Array>;
  /** Past segments by slot, oldest first (see the class comment); most series have none. */
  readonly #past = new Map<number, SeriesWindow[]>();
  #pastSteps = 0;
  /** Scratch decoding states (no allocation per step). */
  readonly #chain: Chain = new Float64Array(3);
  readonly #anchor: Chain = new Float64Array(3);

  /** `registry`: the pipeline's series index, shared with its other per-series structures (default: its own). */
  constructor(opts: SeriesHistoryOptions, registry = new SeriesRegistry()) {
    if (!Number.isInteger(opts.stepMs) || opts.stepMs <= 0) throw new ConfigError(`history: stepMs is ${opts.stepMs}; use the pipeline's window.step in ms`);
    if (!Number.isInteger(opts.capacity) || opts.capacity < 2) throw new ConfigError(`history capacity is ${opts.capacity}; it must be a whole number of steps ≥ 2`);
    this.stepMs = opts.stepMs;
    this.capacity = opts.capacity;
    this.#slots = registry.hold();
    registry.onDrop((series) => this.drop(series));
    const initial = Math.max(1, opts.initialSeries ?? 16);
    const bits = pageBitsFor(8 * META + 4 * RING);
    this.#meta = new SlotPages(META, (n) => new Float64Array(n), initial, bits);
    this.#ring = new SlotPages(RING, (n) => new Int32Array(n), initial, bits);
    this.#caps = bufferSteps(opts.capacity);
    this.#classOf = new Map(this.#caps.map((cap, k) => [cap, k]));
    this.#slab = new BlockSlab(this.#caps.map(stepBytes), (slot, _cls, block) => {
      this.#ring.page(slot)[this.#ring.offset(slot) + BLOCK] = block;
    });
  }

  /** Series with at least one step. */
  get size(): number {
    return this.#slots.size;
  }

  /** Typed-array bytes held (the step buffers and the per-slot pages): for memory reports. */
  get bytes(): number {
    return this.#slab.bytes + this.#meta.bytes + this.#ring.bytes + PAST_STEP_BYTES * this.#pastSteps;
  }

  series(): IterableIterator<SeriesId> {
    return this.#slots.keys();
  }

  /** Steps held for `series` (0 when unknown). */
  lengthOf(series: SeriesId): number {
    const slot = this.#slots.get(series);
    return slot === undefined ? 0 : this.#ring.page(slot)[this.#ring.offset(slot) + COUNT]!;
  }

  /** Steps held for `series` in all its segments, past and current (at most `capacity`). */
  heldOf(series: SeriesId): number {
    const slot = this.#slots.get(series);
    if (slot === undefined) return 0;
    const count = this.#ring.page(slot)[this.#ring.offset(slot) + COUNT]!;
    let past = 0;
    for (const w of this.#past.get(slot) ?? []) past += w.length;
    return Math.min(this.capacity, past + count);
  }

  /**
   * The series' segments, oldest first, the current one (`windowOf`) last: the newest `capacity`
   * steps it holds across the restarts of its ring. Empty when unknown.
   */
  segmentsOf(series: SeriesId): SeriesWindow[] {
    const current = this.windowOf(series);
    if (current === undefined) return [];
    const past = this.#past.get(this.#slots.get(series)!);
    if (past === undefined) return [current];
    const out: SeriesWindow[] = [current];
    let room = this.capacity - current.length;
    for (let i = past.length - 1; i >= 0 && room > 0; i--) {
      const w = past[i]!;
      out.push(w.length <= room ? w : newestSteps(w, room));
      room -= w.length;
    }
    return out.reverse();
  }

  /** Keeps the segment the ring is about to restart over (see the class comment). */
  #archive(slot: number, series: SeriesId): void {
    const w = this.windowOf(series);
    if (w === undefined || w.length < 2) return;
    const past = this.#past.get(slot) ?? [];
    past.push(w);
    this.#pastSteps += w.length;
    // Older than the newest `capacity` steps in all: never read again.
    let total = 0;
    for (const p of past) total += p.length;
    while (total > this.capacity) {
      const oldest = past[0]!;
      const cut = total - this.capacity;
      if (cut >= oldest.length) {
        past.shift();
        total -= oldest.length;
        this.#pastSteps -= oldest.length;
      } else {
        past[0] = newestSteps(oldest, oldest.length - cut);
        total -= cut;
        this.#pastSteps -= cut;
      }
    }
    this.#past.set(slot, past);
  }

  #forgetPast(slot: number): void {
    for (const w of this.#past.get(slot) ?? []) this.#pastSteps -= w.length;
    this.#past.delete(slot);
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
      if (step.reset || step.ts !== lastTs + this.stepMs) {
        this.#archive(slot, step.series);
        count = 0;
      } else {
        chain[0] = meta[m + NEWEST]!;
        chain[1] = meta[m + NEWEST + 1]!;
        chain[2] = meta[m + NEWEST + 2]!;
        codes = encodeAdvance(chain, z, step.observed, step.scale.mean, step.scale.std);
        if (codes < 0) {
          // Decoding for the archive reuses the scratch chain: nothing below reads it on a restart.
          this.#archive(slot, step.series);
          count = 0;
        }
      }
    }
    let head = ring[r + HEAD]!;
    let p: number;
    if (count > 0 && count < C && count === ring[r + CAP]!) this.#grow(slot, Math.min(C, 2 * count));
    const cap = ring[r + CAP]!;
    const cls = ring[r + CLS]!;
    const block = ring[r + BLOCK]!;
    const buf = this.#slab.page(cls, block);
    const o = this.#slab.offset(cls, block);
    const cBase = o + 2 * cap;
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
        advance(anchor, fromFloat16(zCodeAt(buf, o, head)), maskBit(buf, o, cap, head), codeM(buf, q), codeL(buf, q));
        meta[m + ANCHOR] = anchor[0]!;
        meta[m + ANCHOR + 1] = anchor[1]!;
        meta[m + ANCHOR + 2] = anchor[2]!;
        ring[r + SINCE] = maskBit(buf, o, cap, head) ? 0 : ring[r + SINCE]! + 1;
      }
      meta[m + NEWEST] = chain[0]!;
      meta[m + NEWEST + 1] = chain[1]!;
      meta[m + NEWEST + 2] = chain[2]!;
    }
    putZCode(buf, o, p, zCode);
    putCodes(buf, cBase + 3 * p, codes & 0xfff, codes >>> 12);
    setMaskBit(buf, o, cap, p, step.observed);
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
    const { ring, r, meta, m, buf, o, cap, cBase } = this.#view(slot);
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
      const zi = fromFloat16(zCodeAt(buf, o, p));
      const obs = maskBit(buf, o, cap, p);
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
    this.#forgetPast(slot);
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    ring[r + COUNT] = 0;
    ring[r + CAP] = 0;
    this.#release(slot);
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
    const { ring, r, meta, m, buf, o, cap, cBase } = this.#view(slot);
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
      const obs = maskBit(buf, o, cap, p);
      advance(anchor, fromFloat16(zCodeAt(buf, o, p)), obs, codeM(buf, q), codeL(buf, q));
      since = obs ? 0 : since + 1;
    }
    meta[m + TAIL] = target + 1;
    for (let k = 0; k < 3; k++) meta[m + TAIL_ANCHOR + k] = anchor[k]!;
    ring[r + TAIL_SINCE] = since;
    const { out, view: dv, codesAt, maskAt } = newHistorySnapshot(n, since, meta[m + LAST_TS]!, [anchor[0]!, anchor[1]!, anchor[2]!]);
    for (let i = 0; i < n; i++) {
      const p = (head + i) % cap;
      dv.setUint16(HISTORY_SNAPSHOT_HEADER + 2 * i, zCodeAt(buf, o, p), true);
      if (i > 0) for (let k = 0; k < 3; k++) out[codesAt + 3 * i + k] = buf[cBase + 3 * p + k]!;
      if (maskBit(buf, o, cap, p)) out[maskAt + (i >>> 3)]! |= 1 << (i & 7);
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
    if (snap.byteLength < HISTORY_SNAPSHOT_HEADER_V1) bad('too short');
    const v1 = new DataView(snap.buffer, snap.byteOffset, snap.byteLength).getUint32(0, true) === HISTORY_SNAPSHOT_MAGIC_V1;
    const bytes = v1 ? upgradeHistorySnapshotV1(snap, this.capacity, bad) : snap;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dv.getUint32(0, true) !== HISTORY_SNAPSHOT_MAGIC) bad('bad magic');
    if (bytes.byteLength < HISTORY_SNAPSHOT_HEADER) bad('too short');
    const n = dv.getUint32(4, true);
    const codesAt = HISTORY_SNAPSHOT_HEADER + 2 * n;
    const maskAt = codesAt + 3 * n;
    if (n < 1 || bytes.byteLength !== maskAt + Math.ceil(n / 8)) bad('length mismatch');
    let since = dv.getUint32(8, true);
    const lastTs = dv.getFloat64(16, true);
    const chain = this.#chain;
    for (let k = 0; k < 3; k++) chain[k] = dv.getFloat64(24 + 8 * k, true);
    if (!Number.isFinite(lastTs) || !Number.isFinite(chain[0]!) || !(chain[1]! > 0) || !Number.isFinite(chain[1]!) || !(chain[2]! >= 0 && chain[2]! <= 3)) bad('non-finite scale or ts');
    const zAt = (i: number): number => dv.getUint16(HISTORY_SNAPSHOT_HEADER + 2 * i, true);
    const bitAt = (i: number): boolean => ((bytes[maskAt + (i >>> 3)]! >>> (i & 7)) & 1) === 1;
    const keep = Math.min(n, this.capacity);
    const skip = n - keep;
    for (let i = 1; i <= skip; i++) {
      const q = codesAt + 3 * i;
      advance(chain, fromFloat16(zAt(i)), bitAt(i), codeM(bytes, q), codeL(bytes, q));
      since = bitAt(i) ? 0 : since + 1;
    }
    const slot = this.#slotOf(series);
    // The restored history replaces all of the series' own, past segments included.
    this.#forgetPast(slot);
    this.#resize(slot, keep);
    const { buf, o, cap, cBase, meta, m } = this.#view(slot);
    meta.set(chain, m + ANCHOR);
    for (let i = 0; i < keep; i++) {
      const j = skip + i;
      putZCode(buf, o, i, zAt(j));
      const q = codesAt + 3 * j;
      if (i === 0) putCodes(buf, cBase, 0, 0);
      else {
        for (let k = 0; k < 3; k++) buf[cBase + 3 * i + k] = bytes[q + k]!;
        advance(chain, fromFloat16(zAt(j)), bitAt(j), codeM(bytes, q), codeL(bytes, q));
      }
      setMaskBit(buf, o, cap, i, bitAt(j));
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

  /** One slot's records and step buffer (its block starts at `o` of `buf`; cBase: where its residual codes start). */
  #view(slot: number): { ring: Int32Array; r: number; meta: Float64Array; m: number; buf: Uint8Array; o: number; cap: number; cBase: number } {
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    const cap = ring[r + CAP]!;
    const cls = ring[r + CLS]!;
    const block = ring[r + BLOCK]!;
    const o = this.#slab.offset(cls, block);
    return { ring, r, meta: this.#meta.page(slot), m: this.#meta.offset(slot), buf: this.#slab.page(cls, block), o, cap, cBase: o + 2 * cap };
  }

  /**
   * Moves the slot's steps into a buffer of `cap` steps. Only while the ring has not wrapped
   * (count < capacity: head is 0, the steps are at [0, count)), which is when a series grows.
   */
  #grow(slot: number, cap: number): void {
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    const was = ring[r + CAP]!;
    const count = ring[r + COUNT]!;
    const wasCls = ring[r + CLS]!;
    const wasBlock = ring[r + BLOCK]!;
    const cls = this.#classOf.get(cap)!;
    const block = this.#slab.alloc(cls, slot);
    // Looked up after the alloc: the new class's first page may have been replaced, the old class's not.
    const old = this.#slab.page(wasCls, wasBlock);
    const o = this.#slab.offset(wasCls, wasBlock);
    const next = this.#slab.page(cls, block);
    const n = this.#slab.offset(cls, block);
    next.set(old.subarray(o, o + 2 * count), n);
    next.set(old.subarray(o + 2 * was, o + 2 * was + 3 * count), n + 2 * cap);
    next.set(old.subarray(o + 5 * was, o + 5 * was + Math.ceil(count / 8)), n + 5 * cap);
    this.#slab.free(wasCls, wasBlock);
    ring[r + CAP] = cap;
    ring[r + CLS] = cls;
    ring[r + BLOCK] = block;
  }

  /** A fresh buffer for at least `steps` steps (restore: its contents are rewritten). */
  #resize(slot: number, steps: number): void {
    let cap = INITIAL_STEPS;
    while (cap < steps) cap *= 2;
    cap = Math.min(cap, this.capacity);
    if (this.#ring.page(slot)[this.#ring.offset(slot) + CAP] === cap) return;
    this.#release(slot);
    this.#assign(slot, cap);
  }

  /** Gives the slot a zeroed buffer of `cap` steps (it has none). */
  #assign(slot: number, cap: number): void {
    const cls = this.#classOf.get(cap)!;
    const block = this.#slab.alloc(cls, slot);
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    ring[r + CAP] = cap;
    ring[r + CLS] = cls;
    ring[r + BLOCK] = block;
  }

  /** Frees the slot's buffer, if any (the slab moves another slot's block into its place). */
  #release(slot: number): void {
    const ring = this.#ring.page(slot);
    const r = this.#ring.offset(slot);
    const block = ring[r + BLOCK]!;
    if (block < 0) return;
    ring[r + BLOCK] = -1;
    this.#slab.free(ring[r + CLS]!, block);
  }

  #slotOf(series: SeriesId): number {
    const known = this.#slots.get(series);
    if (known !== undefined) return known;
    const slot = this.#slots.add(series);
    this.#meta.ensure(slot);
    this.#ring.ensure(slot);
    this.#assign(slot, this.#caps[0]!);
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

function maskBit(buf: Uint8Array, o: number, cap: number, p: number): boolean {
  return ((buf[o + 5 * cap + (p >>> 3)]! >>> (p & 7)) & 1) === 1;
}

function setMaskBit(buf: Uint8Array, o: number, cap: number, p: number, on: boolean): void {
  const byte = o + 5 * cap + (p >>> 3);
  if (on) buf[byte]! |= 1 << (p & 7);
  else buf[byte]! &= ~(1 << (p & 7));
}

/** Bytes a past segment's step costs decoded: float32 z and sinceObserved, float64 mean and std, a byte of mask. */
const PAST_STEP_BYTES = 4 + 4 + 8 + 8 + 1;

/** The newest `n` steps of `w` (views, no copy). */
function newestSteps(w: SeriesWindow, n: number): SeriesWindow {
  const k = w.length - n;
  return {
    series: w.series,
    stepMs: w.stepMs,
    firstTs: w.firstTs + k * w.stepMs,
    length: n,
    z: w.z.subarray(k),
    observed: w.observed.subarray(k),
    sinceObserved: w.sinceObserved.subarray(k),
    mean: w.mean.subarray(k),
    std: w.std.subarray(k),
  };
}
