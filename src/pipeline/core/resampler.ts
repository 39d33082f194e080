import { ConfigError, StreamcastError } from '../../domain/errors.js';
import type { EpochMs, Point, SeriesId } from '../../domain/point.js';
import type { ClosedStep } from '../../domain/step.js';

export type Aggregate = 'mean' | 'last' | 'sum' | 'max' | 'min';
export type RejectReason = 'late' | 'future_timestamp';

export interface ResamplerOptions {
  /** Width of one grid step in ms; buckets are [floor(ts/step)*step, +step) from the epoch. */
  readonly stepMs: number;
  readonly aggregate: Aggregate;
  /** How long after a bucket's end (in event time) it stays open for out-of-order records. */
  readonly latenessMs: number;
  /** Close a series' open buckets once no record of it has arrived for this long (clock time). */
  readonly idleCloseMs: number;
  /** A record more than this far past its series' watermark needs a second record to confirm it. */
  readonly maxJumpMs: number;
}

export interface Rejected {
  readonly point: Point;
  readonly reason: RejectReason;
}

export interface PushResult {
  readonly steps: ClosedStep[];
  readonly rejected: Rejected[];
}

/** One open bucket's running aggregate; plain numbers so that snapshots are JSON-safe. */
interface Bucket {
  start: EpochMs;
  /** Non-null values aggregated. */
  n: number;
  sum: number;
  max: number;
  min: number;
  last: number;
  /** Event time of `last`: `last` is the value with the greatest ts (ties: latest arrival). */
  lastTs: EpochMs;
}

interface SeriesState {
  /** Max event ts accepted. */
  watermark: EpochMs;
  /** Every bucket ending at or before this is closed; records with ts < frontier are late. */
  frontier: EpochMs;
  /** Clock time the series' last record (of any fate) arrived. */
  lastArrival: number;
  /** Open buckets, sorted by start. Short: about lateness/step + 1 entries. */
  buckets: Bucket[];
  /** A far-future record waiting for a second record to confirm the jump. */
  suspect: { point: Point; arrival: number } | undefined;
}

/** The JSON-safe per-series state that `snapshot` returns and `restore` accepts. */
export interface ResamplerSnapshot {
  readonly v: 1;
  readonly watermark: number;
  readonly frontier: number;
  readonly lastArrival: number;
  readonly buckets: ReadonlyArray<Readonly<Bucket>>;
  readonly suspect: { readonly point: Point; readonly arrival: number } | null;
}

const AGGREGATES: readonly Aggregate[] = ['mean', 'last', 'sum', 'max', 'min'];

/**
 * Event-time resampler: turns the points of many series into closed steps of a per-series grid.
 *
 * - Watermark per series = the greatest event ts accepted. A bucket closes once
 *   `watermark − lateness ≥ bucket end`, or when its series has been idle (by arrival time) for
 *   `idleCloseMs`, or on `flush`. Only buckets that received a record are emitted; the imputer
 *   fills the holes.
 * - A record whose bucket is already closed is rejected as `late` (the caller routes and counts
 *   it). Hence disorder within `lateness` yields exactly the steps that sorted input yields.
 * - A record more than `maxJumpMs` past the watermark is held as a suspect without moving the
 *   watermark: one bad clock on a producer must not close (and so make late) a day of buckets.
 *   If the series' next record is also far ahead and within `maxJumpMs` of the suspect, the jump
 *   is real (e.g. the series came back after an outage) and both are accepted; otherwise the
 *   suspect is rejected as `future_timestamp`. The first record of a series is always accepted.
 * - Non-finite values are treated like explicit nulls (the codecs reject them; this is defence).
 *
 * Pure: no clock, no RxJS; the caller passes arrival times and decides when to `closeIdle`.
 */
export class Resampler {
  private readonly opts: ResamplerOptions;
  private readonly states = new Map<SeriesId, SeriesState>();
  private pendingRejected: Rejected[] = [];

  constructor(opts: ResamplerOptions) {
    validate(opts);
    this.opts = { ...opts };
  }

  get size(): number {
    return this.states.size;
  }

