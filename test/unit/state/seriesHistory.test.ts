import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamcastError } from '../../../src/domain/errors.js';
import { mulberry32 } from '../../../src/domain/random.js';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { Normalizer } from '../../../src/pipeline/core/normalizer.js';
import { Float12, fromFloat16, toFloat16 } from '../../../src/state/float16.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import { windowSteps } from '../../../src/state/seriesWindow.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';

/**
 * One series through the real Normalizer with what hurts a scale-path encoding: holes (imputed
 * steps), level shifts, outliers (clipped z), repeated values, a near-constant start.
 */
function roughSteps(seed: number, n: number, halfLifeSteps: number): NormalizedStep[] {
  const r = mulberry32(seed);
  const g = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const norm = new Normalizer({ stepMs: HOUR, halfLifeMs: halfLifeSteps * HOUR });
  const base = [0, 1e6, 5, -300, 1e-3][seed % 5]!;
  const sd = [1, 20, 0.01, 100, 1e-5][(seed >> 2) % 5]!;
  let level = base;
  let last = base;
  let since = 0;
  const out: NormalizedStep[] = [];
  for (let i = 0; i < n; i++) {
    if (r() < 0.01) level += sd * 30 * g();
    let v = level + sd * (2 * Math.sin(i / 4) + g());
    if (r() < 0.01) v += sd * 200;
    if (r() < 0.02) v = level;
    const observed = i === 0 || r() > 0.15;
    if (observed) last = v;
    since = observed ? 0 : since + 1;
    out.push(norm.push({ series: 'a', ts: i * HOUR, value: observed ? v : last, observed, imputed: !observed, sinceObserved: since, reset: i === 0 }));
  }
  return out;
}

/** A format-1 snapshot (earlier versions: float16 z, dMean, dLogStd; newest scale exact) of `steps`. */
function v1Snapshot(steps: readonly NormalizedStep[]): Uint8Array {
  const n = steps.length;
  const out = new Uint8Array(40 + n * 6 + Math.ceil(n / 8));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x31485353, true);
  dv.setUint32(4, n, true);
  dv.setUint32(8, steps[0]!.sinceObserved, true);
  dv.setFloat64(16, steps[n - 1]!.ts, true);
  dv.setFloat64(24, steps[n - 1]!.scale.mean, true);
  dv.setFloat64(32, steps[n - 1]!.scale.std, true);
  steps.forEach((s, i) => {
    const p = i > 0 ? steps[i - 1]!.scale : s.scale;
    dv.setUint16(40 + i * 6, toFloat16(s.z), true);
    dv.setUint16(40 + i * 6 + 2, toFloat16((s.scale.mean - p.mean) / p.std), true);
    dv.setUint16(40 + i * 6 + 4, toFloat16(Math.log(s.scale.std / p.std)), true);
    if (s.observed) out[40 + n * 6 + (i >>> 3)]! |= 1 << (i & 7);
  });
  return out;
}

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

  it('decodes every half exactly (sign, subnormals, normals)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >>> 10) & 0x1f;
      const m = h & 0x3ff;
      const want = e === 0 ? sign * m * 2 ** -24 : e === 0x1f ? sign * 65504 : sign * (1 + m / 1024) * 2 ** (e - 15);
      expect(fromFloat16(h)).toBe(want);
    }
  });
});

