import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { applyFaults, createFaultFilter, hasFaults, injectFaults, parseDropFraction, parseHole, parseSeed } from '../../../../src/connectors/replay/faults.js';
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

  it('hasFaults', () => {
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
