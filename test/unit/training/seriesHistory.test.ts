import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamcastError } from '../../../src/domain/errors.js';
import { fromFloat16, toFloat16 } from '../../../src/training/float16.js';
import { SeriesHistory, windowSteps } from '../../../src/training/seriesHistory.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';

describe('float16', () => {
  it('round-trips within half precision and saturates instead of overflowing', () => {
    fc.assert(
      fc.property(fc.double({ min: -60000, max: 60000, noNaN: true }), (x) => {
        const y = fromFloat16(toFloat16(x));
        expect(Math.abs(y - x)).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -24) * 1.0001);
      }),
    );
    expect(fromFloat16(toFloat16(1e9))).toBe(65504);
    expect(fromFloat16(toFloat16(-1e9))).toBe(-65504);
    expect(fromFloat16(toFloat16(Number.NaN))).toBe(0);
    expect(fromFloat16(toFloat16(1))).toBe(1);
  });
});

describe('SeriesHistory', () => {
  it('keeps the newest steps and reconstructs z, mask, sinceObserved, ts and scale', () => {
    const steps = seasonalSteps('a', { n: 500, level: 1e6, amplitude: 30, noise: 3, missing: (i) => i % 17 === 3 || i % 17 === 4 });
    const h = new SeriesHistory({ stepMs: HOUR, capacity: 200 });
    for (const s of steps) expect(h.append(s)).toBe(true);
    const w = h.windowOf('a')!;
    expect(w.length).toBe(200);
    const tail = steps.slice(-200);
    expect(w.firstTs).toBe(tail[0]!.ts);
    tail.forEach((s, i) => {
      expect(w.observed[i]).toBe(s.observed ? 1 : 0);
      expect(w.sinceObserved[i]).toBe(s.sinceObserved);
      expect(Math.abs(w.z[i]! - s.z)).toBeLessThanOrEqual(Math.abs(s.z) * 2 ** -11 + 1e-7);
      // The level is 1e6 with std ~20: a float16 level would be off by hundreds of std.
      expect(Math.abs(w.mean[i]! - s.scale.mean) / s.scale.std).toBeLessThan(1e-3);
      expect(Math.abs(w.std[i]! / s.scale.std - 1)).toBeLessThan(1e-3);
    });
    // Targets re-expressed in the origin's scale agree with the exact ones.
    for (let t = 0; t < 190; t += 7) {
      const exact = (tail[t + 8]!.value - tail[t]!.scale.mean) / tail[t]!.scale.std;
      const got = (w.z[t + 8]! * w.std[t + 8]! + w.mean[t + 8]! - w.mean[t]!) / w.std[t]!;
      expect(Math.abs(got - exact)).toBeLessThan(5e-3);
    }
    const back = windowSteps(w);
    expect(back[0]!.reset).toBe(true);
    expect(back[199]!.ts).toBe(tail[199]!.ts);
  });

  it('restarts on reset, on a ts jump, and ignores stale steps', () => {
    const steps = seasonalSteps('a', { n: 50 });
    const h = new SeriesHistory({ stepMs: HOUR, capacity: 100 });
    steps.slice(0, 30).forEach((s) => h.append(s));
    expect(h.append(steps[10]!)).toBe(false);
    expect(h.lengthOf('a')).toBe(30);
    h.append({ ...steps[30]!, reset: true });
    expect(h.lengthOf('a')).toBe(1);
    steps.slice(31, 40).forEach((s) => h.append(s));
    expect(h.lengthOf('a')).toBe(10);
    h.append(steps[45]!); // five steps missing and no reset flag: still not one segment
    expect(h.lengthOf('a')).toBe(1);
    expect(h.windowOf('a')!.firstTs).toBe(steps[45]!.ts);
  });

  it('snapshot/restore round-trips, also into a smaller capacity, and refuses garbage', () => {
    const steps = seasonalSteps('a', { n: 120, missing: (i) => i % 9 === 5 });
    const big = new SeriesHistory({ stepMs: HOUR, capacity: 100 });
    steps.forEach((s) => big.append(s));
    const snap = big.snapshot('a')!;
    const other = new SeriesHistory({ stepMs: HOUR, capacity: 100 });
    other.restore('a', snap);
    expect(other.windowOf('a')).toEqual(big.windowOf('a'));
    const small = new SeriesHistory({ stepMs: HOUR, capacity: 40 });
    small.restore('a', snap);
    const ws = small.windowOf('a')!;
    const wb = big.windowOf('a')!;
    expect(ws.length).toBe(40);
    expect([...ws.z]).toEqual([...wb.z.slice(-40)]);
    expect([...ws.sinceObserved]).toEqual([...wb.sinceObserved.slice(-40)]);
    // Appending continues the restored segment.
    small.append(seasonalSteps('a', { n: 121, missing: (i) => i % 9 === 5 })[120]!);
    expect(small.lengthOf('a')).toBe(40);
    const bad = snap.slice();
    bad[0] = 0;
    expect(() => small.restore('b', bad)).toThrow(StreamcastError);
    expect(() => small.restore('b', snap.slice(0, 50))).toThrow(/invalid/);
    expect(small.lengthOf('b')).toBe(0);
  });

  it('costs about 6 bytes per step: ≤ 640 bytes per series at 96 steps, measured at 100k series', () => {
    const h = new SeriesHistory({ stepMs: HOUR, capacity: 96, initialSeries: 100_000 });
    const base = seasonalSteps('x', { n: 96 });
    // The slab is preallocated per slot, so its size does not depend on how full a ring is.
    for (let s = 0; s < 100_000; s++) h.append({ ...base[0]!, series: `s${s}` });
    expect(h.size).toBe(100_000);
    const perSeries = h.bytes / 100_000;
    expect(perSeries).toBeLessThanOrEqual(640);
  });
});
