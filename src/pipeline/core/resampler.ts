import type { RecordSource } from '../../domain/deadLetter.js';
import { ConfigError, StreamcastError } from '../../domain/errors.js';
import type { EpochMs, Point, SeriesId } from '../../domain/point.js';
import { SlotPages } from '../../domain/seriesSlots.js';
import type { ClosedStep } from '../../domain/step.js';
import type { Bucket, ResamplerSnapshot } from '../../state/coreSnapshots.js';
import { AGGREGATES, ALIGNS, type Aggregate, type Align, DEFAULT_JUMP_CONFIRM, MAX_JUMP_CONFIRM } from '../../spec/pipelineSpec.js';

export type { Aggregate, ResamplerSnapshot };
export type RejectReason = 'late' | 'future_timestamp';

export interface ResamplerOptions {
  /** Width of one grid step in ms; buckets are [floor(ts/step)*step, +step) from the epoch (see `align`). */
  readonly stepMs: number;
  readonly aggregate: Aggregate;
  /**
   * `start` (default): step k aggregates [k·step, (k+1)·step). `centre`: [k·step − ⌊step/2⌋,
   * k·step + ⌈step/2⌉), i.e. each point goes to its nearest grid ts.
   */
  readonly align?: Align;
  /** How long after a bucket's end (in event time) it stays open for out-of-order records. */
  readonly latenessMs: number;
  /** Close a series' open buckets once no record of it has arrived for this long (clock time). */
  readonly idleCloseMs: number;
  /** A record more than this far from its series' watermark (either way) needs confirming. */
  readonly maxJumpMs: number;
  /**
   * How many agreeing points (the first included) confirm a jump of more than maxJumpMs ahead of
   * the watermark, or re-base a series onto points that far behind it. Default DEFAULT_JUMP_CONFIRM.
   */
  readonly jumpConfirm?: number;
}

export interface Rejected {
  readonly point: Point;
  readonly reason: RejectReason;
  /** The input record that carried the point, as `push` was given it (the dead letter's source). */
  readonly source: RecordSource | undefined;
}

/** A series moved back onto its points' clock (see Resampler, re-base). */
export interface Rebased {
  readonly series: SeriesId;
  /** The watermark before: the skewed clock's. */
  readonly from: EpochMs;
  /** The earliest point the series was re-based onto. */
  readonly to: EpochMs;
}

export interface PushResult {
  readonly steps: ClosedStep[];
  readonly rejected: Rejected[];
  readonly rebased: Rebased | undefined;
}


// Per-series state, one Float64 record per slot (no object per series):
const WATERMARK = 0; // max event ts accepted
const FRONTIER = 1; // every bucket ending at or before this is closed; records with ts < frontier are late
const LAST_ARRIVAL = 2; // clock time the series' last record (of any fate) arrived
const STRIDE = 3;
// A series' open buckets: one flat array of numbers, BUCKET fields a bucket, sorted by start (short:
// about lateness/step + 1 buckets). Rebuilt at its exact size when a bucket opens or closes.
const START = 0;
const N = 1;
const SUM = 2;
const MAX = 3;
const MIN = 4;
const LAST = 5;
const LAST_TS = 6;
const BUCKET = 7;
const NO_BUCKETS: readonly number[] = Object.freeze([]);

/** A point more than maxJump from its series' watermark, waiting for others to agree with it. */
interface HeldPoint {
  readonly point: Point;
  readonly arrival: number;
  /** Where it came from: kept with it, so that its dead letter names its own record. */
  readonly source: RecordSource | undefined;
}

/** A series' held points: all on one side of its watermark (1 ahead, -1 behind), in arrival order. */
interface Held {
  readonly dir: 1 | -1;
  readonly points: HeldPoint[];
}


/** Version 1 (one far-future suspect, no source), still restored. */
interface ResamplerSnapshotV1 {
  readonly v: 1;
  readonly watermark: number;
  readonly frontier: number;
  readonly lastArrival: number;
  readonly buckets: ReadonlyArray<Readonly<Bucket>>;
  readonly suspect: { readonly point: Point; readonly arrival: number } | null;
}