describe('Float12', () => {
  it('encodes to the nearest code: every code round-trips, midpoints split, beyond the range saturates', () => {
    for (const [expBits, bias] of [
      [5, 16],
      [4, 11],
    ] as const) {
      const f = new Float12(expBits, bias);
      const table = Array.from({ length: 4096 }, (_, c) => f.decode(c));
      for (let c = 0; c < 4096; c++) if (c !== 0x800) expect(f.encode(table[c]!)).toBe(c);
      for (let c = 0; c < 0x7ff; c++) {
        const lo = table[c]!;
        const hi = table[c + 1]!;
        expect(hi).toBeGreaterThan(lo);
        expect(f.encode(lo + (hi - lo) * 0.49)).toBe(c);
        expect(f.encode(lo + (hi - lo) * 0.51)).toBe(c + 1);
        expect(f.encode(-(lo + (hi - lo) * 0.49))).toBe(c === 0 ? 0 : c | 0x800);
      }
      expect(f.encode(f.max * 2)).toBe(0x7ff);
      expect(f.encode(-Infinity)).toBe(0xfff);
      expect(f.encode(Number.NaN)).toBe(0);
      expect(f.encode(-0)).toBe(0);
      fc.assert(
        fc.property(fc.double({ min: -f.max, max: f.max, noNaN: true }), (x) => {
          const got = f.decode(f.encode(x));
          const nearest = table.reduce((best, v) => Math.min(best, Math.abs(v - x)), Infinity);
          expect(Math.abs(got - x)).toBeLessThanOrEqual(nearest * (1 + 1e-12));
        }),
        { numRuns: 300 },
      );
    }
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

  it('keeps the segments a restart ends, for training: the newest capacity steps across gaps', () => {
    const steps = seasonalSteps('a', { n: 120 });
    const h = new SeriesHistory({ stepMs: HOUR, capacity: 100 });
    steps.slice(0, 30).forEach((s) => h.append(s));
    // A gap longer than maxGap: the step after it says reset.
    h.append({ ...steps[40]!, reset: true });
    steps.slice(41, 60).forEach((s) => h.append(s));
    // A hole without a reset flag restarts the ring as well.
    steps.slice(65, 80).forEach((s) => h.append(s));
    expect(h.lengthOf('a')).toBe(15);
    expect(h.heldOf('a')).toBe(30 + 20 + 15);
    const segs = h.segmentsOf('a');
    expect(segs.map((w) => [(w.firstTs - steps[0]!.ts) / HOUR, w.length])).toEqual([
      [0, 30],
      [40, 20],
      [65, 15],
    ]);
    // Each past segment is what windowOf gave before its restart.
    const alone = new SeriesHistory({ stepMs: HOUR, capacity: 100 });
    steps.slice(0, 30).forEach((s) => alone.append(s));
    expect(segs[0]).toEqual(alone.windowOf('a'));
    expect(segs[2]).toEqual(h.windowOf('a'));
    // Past the capacity, the oldest steps go first.
    steps.slice(80, 120).forEach((s) => h.append(s));
    expect(h.heldOf('a')).toBe(100);
    expect(h.segmentsOf('a').map((w) => [(w.firstTs - steps[0]!.ts) / HOUR, w.length])).toEqual([
      [5, 25],
      [40, 20],
      [65, 55],
    ]);
    // A restore replaces the series' history, past segments too; a drop forgets them.
    const snap = h.snapshot('a')!;
    h.restore('a', snap);
    expect(h.segmentsOf('a')).toHaveLength(1);
    h.append({ ...steps[0]!, ts: steps[0]!.ts + 200 * HOUR, reset: true });
    h.drop('a');
    expect(h.segmentsOf('a')).toEqual([]);
    expect(h.heldOf('a')).toBe(0);
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

  it("decodes each step's scale within one code's rounding of the exact one: no accumulation along the ring or over evictions", () => {
    const bound = { mean: 0, std: 0, steadyMean: 0, steadyStd: 0, target: 0 };
    for (let seed = 0; seed < 25; seed++) {
      for (const halfLife of [3, 24, 168, 2000]) {
        // 1,500 steps through a 96-step ring: the anchor has moved on ~1,400 times.
        const steps = roughSteps(seed, 1500, halfLife);
        const h = new SeriesHistory({ stepMs: HOUR, capacity: 96 });
        steps.forEach((s) => h.append(s));
        const w = h.windowOf('a')!;
        const tail = steps.slice(-w.length);
        expect(w.firstTs).toBe(tail[0]!.ts);
        tail.forEach((s, i) => {
          expect(w.z[i]).toBe(fromFloat16(toFloat16(s.z)));
          expect(w.observed[i]).toBe(s.observed ? 1 : 0);
          expect(w.sinceObserved[i]).toBe(s.sinceObserved);
          const em = Math.abs(w.mean[i]! - s.scale.mean) / s.scale.std;
          const es = Math.abs(w.std[i]! / s.scale.std - 1);
          bound.mean = Math.max(bound.mean, em);
          bound.std = Math.max(bound.std, es);
          const p = tail[i - 1];
          if (p !== undefined && Math.abs((s.scale.mean - p.scale.mean) / p.scale.std) < 0.1 && Math.abs(Math.log(s.scale.std / p.scale.std)) < 0.1) {
            bound.steadyMean = Math.max(bound.steadyMean, em);
            bound.steadyStd = Math.max(bound.steadyStd, es);
          }
          for (let k = 1; k <= 24 && i + k < tail.length && halfLife >= 24; k++) {
            const x = tail[i + k]!;
            if (Math.abs(x.z) >= 50) continue;
            const exact = (x.value - s.scale.mean) / s.scale.std;
            const got = (x.z * w.std[i + k]! + w.mean[i + k]! - w.mean[i]!) / w.std[i]!;
            bound.target = Math.max(bound.target, Math.abs(got - exact) / Math.max(1, Math.abs(exact)));
          }
        });
      }
    }
    // Every step, including a series' first steps (drifts of 1e4 std) and clipped outliers.
    expect(bound.mean).toBeLessThan(1e-2);
    expect(bound.std).toBeLessThan(3e-2);
    // Ordinary steps (drifts below 0.1): float16-like precision.
    expect(bound.steadyMean).toBeLessThan(1e-3);
    expect(bound.steadyStd).toBeLessThan(1e-3);
    // Targets re-expressed in an origin's scale, up to 24 steps ahead (half-lives of a day or more).
    expect(bound.target).toBeLessThan(1e-2);
  });

  it("stays within about one code's rounding for hand-made scale paths that no normalizer produced", () => {
    // Random walks of mean and std with random z: the drift predictor has nothing to learn, and
    // must not make things worse than coding the drift outright, but for the odd chance agreement.
    const ratios: number[] = [];
    for (let seed = 1; seed <= 150; seed++) {
      const r = mulberry32(seed);
      const zScale = [0.5, 3, 50][seed % 3]!;
      const drift = [0.01, 1, 30][(seed >> 2) % 3]!;
      let mean = (r() - 0.5) * 1e4;
      let std = Math.exp((r() - 0.5) * 10);
      const steps: NormalizedStep[] = [];
      for (let i = 0; i < 200; i++) {
        const observed = r() > 0.2;
        if (observed) {
          mean += (r() - 0.5) * std * drift;
          std *= Math.exp((r() - 0.5) * 0.3);
        }
        const z = (r() - 0.5) * 2 * zScale;
        steps.push({ series: 'a', ts: i * HOUR, value: z * std + mean, observed, imputed: !observed, sinceObserved: 0, reset: i === 0, z, scale: { mean, std } });
      }
      const h = new SeriesHistory({ stepMs: HOUR, capacity: 64 });
      steps.forEach((s) => h.append(s));
      const w = h.windowOf('a')!;
      const tail = steps.slice(-64);
      for (let i = 1; i < 64; i++) {
        const s = tail[i]!;
        const p = tail[i - 1]!;
        // One rounding of the drift from the previous decoded mean, in the previous std.
        const residual = Math.abs(s.scale.mean - w.mean[i - 1]!) / p.scale.std;
        const err = Math.abs(w.mean[i]! - s.scale.mean) / s.scale.std;
        ratios.push(err / (2 ** -7 * residual * Math.max(1, p.scale.std / s.scale.std) + 1e-6));
        expect(Math.abs(w.std[i]! / s.scale.std - 1)).toBeLessThan(2 ** -8 * 3);
      }
    }
    ratios.sort((x, y) => x - y);
    expect(ratios[Math.floor(0.995 * ratios.length)]).toBeLessThan(1.01);
    expect(ratios[ratios.length - 1]).toBeLessThan(50);
  });

  it('snapshot format 2: restores bit-identical windows (into a smaller capacity: the identical tail), then appends as the original does', () => {
    for (const seed of [1, 2, 3, 7]) {
      const steps = roughSteps(seed, 400, 48);
      const src = new SeriesHistory({ stepMs: HOUR, capacity: 120 });
      steps.slice(0, 300).forEach((s) => src.append(s));
      const snap = src.snapshot('a')!;
      expect(new DataView(snap.buffer).getUint32(0, true)).toBe(0x32485353);
      expect(snap.byteLength).toBe(48 + 120 * 5 + 15);
      const same = new SeriesHistory({ stepMs: HOUR, capacity: 120 });
      same.restore('a', snap);
      expect(same.windowOf('a')).toEqual(src.windowOf('a'));
      const small = new SeriesHistory({ stepMs: HOUR, capacity: 50 });
      small.restore('a', snap);
      const ws = small.windowOf('a')!;
      const wb = src.windowOf('a')!;
      expect(ws.length).toBe(50);
      expect(ws.firstTs).toBe(wb.firstTs + 70 * HOUR);
      for (const k of ['z', 'observed', 'sinceObserved', 'mean', 'std'] as const) expect([...ws[k]]).toEqual([...wb[k].slice(70)]);
      // Both go on identically: the restored copy continues the original's encoder state.
      steps.slice(300).forEach((s) => {
        src.append(s);
        same.append(s);
        small.append(s);
      });
      expect(same.windowOf('a')).toEqual(src.windowOf('a'));
      const after = src.windowOf('a')!;
      const tail = small.windowOf('a')!;
      for (const k of ['z', 'mean', 'std'] as const) expect([...tail[k]]).toEqual([...after[k].slice(70)]);
    }
  });

  it('snapshots just the newest maxSteps (the checkpoint tail): restored, they equal the tail of the full window', () => {
    for (const seed of [1, 4]) {
      const steps = roughSteps(seed, 400, 48);
      const src = new SeriesHistory({ stepMs: HOUR, capacity: 300 });
      steps.slice(0, 350).forEach((s) => src.append(s));
      const full = src.snapshot('a')!;
      const tail = src.snapshot('a', 40)!;
      expect(tail.byteLength).toBe(48 + 40 * 5 + 5);
      expect(tail.byteLength).toBeLessThan(full.byteLength / 5);
      const back = new SeriesHistory({ stepMs: HOUR, capacity: 300 });
      back.restore('a', tail);
      const wt = back.windowOf('a')!;
      const wf = src.windowOf('a')!;
      expect(wt.length).toBe(40);
      expect(wt.firstTs).toBe(wf.firstTs + (wf.length - 40) * HOUR);
      for (const k of ['z', 'observed', 'sinceObserved', 'mean', 'std'] as const) expect([...wt[k]]).toEqual([...wf[k].slice(wf.length - 40)]);
      // More than it holds: the whole history.
      expect(src.snapshot('a', 10_000)).toEqual(full);
    }
  });

  it('reads format-1 snapshots of earlier versions (re-encoded), keeping the newest steps', () => {
    const steps = roughSteps(12, 150, 48).slice(30);
    const h = new SeriesHistory({ stepMs: HOUR, capacity: 100 });
    h.restore('a', v1Snapshot(steps));
    const w = h.windowOf('a')!;
    const tail = steps.slice(-100);
    expect(w.length).toBe(100);
    expect(w.firstTs).toBe(tail[0]!.ts);
    tail.forEach((s, i) => {
      expect(w.z[i]).toBe(fromFloat16(toFloat16(s.z)));
      expect(w.observed[i]).toBe(s.observed ? 1 : 0);
      expect(w.sinceObserved[i]).toBe(s.sinceObserved);
      // Format 1 carried the scale path as float16 drifts: that precision, not more.
      expect(Math.abs(w.mean[i]! - s.scale.mean) / s.scale.std).toBeLessThan(2e-2);
      expect(Math.abs(w.std[i]! / s.scale.std - 1)).toBeLessThan(2e-2);
    });
    const next = roughSteps(12, 151, 48)[150]!;
    expect(h.append(next)).toBe(true);
    expect(h.lengthOf('a')).toBe(100);
    const garbage = v1Snapshot(steps);
    expect(() => h.restore('b', garbage.slice(0, garbage.byteLength - 1))).toThrow(/invalid \(length mismatch\)/);
    expect(h.lengthOf('b')).toBe(0);
  });

  it('keeps series apart across pages, through drops and slot reuse', () => {
    // 3,000 steps a series: 16 series a page.
    const h = new SeriesHistory({ stepMs: HOUR, capacity: 3000, initialSeries: 1 });
    const ids = Array.from({ length: 70 }, (_, i) => `s${i}`);
    const mk = (s: string, i: number, t: number): NormalizedStep => ({ series: s, ts: t * HOUR, value: i + t, observed: (i + t) % 5 !== 0, imputed: (i + t) % 5 === 0, sinceObserved: 0, reset: t === 0, z: ((i * 7 + t) % 11) - 5, scale: { mean: i, std: 1 + i } });
    for (let t = 0; t < 12; t++) ids.forEach((s, i) => h.append(mk(s, i, t)));
    ids.filter((_, i) => i % 3 === 0).forEach((s) => h.drop(s));
    expect(h.size).toBe(46);
    // Kept series go on; dropped ones come back empty (in reused slots) and start afresh.
    for (let k = 0; k < 3; k++) ids.forEach((s, i) => h.append(mk(s, i, i % 3 === 0 ? k : 12 + k)));
    ids.forEach((s, i) => {
      const w = h.windowOf(s)!;
      const dropped = i % 3 === 0;
      const last = dropped ? 2 : 14;
      expect(w.length).toBe(last + 1);
      expect(w.firstTs).toBe(0);
      w.z.forEach((z, t) => expect(z).toBe(((i * 7 + t) % 11) - 5));
      w.observed.forEach((o, t) => expect(o).toBe((i + t) % 5 !== 0 ? 1 : 0));
      expect(w.mean[last]).toBeCloseTo(i, 9);
      expect(w.std[last]).toBeCloseTo(1 + i, 9);
    });
    expect([...h.series()].length).toBe(70);
  });

  it('gives each series the window a history of its own would, whatever the interleaving of growth, drops and restores', () => {
    // Series share the slab's pages: growing or dropping one moves another's steps (blockSlab.ts).
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(5), fc.oneof(fc.integer({ min: 1, max: 30 }), fc.constant('drop' as const), fc.constant('restore' as const))), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 4, max: 100 }),
        (ops, capacity) => {
          const shared = new SeriesHistory({ stepMs: HOUR, capacity, initialSeries: 1 });
          const own = new Map<string, SeriesHistory>();
          const next = new Map<string, number>();
          for (const [k, op] of ops) {
            const id = `s${k}`;
            const alone = own.get(id) ?? new SeriesHistory({ stepMs: HOUR, capacity });
            own.set(id, alone);
            if (op === 'drop') {
              shared.drop(id);
              alone.drop(id);
              next.set(id, 0);
            } else if (op === 'restore') {
              const snap = alone.snapshot(id);
              if (snap !== undefined) shared.restore(id, snap);
            } else {
              const steps = seasonalSteps(id, { n: 400 });
              const from = next.get(id) ?? 0;
              for (let i = from; i < Math.min(steps.length, from + op); i++) {
                const step = { ...steps[i]!, reset: i === from && from === 0 ? true : steps[i]!.reset };
                shared.append(step);
                alone.append(step);
              }
              next.set(id, Math.min(steps.length, from + op));
            }
            for (const [s, h] of own) {
              const a = shared.windowOf(s);
              const b = h.windowOf(s);
              expect(a === undefined).toBe(b === undefined);
              if (a === undefined || b === undefined) continue;
              expect(a.length).toBe(b.length);
              expect(a.firstTs).toBe(b.firstTs);
              expect([...a.z]).toEqual([...b.z]);
              expect([...a.observed]).toEqual([...b.observed]);
              expect([...a.mean]).toEqual([...b.mean]);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('holds one long series in about its own steps: no page kept for each size it grew through', () => {
    const h = new SeriesHistory({ stepMs: HOUR, capacity: 5000 });
    for (const step of seasonalSteps('a', { n: 6000 })) h.append(step);
    expect(h.lengthOf('a')).toBe(5000);
    // 5.13 bytes a step, the per-slot records (a page of 16 slots at first).
    expect(h.bytes).toBeLessThanOrEqual(5000 * 5.125 + 16 * (12 * 8 + 7 * 4));
  });

  // 5.1 bytes per step plus a fixed record (head, count, anchors; 44 B of it the snapshot tail memo).
  it('costs about 5.1 bytes per step: ≤ 625 bytes per series at 96 steps, measured at 100k series', () => {
    const h = new SeriesHistory({ stepMs: HOUR, capacity: 96, initialSeries: 100_000 });
    const base = seasonalSteps('x', { n: 96 });
    // The pages are preallocated per slot, so their size does not depend on how full a ring is.
    for (let s = 0; s < 100_000; s++) h.append({ ...base[0]!, series: `s${s}` });
    expect(h.size).toBe(100_000);
    const perSeries = h.bytes / 100_000;
    expect(perSeries).toBeLessThanOrEqual(625);
  });
});

describe('SeriesHistory snapshot tail memo', () => {
  it('gives the same bytes as a walk from the oldest step, whatever the order of appends, snapshots, resets and restores', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant('snap' as const), fc.constant('restore' as const), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 4, max: 60 }),
        fc.integer({ min: 1, max: 50 }),
        (ops, capacity, keep) => {
          const memo = new SeriesHistory({ stepMs: HOUR, capacity });
          const steps = seasonalSteps('a', { n: 600 });
          let i = 0;
          for (const op of ops) {
            if (op === 'snap' || op === 'restore') {
              const got = memo.snapshot('a', keep);
              // A fresh history holding the same steps has no memo: its snapshot walks from the oldest step.
              const fresh = new SeriesHistory({ stepMs: HOUR, capacity });
              const all = memo.snapshot('a');
              if (all !== undefined) fresh.restore('a', all);
              expect(got === undefined ? undefined : Buffer.from(got)).toEqual(all === undefined ? undefined : Buffer.from(fresh.snapshot('a', keep)!));
              if (op === 'restore' && got !== undefined) memo.restore('a', got);
              continue;
            }
            for (let k = 0; k < op && i < steps.length; k++, i++) {
              // Every 97th step starts the series afresh (a gap), so the ring restarts too.
              memo.append(i % 97 === 96 ? { ...steps[i]!, reset: true } : steps[i]!);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