  push(point: Point, arrivalTime: number): PushResult {
    const steps: ClosedStep[] = [];
    const rejected: Rejected[] = [];
    const st = this.states.get(point.series);
    if (st === undefined) {
      const frontier = this.gridFloor(point.ts - this.opts.latenessMs);
      const fresh: SeriesState = {
        watermark: point.ts,
        frontier,
        lastArrival: arrivalTime,
        buckets: [],
        suspect: undefined,
      };
      this.states.set(point.series, fresh);
      this.accept(fresh, point, steps);
      return { steps, rejected };
    }
    st.lastArrival = Math.max(st.lastArrival, arrivalTime);

    if (point.ts > st.watermark + this.opts.maxJumpMs) {
      const suspect = st.suspect;
      if (suspect === undefined) {
        st.suspect = { point, arrival: arrivalTime };
      } else if (Math.abs(point.ts - suspect.point.ts) <= this.opts.maxJumpMs) {
        // Confirmed: accept both in ts order so that the earlier one is not made late by the later.
        st.suspect = undefined;
        const [a, b] = suspect.point.ts <= point.ts ? [suspect.point, point] : [point, suspect.point];
        this.acceptOrReject(st, a, steps, rejected);
        this.acceptOrReject(st, b, steps, rejected);
      } else {
        // Two far-future records that disagree with each other confirm nothing; keep the newer.
        rejected.push({ point: suspect.point, reason: 'future_timestamp' });
        st.suspect = { point, arrival: arrivalTime };
      }
      return { steps, rejected };
    }

    if (st.suspect !== undefined) {
      rejected.push({ point: st.suspect.point, reason: 'future_timestamp' });
      st.suspect = undefined;
    }
    this.acceptOrReject(st, point, steps, rejected);
    return { steps, rejected };
  }

  /** Closes the open buckets of every series whose last record arrived ≥ idleCloseMs before `now`. */
  closeIdle(now: number): ClosedStep[] {
    const out: ClosedStep[] = [];
    for (const [series, st] of this.states) {
      if (st.buckets.length > 0 && now - st.lastArrival >= this.opts.idleCloseMs) {
        this.closeAll(series, st, out);
      }
    }
    return out;
  }

  /**
   * End of a finite input: closes every open bucket (per series in ts order). Unconfirmed
   * suspects are rejected as `future_timestamp`; collect them with `flushRejected()`.
   */
  flush(): ClosedStep[] {
    const out: ClosedStep[] = [];
    for (const [series, st] of this.states) {
      this.closeAll(series, st, out);
      if (st.suspect !== undefined) {
        this.pendingRejected.push({ point: st.suspect.point, reason: 'future_timestamp' });
        st.suspect = undefined;
      }
    }
    return out;
  }

  /** The points `flush` had to reject (unconfirmed far-future records); drains the list. */
  flushRejected(): Rejected[] {
    const out = this.pendingRejected;
    this.pendingRejected = [];
    return out;
  }

  snapshot(series: SeriesId): ResamplerSnapshot | undefined {
    const st = this.states.get(series);
    if (st === undefined) return undefined;
    return {
      v: 1,
      watermark: st.watermark,
      frontier: st.frontier,
      lastArrival: st.lastArrival,
      buckets: st.buckets.map((b) => ({ ...b })),
      suspect: st.suspect === undefined ? null : { point: { ...st.suspect.point }, arrival: st.suspect.arrival },
    };
  }

  /** Restores a series from `snapshot` output (e.g. read back from the state changelog). */
  restore(series: SeriesId, snap: unknown): void {
    const s = parseSnapshot(snap);
    this.states.set(series, {
      watermark: s.watermark,
      frontier: s.frontier,
      lastArrival: s.lastArrival,
      buckets: s.buckets.map((b) => ({ ...b })).sort((x, y) => x.start - y.start),
      suspect: s.suspect === null ? undefined : { point: { ...s.suspect.point }, arrival: s.suspect.arrival },
    });
  }

  /** Forgets a series (e.g. its partition was revoked after its snapshot was written). */
  drop(series: SeriesId): void {
    this.states.delete(series);
  }

  private acceptOrReject(st: SeriesState, point: Point, steps: ClosedStep[], rejected: Rejected[]): void {
    if (point.ts < st.frontier) {
      rejected.push({ point, reason: 'late' });
      return;
    }
    this.accept(st, point, steps);
  }