/**
 * Event-time resampler: turns the points of many series into closed steps of a per-series grid.
 *
 * - Watermark per series = the greatest event ts accepted. A bucket closes once
 *   `watermark − lateness ≥ bucket end`, or when its series has been idle (by arrival time) for
 *   `idleCloseMs`, or on `flush`. Only buckets that received a record are emitted; the imputer
 *   fills the holes.
 * - A record whose bucket is already closed is rejected as `late` (the caller routes and counts
 *   it). Hence disorder within `lateness` yields exactly the steps that sorted input yields.
 * - Clock skew. A point more than `maxJumpMs` from the watermark, either way, is held without
 *   moving anything: one bad clock on a producer must not close (and so make late) a day of
 *   buckets, nor silence a series. Held points confirm each other when `jumpConfirm` of them in
 *   a row (the series' next points) lie on the same side, within `maxJumpMs` of the first held:
 *   - ahead: the jump is real (e.g. the series came back after an outage); they are accepted in
 *     ts order;
 *   - behind: the series' points keep arriving "late" by a consistent large offset, so the
 *     watermark is what was skewed (a clock that ran ahead, then was fixed): the series is
 *     re-based onto them. Its open buckets close (they held accepted points), its watermark
 *     and frontier restart from the held points as for a new series, the points are accepted,
 *     and the next step it emits carries `rebase: true` (the imputer then restarts the series,
 *     whose next step says `reset`). `PushResult.rebased` reports it.
 *   A point on the watermark's side of the held ones (an ordinary one), or one that disagrees
 *   with them, rejects them: `future_timestamp` ahead, `late` behind. The first record of a
 *   series is always accepted. Each held point keeps the `source` it came with.
 * - Non-finite values are treated like explicit nulls (the codecs reject them; this is defence).
 * - Alignment (`align`). A series that sends one point per step on the grid with a jittery
 *   clock (12:04:58, 12:10:03, …) straddles `start` buckets: with ±2 minutes of jitter on
 *   5-minute steps half its points land a step early, so about a quarter of the steps get no
 *   point (imputed downstream) and a quarter get two (averaged). `centre` moves every bucket back
 *   by half a step, so each point lands in the step nearest it. All the rules above then apply
 *   to ts + ⌊step/2⌋ (the shift), which keeps them exact: disorder within lateness still gives
 *   the steps of sorted input. Fixed per pipeline, not learnt per series, for that reason.
 *
 * Pure: no clock, no RxJS; the caller passes arrival times and decides when to `closeIdle`.
 *
 * This file is over 400 lines because one per-series state machine (open buckets, lateness, jump confirmation,
 * re-base, idle close, snapshot) walks one slot layout; each part needs the others' invariants.
 */
export class Resampler {
  private readonly opts: ResamplerOptions;
  /** Slot by series, in first-seen order (the order closeIdle and flush visit series in). */
  readonly #slots = new Map<SeriesId, number>();
  readonly #free: number[] = [];
  readonly #state = new SlotPages(STRIDE, (n) => new Float64Array(n));
  /** Open buckets by slot (see BUCKET). */
  readonly #buckets: (readonly number[])[] = [];
  /** Held points by slot: few series have any. */
  readonly #held = new Map<number, Held>();
  /** Slots re-based whose next emitted step must say so. */
  readonly #rebasing = new Set<number>();
  private readonly jumpConfirm: number;
  /** Added to a point's ts before it is bucketed (0 under `start`). */
  private readonly shift: number;
  private pendingRejected: Rejected[] = [];

  constructor(opts: ResamplerOptions) {
    validate(opts);
    this.opts = { ...opts };
    this.shift = opts.align === 'centre' ? Math.floor(opts.stepMs / 2) : 0;
    this.jumpConfirm = opts.jumpConfirm ?? DEFAULT_JUMP_CONFIRM;
  }

  get size(): number {
    return this.#slots.size;
  }

