import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { applyFaults, createFaultFilter, createPointFault, hasFaults, injectFaults, parseDropFraction, parseHole, parseJitter, parseSeed } from '../../../../src/connectors/replay/faults.js';
import { mulberry32 } from '../../../../src/domain/random.js';
import type { Ingested } from '../../../../src/domain/ingested.js';
import { ConfigError } from '../../../../src/domain/errors.js';
import type { Point } from '../../../../src/domain/point.js';

const H = 3_600_000;
const T = Date.UTC(2015, 0, 10);
const points = (n: number): Point[] => Array.from({ length: n }, (_, i) => ({ series: 's', ts: T + i * H, value: i }));

describe('mulberry32', () => {
  it('is deterministic per seed, in [0, 1), and roughly uniform', () => {
    const a = mulberry32(1);
    const b = mulberry32(1);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
    expect(mulberry32(2)()).not.toBe(mulberry32(1)());
  });
});

describe('fault filter', () => {
  it('cuts the half-open hole from every series', () => {
    const keep = createFaultFilter({ hole: { start: T + 2 * H, durationMs: 3 * H } });
    expect(points(7).filter(keep).map((p) => p.value)).toEqual([0, 1, 5, 6]);
  });

  it('cuts every hole of several', () => {
    const keep = createFaultFilter({ holes: [{ start: T + H, durationMs: H }, { start: T + 4 * H, durationMs: 2 * H }] });
    expect(points(7).filter(keep).map((p) => p.value)).toEqual([0, 2, 3, 6]);
    expect(hasFaults({ holes: [{ start: T, durationMs: H }] })).toBe(true);
  });

  it('drops about the requested fraction, reproducibly', () => {
    const ps = points(10_000);
    const kept = ps.filter(createFaultFilter({ drop: 0.1, seed: 1 }));
    expect(kept.length).toBeGreaterThan(8800);
    expect(kept.length).toBeLessThan(9200);
    expect(ps.filter(createFaultFilter({ drop: 0.1, seed: 1 }))).toEqual(kept);
    expect(ps.filter(createFaultFilter({ drop: 0.1, seed: 2 }))).not.toEqual(kept);
  });

  it('applyFaults returns the same record when nothing is removed and keeps positions', () => {
    const rec: Ingested = { points: points(3), deadLetters: [], position: { topic: 't', partition: 0, offset: '4' } };
    expect(applyFaults(rec, () => true)).toBe(rec);
    const cut = applyFaults(rec, (p) => p.value !== 1);
    expect(cut.points.map((p) => p.value)).toEqual([0, 2]);
    expect(cut.position).toBe(rec.position);
  });

  it('injectFaults works as an RxJS operator with a fresh PRNG per subscription', async () => {
    const recs: Ingested[] = points(50).map((p, i) => ({ points: [p], deadLetters: [], position: { topic: 't', partition: 0, offset: String(i + 1) } }));
    const op = injectFaults({ drop: 0.5, seed: 3 });
    const run = () => lastValueFrom(from(recs).pipe(op, toArray()));
    const [a, b] = [await run(), await run()];
    expect(a).toHaveLength(50);
    expect(a.flatMap((r) => r.points)).toEqual(b.flatMap((r) => r.points));
    expect(a.flatMap((r) => r.points).length).toBeLessThan(40);
  });

  it('jitter moves each kept point by at most ±jitter, reproducibly, and leaves the drops as they were', () => {
    const ps = points(2_000);
    const J = 120_000;
    const run = (seed: number): Point[] => {
      const f = createPointFault({ drop: 0.1, jitterMs: J, seed });
      return ps.flatMap((p) => {
        const r = f(p);
        return r === false ? [] : [r === true ? p : r];
      });
    };
    const a = run(1);
    expect(run(1)).toEqual(a);
    expect(run(2)).not.toEqual(a);
    // The same points survive as without jitter (its PRNG is its own).
    expect(a.map((p) => p.value)).toEqual(ps.filter(createFaultFilter({ drop: 0.1, seed: 1 })).map((p) => p.value));
    const offsets = a.map((p) => p.ts - (T + (p.value as number) * H));
    expect(offsets.every((o) => Number.isInteger(o) && Math.abs(o) <= J)).toBe(true);
    // Roughly uniform over [−J, J]: both signs, spread across the range.
    expect(offsets.filter((o) => o > J / 2).length).toBeGreaterThan(a.length / 5);
    expect(offsets.filter((o) => o < -J / 2).length).toBeGreaterThan(a.length / 5);
  });

  it('applyFaults replaces a moved point and keeps the rest in order', () => {
    const rec: Ingested = { points: points(3), deadLetters: [], position: { topic: 't', partition: 0, offset: '4' } };
    const moved = applyFaults(rec, (p) => (p.value === 1 ? { ...p, ts: p.ts + 5 } : p.value !== 2));
    expect(moved.points.map((p) => [p.value, p.ts - T])).toEqual([
      [0, 0],
      [1, H + 5],
    ]);
  });

  it('parseJitter takes a positive duration and says how to fix anything else', () => {
    expect(parseJitter('2m')).toBe(120_000);
    for (const bad of ['', '0s', '-2m', 'soon']) expect(() => parseJitter(bad)).toThrow(ConfigError);
  });

  it('hasFaults', () => {
    expect(hasFaults({ jitterMs: 1000 })).toBe(true);
    expect(hasFaults(undefined)).toBe(false);
    expect(hasFaults({ seed: 3 })).toBe(false);
    expect(hasFaults({ drop: 0.1 })).toBe(true);
  });
});

describe('flag parsers', () => {
  it('parses --hole start/duration and start/end', () => {
    expect(parseHole('2015-01-10T00:00:00Z/12h')).toEqual({ start: T, durationMs: 12 * H });
    expect(parseHole('2015-01-10T00:00:00/30m')).toEqual({ start: T, durationMs: 30 * 60_000 });
    expect(parseHole('2015/01/10 00:00:00/1d')).toEqual({ start: T, durationMs: 24 * H });
    expect(parseHole('2015-01-10T00:00:00Z/2015-01-10T06:00:00Z')).toEqual({ start: T, durationMs: 6 * H });
  });

  it.each(['', '12h', '2015-01-10T00:00:00Z', '2015-01-10T00:00:00Z/soon', 'tomorrow/1h', '2015-01-10T06:00:00Z/2015-01-10T00:00:00Z'])(
    'rejects --hole %j with a fix-it ConfigError',
    (text) => {
      expect(() => parseHole(text)).toThrow(ConfigError);
      expect(() => parseHole(text)).toThrow(/e\.g\. --hole 2015-01-10T00:00:00Z\/12h/);
    },
  );

  it('parses --drop and --seed', () => {
    expect(parseDropFraction('0.1')).toBe(0.1);
    for (const bad of ['', '1', '-0.1', 'ten', 'NaN']) expect(() => parseDropFraction(bad)).toThrow(/fraction in \[0, 1\)/);
    expect(parseSeed('42')).toBe(42);
    expect(() => parseSeed('1.5')).toThrow(ConfigError);
  });
});
