import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, StreamcastError } from '../../../../src/domain/errors.js';
import type { ImputedStep } from '../../../../src/domain/step.js';
import { Normalizer, Z_CLIP, denormalize } from '../../../../src/pipeline/core/normalizer.js';

const H = 3_600_000;
const step = (hour: number, value: number, o: Partial<ImputedStep> = {}): ImputedStep => ({
  series: 's',
  ts: hour * H,
  value,
  observed: true,
  imputed: false,
  sinceObserved: 0,
  reset: false,
  ...o,
});
const imputed = (hour: number, value: number) => step(hour, value, { observed: false, imputed: true, sinceObserved: 1 });

/** Brute force: weights 2^(−age/halfLife) over all observations so far, divided by their sum. */
function reference(obs: ReadonlyArray<{ ts: number; value: number }>, halfLifeMs: number) {
  const now = obs[obs.length - 1]!.ts;
  const w = obs.map((o) => Math.pow(2, -(now - o.ts) / halfLifeMs));
  const sw = w.reduce((a, b) => a + b, 0);
  const mean = obs.reduce((s, o, i) => s + w[i]! * o.value, 0) / sw;
  const variance = obs.reduce((s, o, i) => s + w[i]! * (o.value - mean) ** 2, 0) / sw;
  return { mean, variance };
}

