import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/domain/errors.js';
import { normalQuantile } from '../../../../src/domain/quantiles.js';
import { ResidualQuantileConfig, ResidualQuantiles } from '../../../../src/forecasting/baseline/residualQuantiles.js';

const STEP = 1000;
const T0 = 1_000_000_000;

/** Type-7 empirical quantile, the textbook way: sort a copy, interpolate linearly. */
function type7(xs: readonly number[], level: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = level * (s.length - 1);
  const lo = Math.floor(pos);
  const a = s[lo]!;
  return lo + 1 < s.length ? a + (s[lo + 1]! - a) * (pos - lo) : a;
}

describe('ResidualQuantileConfig', () => {
  it('rejects bad settings with a ConfigError', () => {
    const base = { horizon: 3, stepMs: STEP, quantiles: [0.1, 0.9] };
    expect(() => new ResidualQuantileConfig({ ...base, horizon: 0 })).toThrow(ConfigError);
    expect(() => new ResidualQuantileConfig({ ...base, window: 1 })).toThrow(ConfigError);
    expect(() => new ResidualQuantileConfig({ ...base, window: 10, minResiduals: 11 })).toThrow(ConfigError);
    expect(() => new ResidualQuantileConfig({ ...base, quantiles: [0.9, 0.1] })).toThrow(/increasing order/);
    expect(() => new ResidualQuantileConfig({ ...base, quantiles: [0, 0.5] })).toThrow(/\(0, 1\)/);
  });
});

