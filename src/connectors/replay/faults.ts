import { defer, map, type MonoTypeOperatorFunction } from 'rxjs';
import { parseTimestampText } from '../../codecs/timestamp.js';
import { parseDuration } from '../../domain/duration.js';
import { ConfigError } from '../../domain/errors.js';
import type { Point } from '../../domain/point.js';
import type { Ingested } from '../../domain/ingested.js';
import { mulberry32 } from '../../domain/random.js';

/**
 * Deliberate damage to a replayed stream, to test that the pipeline copes with real-world
 * gaps: `--drop 0.1` loses 10 % of points at random (reproducible with `--seed`), and
 * `--hole 2015-01-10T00:00:00Z/12h` removes every point in [start, start + duration) from every
 * series, as an outage would, and `--jitter 2m` moves each kept point's timestamp by a uniform
 * offset in [−2m, +2m], as a sensor with a drifting clock or an irregular poll would send it.
 * Records keep their positions (so commits still advance); only their points are removed or
 * moved. Dead letters pass through untouched.
 */
export interface FaultOptions {
  /** Fraction of points to drop, in [0, 1). */
  readonly drop?: number;
  readonly hole?: TimeHole;
  /** More holes (`--hole` repeated), each cut as `hole` is. */
  readonly holes?: readonly TimeHole[];
  /** Each kept point's ts moves by a uniform offset in [−jitterMs, +jitterMs] (whole ms). */
  readonly jitterMs?: number;
  /** Seed of the drop and jitter PRNGs (default 1). */
  readonly seed?: number;
}

/** What a fault does to one point: true keeps it, false removes it, a point replaces it. */
export type PointFault = (p: Point) => Point | boolean;

/** The half-open interval [start, start + durationMs) in epoch ms. */
export interface TimeHole {
  readonly start: number;
  readonly durationMs: number;
}

/**
 * A stateful predicate: true for points to keep. The PRNG advances once per point tested, so the
 * same input order and seed always drop the same points.
 */
export function createFaultFilter(opts: FaultOptions): (p: Point) => boolean {
  const drop = opts.drop ?? 0;
  const random = mulberry32(opts.seed ?? 1);
  const holes = [...(opts.hole ? [opts.hole] : []), ...(opts.holes ?? [])];
  return (p) => {
    for (const h of holes) if (p.ts >= h.start && p.ts < h.start + h.durationMs) return false;
    return drop <= 0 || random() >= drop;
  };
}

/**
 * Every fault of `opts` as one stateful PointFault: the hole and the drop decide on the point's
 * true time, then a kept point is jittered. The jitter has its own PRNG (from the same seed), so
 * adding `--jitter` to a run leaves the points `--drop` removes as they were.
 */
export function createPointFault(opts: FaultOptions): PointFault {
  const keep = createFaultFilter(opts);
  const jitter = opts.jitterMs ?? 0;
  if (!(jitter > 0)) return keep;
  const random = mulberry32(((opts.seed ?? 1) ^ 0x9e3779b9) >>> 0);
  return (p) => {
    if (!keep(p)) return false;
    const offset = Math.round((2 * random() - 1) * jitter);
    return offset === 0 ? true : { series: p.series, ts: p.ts + offset, value: p.value };
  };
}

/** The record with the faults applied; the same object when nothing was removed or moved. */
export function applyFaults(record: Ingested, fault: PointFault): Ingested {
  const points = record.points;
  let kept: Point[] | undefined;
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as Point;
    const r = fault(p);
    if (r === true) {
      kept?.push(p);
      continue;
    }
    kept ??= points.slice(0, i);
    if (r !== false) kept.push(r);
  }
  return kept === undefined ? record : { points: kept, deadLetters: record.deadLetters, position: record.position };
}

/** An RxJS operator applying the faults; each subscription gets its own PRNG from the seed. */
export function injectFaults(opts: FaultOptions): MonoTypeOperatorFunction<Ingested> {
  return (source) =>
    defer(() => {
      const fault = createPointFault(opts);
      return source.pipe(map((r) => applyFaults(r, fault)));
    });
}

/** Whether the options damage anything at all. */
export function hasFaults(opts: FaultOptions | undefined): boolean {
  return opts !== undefined && ((opts.drop ?? 0) > 0 || (opts.hole?.durationMs ?? 0) > 0 || (opts.holes ?? []).some((h) => h.durationMs > 0) || (opts.jitterMs ?? 0) > 0);
}

/** Parses `--jitter <duration>` (e.g. `2m`): each point's timestamp moves by up to ± that much. */
export function parseJitter(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || !(ms > 0)) {
    throw new ConfigError(`--jitter ${JSON.stringify(text)} must be a positive duration, e.g. --jitter 2m to move each timestamp by up to ±2 minutes`);
  }
  return ms;
}

/**
 * Parses `--hole <start>/<duration>` (e.g. `2015-01-10T00:00:00Z/12h`) or `<start>/<end>`; a start
 * without a zone is UTC, as in the data files. Throws ConfigError saying what to write instead.
 */
export function parseHole(text: string): TimeHole {
  const example = 'e.g. --hole 2015-01-10T00:00:00Z/12h or --hole 2015-01-10T00:00:00Z/2015-01-10T12:00:00Z';
  const slash = text.lastIndexOf('/');
  // Dates may be written 2015/01/10; the duration (or end) is whatever follows the separator
  // that makes both halves parse.
  for (let cut = slash; cut > 0; cut = text.lastIndexOf('/', cut - 1)) {
    const start = parseTimestampText(text.slice(0, cut), 'utc');
    if (typeof start !== 'number') continue;
    const rest = text.slice(cut + 1);
    const duration = parseDuration(rest);
    if (duration !== undefined) return { start, durationMs: duration };
    const end = parseTimestampText(rest, 'utc');
    if (typeof end === 'number') {
      if (end <= start) throw new ConfigError(`--hole ${text}: the end must be after the start; ${example}`);
      return { start, durationMs: end - start };
    }
    throw new ConfigError(`--hole ${text}: ${JSON.stringify(rest)} is neither a duration (30m, 12h, 2d) nor a timestamp; ${example}`);
  }
  throw new ConfigError(`--hole ${JSON.stringify(text)} is not <start>/<duration>; ${example}`);
}

/** Parses `--drop <fraction>`: a number in [0, 1). */
export function parseDropFraction(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < 0 || v >= 1) {
    throw new ConfigError(`--drop ${JSON.stringify(text)} must be a fraction in [0, 1), e.g. --drop 0.1 to lose 10% of points`);
  }
  return v;
}

/** Parses `--seed <integer>`. */
export function parseSeed(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(v)) {
    throw new ConfigError(`--seed ${JSON.stringify(text)} must be an integer, e.g. --seed 1`);
  }
  return v;
}