describe('Normalizer', () => {
  it('first value has z = 0 with a finite, positive std', () => {
    const n = new Normalizer({ stepMs: H, halfLifeMs: 24 * H });
    const out = n.push(step(0, 42));
    expect(out.z).toBe(0);
    expect(out.scale.mean).toBe(42);
    expect(out.scale.std).toBeGreaterThan(0);
    expect(out).toMatchObject({ series: 's', ts: 0, value: 42, observed: true });
  });

  it('a constant (zero-variance) series stays at z = 0; a departure is finite and clipped', () => {
    for (const level of [0, 5, -1e6]) {
      const n = new Normalizer({ stepMs: H, halfLifeMs: 24 * H });
      for (let h = 0; h < 50; h += 1) expect(n.push(step(h, level)).z).toBe(0);
      const z = n.push(imputed(50, level + 1)).z;
      expect(Number.isFinite(z)).toBe(true);
      expect(Math.abs(z)).toBeLessThanOrEqual(Z_CLIP);
      expect(z).toBeGreaterThan(0);
    }
  });

  it('matches the brute-force exponentially weighted mean and variance, decaying with event time', () => {
    const halfLifeMs = 3 * H;
    const n = new Normalizer({ stepMs: H, halfLifeMs });
    const obs = [
      { ts: 0, value: 10 },
      { ts: H, value: 12 },
      { ts: 2 * H, value: 9 },
      { ts: 7 * H, value: 20 }, // a hole: decay covers the elapsed time
      { ts: 8 * H, value: 18 },
    ];
    obs.forEach((o, i) => {
      const out = n.push(step(o.ts / H, o.value));
      const ref = reference(obs.slice(0, i + 1), halfLifeMs);
      expect(out.scale.mean).toBeCloseTo(ref.mean, 10);
      if (i > 0) expect(out.scale.std).toBeCloseTo(Math.sqrt(ref.variance), 10);
      expect(out.z).toBeCloseTo((o.value - ref.mean) / out.scale.std, 10);
    });
  });

  it('imputed values are scaled with the current stats but do not update them', () => {
    const a = new Normalizer({ stepMs: H, halfLifeMs: 24 * H });
    const b = new Normalizer({ stepMs: H, halfLifeMs: 24 * H });
    for (const n of [a, b]) {
      n.push(step(0, 1));
      n.push(step(1, 3));
    }
    const stats = b.snapshot('s')!;
    const imp = a.push(imputed(2, 4));
    expect(imp.scale.mean).toBe(stats.mean);
    expect(imp.scale.std).toBeCloseTo(Math.sqrt(stats.m2 / stats.w), 12);
    expect(imp.z).toBeCloseTo((4 - stats.mean) / imp.scale.std, 12);
    expect(a.snapshot('s')).toEqual(stats);
    // and the next observation sees the same stats as if the imputed step never happened
    expect(a.push(step(3, 5))).toEqual(b.push(step(3, 5)));
  });

  it('a reset step keeps the stats (level before the gap is the best guess)', () => {
    const [a, b] = [0, 1].map(() => new Normalizer({ stepMs: H, halfLifeMs: 24 * H }));
    for (const n of [a!, b!]) {
      n.push(step(0, 10));
      n.push(step(1, 20));
    }
    const withReset = a!.push(step(30, 40, { reset: true }));
    const without = b!.push(step(30, 40));
    expect({ ...withReset, reset: false }).toEqual(without);
    // Discarding the stats would give mean 40 and z 0.
    expect(withReset.scale.mean).toBeLessThan(40);
    expect(withReset.z).toBeGreaterThan(0.5);
  });

  it('series are independent; snapshot/restore/drop/size', () => {
    const n = new Normalizer({ stepMs: H, halfLifeMs: 24 * H });
    n.push(step(0, 1));
    n.push({ ...step(0, 1000), series: 't' });
    expect(n.size).toBe(2);
    expect(n.push(step(1, 3)).scale.mean).toBeLessThan(3);
    const snap = JSON.parse(JSON.stringify(n.snapshot('s'))) as unknown;
    const m = new Normalizer({ stepMs: H, halfLifeMs: 24 * H });
    m.restore('s', snap);
    expect(m.push(step(2, 7))).toEqual(n.push(step(2, 7)));
    n.drop('t');
    expect(n.size).toBe(1);
    expect(() => m.restore('s', { v: 1, w: 'x' })).toThrow(StreamcastError);
  });

  it('keeps thousands of series apart (state in slot-indexed pages): a series in a freed slot starts afresh', () => {
    const n = new Normalizer({ stepMs: H, halfLifeMs: 24 * H });
    const count = 2500;
    const id = (i: number) => `host-${i}`;
    for (let h = 0; h < 3; h++) for (let i = 0; i < count; i++) n.push({ ...step(h, i * 10 + h * h), series: id(i) });
    for (let i = 0; i < count; i += 2) n.drop(id(i));
    expect(n.size).toBe(count / 2);
    for (let i = 0; i < count; i += 2) {
      const first = n.push({ ...step(7, 5 + i), series: `new-${i}` });
      expect(first.z).toBe(0);
      expect(first.scale.mean).toBe(5 + i);
    }
    for (let i = 1; i < count; i += 100) {
      const one = new Normalizer({ stepMs: H, halfLifeMs: 24 * H });
      for (let h = 0; h < 3; h++) one.push({ ...step(h, i * 10 + h * h), series: id(i) });
      expect(n.push({ ...step(3, i), series: id(i) })).toEqual(one.push({ ...step(3, i), series: id(i) }));
      expect(n.snapshot(id(i))).toEqual(one.snapshot(id(i)));
    }
    expect(n.snapshot(id(0))).toBeUndefined();
  });

  it('rejects bad options with a ConfigError', () => {
    expect(() => new Normalizer({ stepMs: H, halfLifeMs: 0 })).toThrow(ConfigError);
    expect(() => new Normalizer({ stepMs: -1, halfLifeMs: H })).toThrow(/step/);
  });

  it('never emits a signed zero (regression: a first value of -0 gave z = -0)', () => {
    const n = new Normalizer({ stepMs: H, halfLifeMs: H });
    expect(Object.is(n.push(step(1, -0)).z, 0)).toBe(true);
    expect(Object.is(n.push(imputed(2, 0)).z, 0)).toBe(true);
  });

  it('property: z finite and within ±Z_CLIP; denormalize(z, scale) ≈ value whenever z is not clipped', () => {
    const value = fc.oneof(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.integer({ min: -3, max: 3 }));
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 1, max: 30 }), value, observed: fc.boolean() }), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 500 }),
        (rows, halfLifeSteps) => {
          const n = new Normalizer({ stepMs: H, halfLifeMs: halfLifeSteps * H });
          let h = 0;
          rows.forEach((r, i) => {
            h += r.dt;
            const observed = i === 0 || r.observed;
            const out = n.push(observed ? step(h, r.value) : imputed(h, r.value));
            expect(Number.isFinite(out.z)).toBe(true);
            expect(Math.abs(out.z)).toBeLessThanOrEqual(Z_CLIP);
            expect(out.scale.std).toBeGreaterThan(0);
            expect(Number.isFinite(out.scale.mean)).toBe(true);
            if (i === 0) expect(out.z).toBe(0);
            if (Math.abs(out.z) < Z_CLIP) {
              expect(Math.abs(denormalize(out.z, out.scale) - r.value)).toBeLessThanOrEqual(1e-9 * (Math.abs(r.value) + out.scale.std + Math.abs(out.scale.mean)));
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