  /**
   * `source` is the input record that carried the point; it rides along untouched (kept with a
   * held point, handed back with a rejection), so pass the record's own object, not a copy.
   */
  push(point: Point, arrivalTime: number, source?: RecordSource): PushResult {
    const steps: ClosedStep[] = [];
    const rejected: Rejected[] = [];
    const slot = this.#slots.get(point.series);
    if (slot === undefined) {
      const fresh = this.#add(point.series, point.ts, this.gridFloor(point.ts + this.shift - this.opts.latenessMs), arrivalTime);
      this.accept(fresh, point, steps);
      return { steps, rejected, rebased: undefined };
    }
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    st[o + LAST_ARRIVAL] = Math.max(st[o + LAST_ARRIVAL]!, arrivalTime);

    const watermark = st[o + WATERMARK]!;
    const held = this.#held.get(slot);
    const dir = point.ts > watermark + this.opts.maxJumpMs ? 1 : point.ts < watermark - this.opts.maxJumpMs ? -1 : 0;
    if (dir === 0) {
      if (held !== undefined) this.rejectHeld(slot, held, rejected);
      this.acceptOrReject(slot, point, source, steps, rejected);
      return { steps, rejected, rebased: undefined };
    }
    const h: HeldPoint = { point, arrival: arrivalTime, source };
    if (held === undefined || held.dir !== dir || Math.abs(point.ts - held.points[0]!.point.ts) > this.opts.maxJumpMs) {
      // Held points that this one disagrees with confirm nothing; it starts a group of its own.
      if (held !== undefined) this.rejectHeld(slot, held, rejected);
      if (this.jumpConfirm > 1) {
        this.#held.set(slot, { dir, points: [h] });
        return { steps, rejected, rebased: undefined };
      }
      return this.confirm(slot, dir, [h], steps, rejected);
    }
    held.points.push(h);
    if (held.points.length < this.jumpConfirm) return { steps, rejected, rebased: undefined };
    this.#held.delete(slot);
    return this.confirm(slot, dir, held.points, steps, rejected);
  }

  /** `jumpConfirm` agreeing points: accept them in ts order, after a re-base when behind. */
  private confirm(slot: number, dir: 1 | -1, points: HeldPoint[], steps: ClosedStep[], rejected: Rejected[]): PushResult {
    // In ts order, so that an earlier one is not made late by a later one.
    const sorted = points.length === 1 ? points : [...points].sort((a, b) => a.point.ts - b.point.ts);
    const first = sorted[0]!.point;
    let rebased: Rebased | undefined;
    if (dir === -1) {
      const st = this.#state.page(slot);
      const o = this.#state.offset(slot);
      rebased = { series: first.series, from: st[o + WATERMARK]!, to: first.ts };
      this.closeAll(first.series, slot, steps);
      st[o + WATERMARK] = first.ts;
      st[o + FRONTIER] = this.gridFloor(first.ts + this.shift - this.opts.latenessMs);
      this.#rebasing.add(slot);
    }
    for (const h of sorted) this.acceptOrReject(slot, h.point, h.source, steps, rejected);
    return { steps, rejected, rebased };
  }

  private rejectHeld(slot: number, held: Held, out: Rejected[]): void {
    const reason = held.dir === 1 ? 'future_timestamp' : 'late';
    for (const h of held.points) out.push({ point: h.point, reason, source: h.source });
    this.#held.delete(slot);
  }

  /** Closes the open buckets of every series whose last record arrived ≥ idleCloseMs before `now`. */
  closeIdle(now: number): ClosedStep[] {
    const out: ClosedStep[] = [];
    for (const [series, slot] of this.#slots) {
      if (this.#buckets[slot]!.length > 0 && now - this.#state.page(slot)[this.#state.offset(slot) + LAST_ARRIVAL]! >= this.opts.idleCloseMs) {
        this.closeAll(series, slot, out);
      }
    }
    return out;
  }

  /**
   * End of a finite input: closes every open bucket (per series in ts order). Unconfirmed held
   * points are rejected (`future_timestamp` ahead, `late` behind); collect them with `flushRejected()`.
   */
  flush(): ClosedStep[] {
    const out: ClosedStep[] = [];
    for (const [series, slot] of this.#slots) {
      this.closeAll(series, slot, out);
      const held = this.#held.get(slot);
      if (held !== undefined) this.rejectHeld(slot, held, this.pendingRejected);
    }
    return out;
  }

