import { describe, expect, it } from 'vitest';
import { mulberry32, normalSource } from '../../../../src/domain/random.js';
import { ChangeAr } from '../../../../src/forecasting/combiner/changeAr.js';
import { LagValues } from '../../../../src/forecasting/combiner/lagValues.js';

/** A series whose one-step changes follow d[t] = φ1·d[t−1] + φ2·d[t−2] + e[t], times `unit`. */
function arChanges(seed: number, steps: number, phi: readonly number[], unit = 1): number[] {
  const normal = normalSource(mulberry32(seed));
  const d: number[] = [];
  const y: number[] = [100 * unit];
  for (let t = 0; t < steps; t++) {
    let v = normal();
    phi.forEach((p, k) => (v += p * (d[d.length - 1 - k] ?? 0)));
    d.push(v);
    y.push(y.at(-1)! + unit * v);
  }
  return y;
}

function fit(ar: ChangeAr, ys: readonly number[], scale: number): LagValues {
  const ring = new LagValues(64);
  for (const y of ys) {
    ring.push(y);
    ar.learn(ring, scale);
  }
  return ring;
}

describe('ChangeAr', () => {
  it('recovers the weights of an AR process on the changes, and iterates them over the path', () => {
    const ar = new ChangeAr(4);
    const ring = fit(ar, arChanges(1, 20_000, [0.5, -0.3]), 1);
    const w = ar.weights;
    expect(w[0]).toBeCloseTo(0.5, 1);
    expect(w[1]).toBeCloseTo(-0.3, 1);
    expect(Math.abs(w[2]!)).toBeLessThan(0.05);
    expect(Math.abs(w[3]!)).toBeLessThan(0.05);
    // The path by hand: each forecast change from the p before it, forecast ones included.
    const out = new Float64Array(5);
    ar.path(ring, 0, 1, out);
    const d = [0, 1, 2, 3].map((k) => ring.at(k) - ring.at(k + 1));
    let y = ring.at(0);
    for (let h = 0; h < 5; h++) {
      const next = w.reduce((s, wk, k) => s + wk * d[k]!, 0);
      y += next;
      d.unshift(next);
      d.pop();
      expect(out[h]).toBeCloseTo(y, 9);
    }
  });

  it('is scale-free: a series in units 1,000 × larger, with its scale, gives the same weights and a path 1,000 × larger', () => {
    const a = new ChangeAr(3);
    const b = new ChangeAr(3);
    const ra = fit(a, arChanges(2, 3000, [0.4]), 1);
    const rb = fit(b, arChanges(2, 3000, [0.4], 1000), 1000);
    // The lag ring keeps float32 values: equal to its rounding (7 digits of levels near 10⁵).
    a.weights.forEach((w, k) => expect(b.weights[k]).toBeCloseTo(w, 3));
    const pa = new Float64Array(3);
    const pb = new Float64Array(3);
    a.path(ra, 0, 1, pa);
    b.path(rb, 0, 1000, pb);
    pa.forEach((v, h) => expect(pb[h]! / 1000).toBeCloseTo(v, 2));
  });

  it('is no expert before order + 1 values at the origin, and a spike moves its weights by little', () => {
    const ar = new ChangeAr(3);
    const ring = new LagValues(16);
    const out = new Float64Array(2);
    for (const y of [1, 2, 3]) ring.push(y);
    ar.path(ring, 0, 1, out);
    expect([...out].every(Number.isNaN)).toBe(true);
    ring.push(4);
    ar.path(ring, 0, 1, out);
    expect([...out].every(Number.isFinite)).toBe(true);
    // Learnt on a clean AR(1) of 0.6, then a spike of 10⁴ typical steps up and back: clipped at 10.
    const clean = new ChangeAr(1);
    const r = fit(clean, arChanges(3, 5000, [0.6]), 1);
    const before = clean.weights[0]!;
    const updates = clean.updates;
    r.push(r.at(0) + 1e4);
    clean.learn(r, 1);
    r.push(r.at(0) - 1e4);
    clean.learn(r, 1);
    expect(clean.updates).toBe(updates + 2);
    expect(Math.abs(clean.weights[0]! - before)).toBeLessThan(0.05);
    const p = new Float64Array(4);
    clean.path(r, 0, 1, p);
    expect([...p].every(Number.isFinite)).toBe(true);
  });

  it('forecasts from an origin back in the ring as from a ring that ends there (nothing after the origin leaks in)', () => {
    const ar = new ChangeAr(3);
    const ys = arChanges(5, 2000, [0.5, -0.2]);
    const full = fit(ar, ys, 1);
    for (const age of [1, 4, 9]) {
      const cut = new LagValues(64);
      for (const y of ys.slice(0, ys.length - age)) cut.push(y);
      const a = new Float64Array(6);
      const b = new Float64Array(6);
      ar.path(full, age, 1, a);
      ar.path(cut, 0, 1, b);
      expect([...a]).toEqual([...b]);
    }
  });

  it('learns only from rows with all p changes held, and leaves out a series whose changes float32 cannot hold', () => {
    const ar = new ChangeAr(3);
    const ring = new LagValues(64);
    for (const y of [1, 3, 2, 5]) {
      ring.push(y);
      ar.learn(ring, 1);
    }
    // Four values are three changes: no row has an input before all of them.
    expect(ar.updates).toBe(0);
    ring.push(4);
    ar.learn(ring, 1);
    expect(ar.updates).toBe(1);
    // A counter near 10⁹ stepping by ~10: float32 rounds it to 64.
    const big = new ChangeAr(3);
    const r = fit(big, arChanges(6, 500, [0.5], 10).map((y) => y + 1e9), 10);
    expect(big.updates).toBe(0);
    const out = new Float64Array(2);
    big.path(r, 0, 10, out);
    expect([...out].every(Number.isNaN)).toBe(true);
  });

  it('follows a change of dynamics when it forgets, and a flat stretch cannot wind it up', () => {
    const regimes = (ar: ChangeAr, forget: number) => {
      const ring = new LagValues(16);
      for (const y of [...arChanges(7, 20_000, [0.6]), ...arChanges(8, 20_000, [-0.4]).map((y) => y + 1000)]) {
        ring.push(y);
        ar.learn(ring, 1, forget);
      }
      return ar.weights[0]!;
    };
    // Least squares over both halves lands between; forgetting (half-life ~700 changes) follows.
    expect(regimes(new ChangeAr(1), 1)).toBeGreaterThan(0);
    expect(regimes(new ChangeAr(1), 0.999)).toBeCloseTo(-0.4, 1);
    // 50,000 changes of 0 (a flat series) with forgetting, then an AR(1) of 0.5: still learnt.
    const ar = new ChangeAr(2);
    const ring = new LagValues(16);
    for (let t = 0; t < 50_000; t++) {
      ring.push(5);
      ar.learn(ring, 1, 0.999);
    }
    for (const y of arChanges(9, 5000, [0.5])) {
      ring.push(y);
      ar.learn(ring, 1, 0.999);
    }
    expect(ar.weights[0]).toBeCloseTo(0.5, 1);
    expect(ar.weights.every(Number.isFinite)).toBe(true);
  });

  it('refuses an order that is not a positive integer', () => {
    expect(() => new ChangeAr(0)).toThrow(/positive integer/);
    expect(() => new ChangeAr(1.5)).toThrow(/positive integer/);
  });
});