describe('ResidualQuantiles', () => {
  it('scores actual − forecast made h steps earlier into per-horizon windows and reads type-7 quantiles', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 2, max: 12 }),
        fc.array(fc.tuple(fc.double({ min: -100, max: 100, noNaN: true }), fc.boolean()), { minLength: 1, maxLength: 80 }),
        (H, R, series) => {
          const levels = [0.05, 0.1, 0.5, 0.9, 0.95];
          const cfg = new ResidualQuantileConfig({ horizon: H, stepMs: STEP, quantiles: levels, window: R, minResiduals: 1 });
          const rq = new ResidualQuantiles(cfg);
          const expected: number[][] = Array.from({ length: H }, () => []);
          const pointsAt: Float64Array[] = [];
          const out = new Float64Array(levels.length);
          series.forEach(([y, observed], t) => {
            const ts = T0 + t * STEP;
            if (observed) {
              rq.score(ts, y);
              for (let h = 1; h <= H && h <= t; h++) {
                const r = Math.fround(y - pointsAt[t - h]![h - 1]!) || 0;
                const w = expected[h - 1]!;
                w.push(r);
                if (w.length > R) w.shift();
              }
            }
            // An arbitrary point forecast per horizon, different per h so misalignment shows.
            const points = Float64Array.from({ length: H }, (_, i) => y * 0.5 + i);
            pointsAt[t] = points;
            rq.record(ts, points);
            for (let hi = 0; hi < H; hi++) {
              expect(rq.count(hi)).toBe(expected[hi]!.length);
              if (expected[hi]!.length === 0) continue;
              rq.offsets(hi, 1, out);
              levels.forEach((l, j) => expect(out[j]).toBe(type7(expected[hi]!, l)));
            }
          });
        },
      ),
    );
  });

  it('uses the Gaussian band z_q·std·√h below minResiduals', () => {
    const levels = [0.1, 0.5, 0.9];
    const cfg = new ResidualQuantileConfig({ horizon: 4, stepMs: STEP, quantiles: levels, minResiduals: 3 });
    const rq = new ResidualQuantiles(cfg);
    const out = new Float64Array(3);
    rq.offsets(3, 2, out);
    expect(out[0]).toBeCloseTo(-normalQuantile(0.9) * 2 * 2, 12);
    expect(out[1]).toBe(0);
    expect(out[2]).toBeCloseTo(normalQuantile(0.9) * 2 * 2, 12);
    rq.offsets(0, 0, out);
    expect([...out]).toEqual([0, 0, 0]);
    rq.offsets(0, Number.NaN, out);
    expect([...out]).toEqual([0, 0, 0]);
  });

  it('ignores forecasts whose origin is not exactly h steps before the actual', () => {
    const cfg = new ResidualQuantileConfig({ horizon: 2, stepMs: STEP, quantiles: [0.5] });
    const rq = new ResidualQuantiles(cfg);
    rq.record(T0, Float64Array.of(1, 2));
    // Same slot parity, three steps later: a stale slot, not a forecast for this target.
    rq.score(T0 + 3 * STEP, 10);
    rq.score(T0 + 4 * STEP, 10);
    expect(rq.count(0)).toBe(0);
    expect(rq.count(1)).toBe(0);
    rq.score(T0 + 2 * STEP, 10);
    expect(rq.count(1)).toBe(1);
  });

  it('clamps residuals that overflow float32 and skips infinite ones', () => {
    const cfg = new ResidualQuantileConfig({ horizon: 1, stepMs: STEP, quantiles: [0.5], minResiduals: 1 });
    const rq = new ResidualQuantiles(cfg);
    const out = new Float64Array(1);
    rq.record(T0, Float64Array.of(-1e300));
    rq.score(T0 + STEP, 1e300);
    rq.offsets(0, 1, out);
    expect(out[0]).toBe(3.4028234663852886e38);
    rq.record(T0 + STEP, Float64Array.of(-Number.MAX_VALUE));
    rq.score(T0 + 2 * STEP, Number.MAX_VALUE);
    expect(rq.count(0)).toBe(1);
  });

  it('clear() forgets forecasts and residuals', () => {
    const cfg = new ResidualQuantileConfig({ horizon: 1, stepMs: STEP, quantiles: [0.5], minResiduals: 1 });
    const rq = new ResidualQuantiles(cfg);
    rq.record(T0, Float64Array.of(0));
    rq.score(T0 + STEP, 5);
    rq.record(T0 + STEP, Float64Array.of(0));
    rq.clear();
    expect(rq.count(0)).toBe(0);
    rq.score(T0 + 2 * STEP, 5);
    expect(rq.count(0)).toBe(0);
  });

  it('write → read reproduces the state exactly', () => {
    const cfg = new ResidualQuantileConfig({ horizon: 3, stepMs: STEP, quantiles: [0.1, 0.5, 0.9], window: 7, minResiduals: 1 });
    const a = new ResidualQuantiles(cfg);
    for (let t = 0; t < 30; t++) {
      a.score(T0 + t * STEP, Math.sin(t) * 10);
      a.record(T0 + t * STEP, Float64Array.of(t % 3, -t, 0.5));
    }
    const view = new DataView(new ArrayBuffer(a.byteLength));
    expect(a.write(view, 0)).toBe(a.byteLength);
    const b = new ResidualQuantiles(cfg);
    expect(b.read(view, 0)).toBe(a.byteLength);
    const oa = new Float64Array(3);
    const ob = new Float64Array(3);
    for (let t = 30; t < 45; t++) {
      for (const x of [a, b]) {
        x.score(T0 + t * STEP, Math.cos(t) * 3);
        x.record(T0 + t * STEP, Float64Array.of(1, 2, 3));
      }
      for (let hi = 0; hi < 3; hi++) {
        a.offsets(hi, 1, oa);
        b.offsets(hi, 1, ob);
        expect([...ob]).toEqual([...oa]);
      }
    }
  });

  it('writes only what is filled: a series with one forecast origin and no residual is 4 + 12 + 8H + 4H bytes', () => {
    const cfg = new ResidualQuantileConfig({ horizon: 12, stepMs: STEP, quantiles: [0.1, 0.5, 0.9], window: 100 });
    const a = new ResidualQuantiles(cfg);
    expect(a.byteLength).toBe(4 + 4 * 12);
    a.record(T0, new Float64Array(12).fill(1));
    expect(a.byteLength).toBe(4 + 12 + 8 * 12 + 4 * 12);
    // The layout of the first build held every ring at full size.
    expect(cfg.legacyByteLength).toBe(8 * 12 + 8 * 144 + 12 * (8 + 400));
    for (let t = 1; t <= 3; t++) {
      a.score(T0 + t * STEP, t);
      a.record(T0 + t * STEP, new Float64Array(12).fill(t));
    }
    // 4 origins; horizon 1 has 3 residuals, 2 has 2, 3 has 1.
    expect(a.byteLength).toBe(4 + 4 * (12 + 8 * 12) + 4 * 12 + 4 * 6);
  });

  it('rejects a truncated or inconsistent compact state with a fatal error', () => {
    const cfg = new ResidualQuantileConfig({ horizon: 2, stepMs: STEP, quantiles: [0.5], window: 4, minResiduals: 1 });
    const a = new ResidualQuantiles(cfg);
    for (let t = 0; t < 3; t++) {
      a.score(T0 + t * STEP, t);
      a.record(T0 + t * STEP, Float64Array.of(0, 0));
    }
    const bytes = new Uint8Array(a.byteLength);
    a.write(new DataView(bytes.buffer), 0);
    const b = new ResidualQuantiles(cfg);
    expect(() => b.read(new DataView(bytes.buffer, 0, bytes.byteLength - 1), 0)).toThrow(/truncated/);
    const badSlot = bytes.slice();
    new DataView(badSlot.buffer).setUint32(4, 7, true);
    expect(() => b.read(new DataView(badSlot.buffer), 0)).toThrow(/slot 7/);
    const tooMany = bytes.slice();
    new DataView(tooMany.buffer).setUint32(0, 3, true);
    expect(() => b.read(new DataView(tooMany.buffer), 0)).toThrow(/3 forecast origins/);
  });
});