  private accept(st: SeriesState, point: Point, steps: ClosedStep[]): void {
    const start = this.gridFloor(point.ts);
    const bucket = this.bucketFor(st, start);
    const v = point.value;
    if (v !== null && Number.isFinite(v)) {
      if (bucket.n === 0) {
        bucket.sum = v;
        bucket.max = v;
        bucket.min = v;
        bucket.last = v;
        bucket.lastTs = point.ts;
      } else {
        bucket.sum += v;
        if (v > bucket.max) bucket.max = v;
        if (v < bucket.min) bucket.min = v;
        if (point.ts >= bucket.lastTs) {
          bucket.last = v;
          bucket.lastTs = point.ts;
        }
      }
      bucket.n += 1;
    }
    if (point.ts > st.watermark) st.watermark = point.ts;
    const closeBefore = this.gridFloor(st.watermark - this.opts.latenessMs);
    if (closeBefore > st.frontier) {
      this.closeUpTo(point.series, st, closeBefore, steps);
    }
  }

  /** Closes the buckets ending at or before `end` and moves the frontier there. */
  private closeUpTo(series: SeriesId, st: SeriesState, end: EpochMs, out: ClosedStep[]): void {
    let i = 0;
    while (i < st.buckets.length && st.buckets[i]!.start + this.opts.stepMs <= end) {
      out.push(this.toStep(series, st.buckets[i]!));
      i += 1;
    }
    if (i > 0) st.buckets.splice(0, i);
    if (end > st.frontier) st.frontier = end;
  }

  private closeAll(series: SeriesId, st: SeriesState, out: ClosedStep[]): void {
    const lastBucket = st.buckets[st.buckets.length - 1];
    if (lastBucket === undefined) return;
    this.closeUpTo(series, st, lastBucket.start + this.opts.stepMs, out);
  }

  private bucketFor(st: SeriesState, start: EpochMs): Bucket {
    const bs = st.buckets;
    // Records mostly land in the newest bucket or a new one after it: scan from the end.
    let i = bs.length - 1;
    while (i >= 0 && bs[i]!.start > start) i -= 1;
    const found = i >= 0 ? bs[i] : undefined;
    if (found !== undefined && found.start === start) return found;
    const fresh: Bucket = { start, n: 0, sum: 0, max: 0, min: 0, last: 0, lastTs: start };
    bs.splice(i + 1, 0, fresh);
    return fresh;
  }

  private toStep(series: SeriesId, b: Bucket): ClosedStep {
    if (b.n === 0) return { series, ts: b.start, value: null, count: 0 };
    let value: number;
    switch (this.opts.aggregate) {
      case 'mean':
        value = b.sum / b.n;
        break;
      case 'sum':
        value = b.sum;
        break;
      case 'last':
        value = b.last;
        break;
      case 'max':
        value = b.max;
        break;
      case 'min':
        value = b.min;
        break;
    }
    // Only a sum overflowing to ±Infinity gets here; an honest "missing" beats a poisoned model.
    if (!Number.isFinite(value)) return { series, ts: b.start, value: null, count: 0 };
    return { series, ts: b.start, value, count: b.n };
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
  if (!Number.isFinite(o.latenessMs) || o.latenessMs < 0) fail(`lateness must be ≥ 0 ms (got ${o.latenessMs})`);
  if (!Number.isFinite(o.idleCloseMs) || o.idleCloseMs <= 0) fail(`idleClose must be > 0 ms (got ${o.idleCloseMs})`);
  if (!Number.isFinite(o.maxJumpMs) || o.maxJumpMs < o.stepMs) {
    fail(`maxJump must be at least one step (${o.stepMs} ms), else every new bucket looks like a jump (got ${o.maxJumpMs})`);
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
  if (o['v'] !== 1) bad(`unknown version ${String(o['v'])}`);
  if (!isNum(o['watermark']) || !isNum(o['frontier']) || !isNum(o['lastArrival'])) bad('watermark/frontier/lastArrival');
  if (!Array.isArray(o['buckets'])) return bad('buckets');
  for (const b of o['buckets'] as unknown[]) {
    const r = b as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object') bad('bucket');
    const keys = ['start', 'n', 'sum', 'max', 'min', 'last', 'lastTs'] as const;
    for (const k of keys) if (!isNum(r![k])) bad(`bucket.${k}`);
  }
  const s = o['suspect'];
  if (s !== null) {
    const r = s as Record<string, unknown> | undefined;
    if (typeof r !== 'object' || !isNum(r['arrival']) || typeof r['point'] !== 'object' || r['point'] === null) bad('suspect');
    const p = (r as Record<string, unknown>)['point'] as Record<string, unknown>;
    if (typeof p['series'] !== 'string' || !isNum(p['ts']) || !(p['value'] === null || isNum(p['value']))) bad('suspect.point');
  }
  return x as ResamplerSnapshot;
}