  /** The points `flush` had to reject (unconfirmed held points); drains the list. */
  flushRejected(): Rejected[] {
    const out = this.pendingRejected;
    this.pendingRejected = [];
    return out;
  }

  snapshot(series: SeriesId): ResamplerSnapshot | undefined {
    const slot = this.#slots.get(series);
    if (slot === undefined) return undefined;
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    const bs = this.#buckets[slot]!;
    const buckets: Bucket[] = [];
    for (let i = 0; i < bs.length; i += BUCKET) {
      buckets.push({ start: bs[i + START]!, n: bs[i + N]!, sum: bs[i + SUM]!, max: bs[i + MAX]!, min: bs[i + MIN]!, last: bs[i + LAST]!, lastTs: bs[i + LAST_TS]! });
    }
    const held = this.#held.get(slot);
    return {
      v: 2,
      watermark: st[o + WATERMARK]!,
      frontier: st[o + FRONTIER]!,
      lastArrival: st[o + LAST_ARRIVAL]!,
      buckets,
      held:
        held === undefined
          ? null
          : {
              dir: held.dir,
              points: held.points.map((h) => ({ point: { ...h.point }, arrival: h.arrival, ...(h.source !== undefined ? { source: { ...h.source } } : {}) })),
            },
      ...(this.#rebasing.has(slot) ? { rebase: true as const } : {}),
    };
  }

  /** Restores a series from `snapshot` output (e.g. read back from the state changelog). */
  restore(series: SeriesId, snap: unknown): void {
    const s = parseSnapshot(snap);
    const slot = this.#slots.get(series) ?? this.#add(series, 0, 0, 0);
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    st[o + WATERMARK] = s.watermark;
    st[o + FRONTIER] = s.frontier;
    st[o + LAST_ARRIVAL] = s.lastArrival;
    const bs: number[] = [];
    for (const b of [...s.buckets].sort((x, y) => x.start - y.start)) bs.push(b.start, b.n, b.sum, b.max, b.min, b.last, b.lastTs);
    this.#buckets[slot] = bs.length === 0 ? NO_BUCKETS : bs;
    if (s.held === null) this.#held.delete(slot);
    else this.#held.set(slot, { dir: s.held.dir, points: s.held.points.map((h) => ({ point: { ...h.point }, arrival: h.arrival, source: h.source })) });
    if (s.rebase === true) this.#rebasing.add(slot);
    else this.#rebasing.delete(slot);
  }

  /** Forgets a series (e.g. its partition was revoked after its snapshot was written). */
  drop(series: SeriesId): void {
    const slot = this.#slots.get(series);
    if (slot === undefined) return;
    this.#slots.delete(series);
    this.#buckets[slot] = NO_BUCKETS;
    this.#held.delete(slot);
    this.#rebasing.delete(slot);
    this.#free.push(slot);
  }

  #add(series: SeriesId, watermark: EpochMs, frontier: EpochMs, lastArrival: number): number {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#buckets.length;
    this.#slots.set(series, slot);
    this.#state.ensure(slot);
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    st[o + WATERMARK] = watermark;
    st[o + FRONTIER] = frontier;
    st[o + LAST_ARRIVAL] = lastArrival;
    this.#buckets[slot] = NO_BUCKETS;
    return slot;
  }

  private acceptOrReject(slot: number, point: Point, source: RecordSource | undefined, steps: ClosedStep[], rejected: Rejected[]): void {
    if (point.ts + this.shift < this.#state.page(slot)[this.#state.offset(slot) + FRONTIER]!) {
      rejected.push({ point, reason: 'late', source });
      return;
    }
    this.accept(slot, point, steps);
  }

