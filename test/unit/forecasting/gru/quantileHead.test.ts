import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anchorIndex, headBiasInit, normalQuantile, QuantileHead, softplus, inverseSoftplus } from '../../../../src/forecasting/gru/quantileHead.js';

describe('quantileHead', () => {
  it('never crosses, whatever the raw outputs and weights', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.uniqueArray(fc.double({ min: 0.01, max: 0.99, noNaN: true }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 64, maxLength: 64 }),
        (horizon, levels, seedVals) => {
          const quantiles = [...levels].sort((a, b) => a - b);
          const H = 4;
          const O = horizon * quantiles.length;
          const kernel = Float32Array.from({ length: H * O }, (_, i) => seedVals[i % 64]!);
          const bias = Float32Array.from({ length: O }, (_, i) => seedVals[(i * 7) % 64]!);
          const head = new QuantileHead({ units: H, horizon, quantiles, kernel, bias });
          const B = 3;
          const h = Float32Array.from({ length: B * H }, (_, i) => seedVals[(i * 13) % 64]! / 50);
          const out = new Float32Array(B * O);
          head.apply(h, B, out);
          for (let b = 0; b < B; b++) {
            for (let t = 0; t < horizon; t++) {
              for (let j = 1; j < quantiles.length; j++) {
                const base = (b * horizon + t) * quantiles.length;
                expect(out[base + j]!).toBeGreaterThanOrEqual(out[base + j - 1]!);
              }
            }
          }
        },
      ),
    );
  });

  it('computes the dense layer then the monotone transform', () => {
    // H=2, horizon 1, levels 0.1/0.5/0.9: raw = h·K + b.
    const kernel = Float32Array.from([1, 0, -1, 0, 2, 3]); // [H=2][O=3]
    const bias = Float32Array.from([0.5, 1, 0]);
    const head = new QuantileHead({ units: 2, horizon: 1, quantiles: [0.1, 0.5, 0.9], kernel, bias });
    const out = new Float32Array(3);
    head.apply(Float32Array.from([2, 1]), 1, out);
    const raw = [2 * 1 + 0.5, 2 * 0 + 1 * 2 + 1, 2 * -1 + 3];
    expect(out[1]).toBeCloseTo(raw[1]!, 5);
    expect(out[0]).toBeCloseTo(raw[1]! - softplus(raw[0]!), 5);
    expect(out[2]).toBeCloseTo(raw[1]! + softplus(raw[2]!), 5);
  });

  it('initial bias yields standard-normal quantiles from a zero state', () => {
    const quantiles = [0.1, 0.5, 0.9];
    const head = new QuantileHead({ units: 3, horizon: 2, quantiles, kernel: new Float32Array(3 * 6), bias: headBiasInit(quantiles, 2) });
    const out = new Float32Array(6);
    head.apply(new Float32Array(3), 1, out);
    expect(Array.from(out)).toEqual([-1.2815516, 0, 1.2815516, -1.2815516, 0, 1.2815516].map((v) => expect.closeTo(v, 5)));
  });

  it('helpers: anchor, Φ⁻¹, softplus inverse', () => {
    expect(anchorIndex([0.1, 0.5, 0.9])).toBe(1);
    expect(anchorIndex([0.05, 0.25])).toBe(1);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
    for (const y of [1e-3, 0.5, 3, 30]) expect(softplus(inverseSoftplus(y))).toBeCloseTo(y, 6);
    expect(Number.isFinite(softplus(1e6))).toBe(true);
  });
});