  private accept(slot: number, point: Point, steps: ClosedStep[]): void {
    const start = this.gridFloor(point.ts + this.shift);
    const i = this.bucketFor(slot, start);
    const b = this.#buckets[slot] as number[];
    const v = point.value;
    if (v !== null && Number.isFinite(v)) {
      if (b[i + N] === 0) {
        b[i + SUM] = v;
        b[i + MAX] = v;
        b[i + MIN] = v;
        b[i + LAST] = v;
        b[i + LAST_TS] = point.ts;
      } else {
        b[i + SUM]! += v;
        if (v > b[i + MAX]!) b[i + MAX] = v;
        if (v < b[i + MIN]!) b[i + MIN] = v;
        if (point.ts >= b[i + LAST_TS]!) {
          b[i + LAST] = v;
          b[i + LAST_TS] = point.ts;
        }
      }
      b[i + N]! += 1;
    }
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    if (point.ts > st[o + WATERMARK]!) st[o + WATERMARK] = point.ts;
    const closeBefore = this.gridFloor(st[o + WATERMARK]! + this.shift - this.opts.latenessMs);
    if (closeBefore > st[o + FRONTIER]!) {
      this.closeUpTo(point.series, slot, closeBefore, steps);
    }
  }

  /** Closes the buckets ending at or before `end` and moves the frontier there. */
  private closeUpTo(series: SeriesId, slot: number, end: EpochMs, out: ClosedStep[]): void {
    const bs = this.#buckets[slot]!;
    let i = 0;
    while (i < bs.length && bs[i + START]! + this.opts.stepMs <= end) {
      // The first step after a re-base says so (see push); the check costs nothing while none is pending.
      out.push(this.#rebasing.size > 0 && this.#rebasing.delete(slot) ? { ...this.toStep(series, bs, i), rebase: true } : this.toStep(series, bs, i));
      i += BUCKET;
    }
    if (i > 0) this.#buckets[slot] = i === bs.length ? NO_BUCKETS : bs.slice(i);
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    if (end > st[o + FRONTIER]!) st[o + FRONTIER] = end;
  }

  private closeAll(series: SeriesId, slot: number, out: ClosedStep[]): void {
    const bs = this.#buckets[slot]!;
    if (bs.length === 0) return;
    this.closeUpTo(series, slot, bs[bs.length - BUCKET + START]! + this.opts.stepMs, out);
  }

  /** Index in the slot's bucket array of the bucket starting at `start`, opened when missing. */
  private bucketFor(slot: number, start: EpochMs): number {
    const bs = this.#buckets[slot]!;
    // Records mostly land in the newest bucket or a new one after it: scan from the end.
    let i = bs.length - BUCKET;
    while (i >= 0 && bs[i + START]! > start) i -= BUCKET;
    if (i >= 0 && bs[i + START] === start) return i;
    const at = i + BUCKET;
    // A new array of the exact size (a growing one would keep up to twice that as slack).
    const next = new Array<number>(bs.length + BUCKET);
    for (let k = 0; k < at; k++) next[k] = bs[k]!;
    next[at + START] = start;
    next[at + N] = 0;
    next[at + SUM] = 0;
    next[at + MAX] = 0;
    next[at + MIN] = 0;
    next[at + LAST] = 0;
    next[at + LAST_TS] = start;
    for (let k = at; k < bs.length; k++) next[k + BUCKET] = bs[k]!;
    this.#buckets[slot] = next;
    return at;
  }

  private toStep(series: SeriesId, b: readonly number[], i: number): ClosedStep {
    const n = b[i + N]!;
    const start = b[i + START]!;
    if (n === 0) return { series, ts: start, value: null, count: 0 };
    let value: number;
    switch (this.opts.aggregate) {
      case 'mean':
        value = b[i + SUM]! / n;
        break;
      case 'sum':
        value = b[i + SUM]!;
        break;
      case 'last':
        value = b[i + LAST]!;
        break;
      case 'max':
        value = b[i + MAX]!;
        break;
      case 'min':
        value = b[i + MIN]!;
        break;
    }
    // Only a sum overflowing to ±Infinity gets here; an honest "missing" beats a poisoned model.
    if (!Number.isFinite(value)) return { series, ts: start, value: null, count: 0 };
    return { series, ts: start, value, count: n };
  }

  private gridFloor(ts: number): number {
    return Math.floor(ts / this.opts.stepMs) * this.opts.stepMs;
  }
}

function validate(o: ResamplerOptions): void {
  const fail = (msg: string): never => {
    throw new ConfigError(`window: ${msg}`);
  };
  if (!Number.isInteger(o.stepMs) || o.stepMs <= 0) fail(`step must be a positive whole number of ms (got ${o.stepMs})`);
  if (!AGGREGATES.includes(o.aggregate)) fail(`aggregate must be one of ${AGGREGATES.join(', ')} (got ${String(o.aggregate)})`);
  if (o.align !== undefined && !ALIGNS.includes(o.align)) fail(`align must be one of ${ALIGNS.join(', ')} (got ${String(o.align)})`);
  if (!Number.isFinite(o.latenessMs) || o.latenessMs < 0) fail(`lateness must be ≥ 0 ms (got ${o.latenessMs})`);
  if (!Number.isFinite(o.idleCloseMs) || o.idleCloseMs <= 0) fail(`idleClose must be > 0 ms (got ${o.idleCloseMs})`);
  if (!Number.isFinite(o.maxJumpMs) || o.maxJumpMs < o.stepMs) {
    fail(`maxJump must be at least one step (${o.stepMs} ms), else every new bucket looks like a jump (got ${o.maxJumpMs})`);
  }
  const n = o.jumpConfirm ?? DEFAULT_JUMP_CONFIRM;
  if (!Number.isInteger(n) || n < 2 || n > MAX_JUMP_CONFIRM) {
    fail(`jumpConfirm must be a whole number from 2 to ${MAX_JUMP_CONFIRM} (got ${n}): a jump its own point confirms guards nothing`);
  }
}

function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function parseSnapshot(x: unknown): ResamplerSnapshot {
  const bad = (what: string): never => {
    // Operator action: the stored state is from an incompatible version or corrupt; drop the
    // series' changelog entry and let it rebuild from new points.
    throw new StreamcastError('fatal', `resampler snapshot is invalid: ${what}`);
  };
  if (typeof x !== 'object' || x === null) return bad('not an object');
  const o = x as Record<string, unknown>;
  if (o['v'] !== 1 && o['v'] !== 2) bad(`unknown version ${String(o['v'])}`);
  if (!isNum(o['watermark']) || !isNum(o['frontier']) || !isNum(o['lastArrival'])) bad('watermark/frontier/lastArrival');
  if (!Array.isArray(o['buckets'])) return bad('buckets');
  for (const b of o['buckets'] as unknown[]) {
    const r = b as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object') bad('bucket');
    const keys = ['start', 'n', 'sum', 'max', 'min', 'last', 'lastTs'] as const;
    for (const k of keys) if (!isNum(r![k])) bad(`bucket.${k}`);
  }
  const heldPoint = (h: unknown, what: string): void => {
    const r = h as Record<string, unknown> | null;
    if (typeof r !== 'object' || r === null || !isNum(r['arrival']) || typeof r['point'] !== 'object' || r['point'] === null) bad(what);
    const p = r!['point'] as Record<string, unknown>;
    if (typeof p['series'] !== 'string' || !isNum(p['ts']) || !(p['value'] === null || isNum(p['value']))) bad(`${what}.point`);
    const src = r!['source'] as Record<string, unknown> | undefined;
    if (src !== undefined) {
      const ok = typeof src === 'object' && src !== null && typeof src['topic'] === 'string' && isNum(src['partition']) && typeof src['offset'] === 'string' && (src['key'] === null || typeof src['key'] === 'string');
      if (!ok) bad(`${what}.source`);
    }
  };
  if (o['v'] === 1) {
    const v1 = x as ResamplerSnapshotV1;
    if (v1.suspect !== null) heldPoint(v1.suspect, 'suspect');
    const { suspect, ...rest } = v1;
    return { ...rest, v: 2, held: suspect === null ? null : { dir: 1, points: [suspect] } };
  }
  const held = o['held'] as Record<string, unknown> | null;
  if (held !== null) {
    if (typeof held !== 'object' || (held['dir'] !== 1 && held['dir'] !== -1) || !Array.isArray(held['points']) || held['points'].length === 0) bad('held');
    for (const h of held!['points'] as unknown[]) heldPoint(h, 'held.points[]');
  }
  if (o['rebase'] !== undefined && o['rebase'] !== true) bad('rebase');
  return x as ResamplerSnapshot;
}
