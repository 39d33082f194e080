import { describe, expect, it } from 'vitest';
import { acf, maseScale, naive2, seasonalIndices, seasonalityTest, seasonalPeriod, smape } from '../../../src/evaluation/fixedOriginMetrics.js';

// Every expected value below is worked out by hand in the comment beside it.
const alternating = (n: number, a: number, b: number): number[] => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : b));

describe('smape (M4: 200·|y−ŷ|/(|y|+|ŷ|))', () => {
  it('is 200·10/210 for 100 vs 110, 0 for two zeros, 200 across zero', () => {
    expect(smape(100, 110)).toBeCloseTo(9.523809523, 8);
    expect(smape(110, 100)).toBeCloseTo(9.523809523, 8);
    expect(smape(0, 0)).toBe(0);
    expect(smape(-1, 1)).toBe(200);
  });
});

describe('maseScale (in-sample mean absolute lag-m difference)', () => {
  it('averages |x_t − x_{t−m}|', () => {
    // m = 1: (1 + 2 + 3) / 3; m = 2: (|4−1| + |7−2|) / 2.
    expect(maseScale([1, 2, 4, 7], 1)).toBe(2);
    expect(maseScale([1, 2, 4, 7], 2)).toBe(4);
    expect(maseScale([5, 5, 5], 1)).toBe(0);
    expect(Number.isNaN(maseScale([1, 2], 2))).toBe(true);
  });
});

describe('acf', () => {
  it('matches the hand computation', () => {
    // mean 2.5, deviations −1.5 −0.5 0.5 1.5: (0.75 − 0.25 + 0.75) / 5
    expect(acf([1, 2, 3, 4], 1)).toBeCloseTo(0.25, 12);
    expect(acf([3, 3, 3], 1)).toBe(0);
  });
});

describe('seasonalityTest (90 %: |r_m| > 1.645·sqrt((1 + 2Σ_{k<m} r_k²)/n))', () => {
  it('rejects a short alternating series and accepts a longer one', () => {
    // n = 8: r1 = −7/8, r2 = 6/8; limit 1.645·sqrt((1 + 2·0.765625)/8) = 0.92531 > 0.75.
    expect(acf(alternating(8, 1, 3), 2)).toBeCloseTo(0.75, 12);
    expect(seasonalityTest(alternating(8, 1, 3), 2)).toBe(false);
    // n = 20: r1 = −0.95, r2 = 0.9; limit 1.645·sqrt((1 + 2·0.9025)/20) = 0.61605 < 0.9.
    expect(seasonalityTest(alternating(20, 1, 3), 2)).toBe(true);
  });

  it('needs m > 1 and more than 3·m values', () => {
    expect(seasonalityTest(alternating(20, 1, 3), 1)).toBe(false);
    expect(seasonalityTest(alternating(6, 1, 3), 2)).toBe(false);
  });
});

describe('seasonalIndices (classical decomposition)', () => {
  it('even m: 2×m centred moving average, indices normalised to mean 1', () => {
    // Trend 3 at t = 1..4; detrended 4/3, 2/3, 4/3, 2/3 → positions [2/3, 4/3].
    const idx = seasonalIndices([2, 4, 2, 4, 2, 4], 2);
    expect(idx[0]).toBeCloseTo(2 / 3, 12);
    expect(idx[1]).toBeCloseTo(4 / 3, 12);
  });

  it('odd m: plain centred moving average', () => {
    // Trend 2 at t = 1..7; detrended x/2 → positions [0.5, 1, 1.5] (mean already 1).
    const idx = seasonalIndices([1, 2, 3, 1, 2, 3, 1, 2, 3], 3);
    expect(idx.map((v) => Number(v.toFixed(12)))).toEqual([0.5, 1, 1.5]);
  });

  it('additive: differences from the trend, centred on 0', () => {
    const idx = seasonalIndices([1, 5, 1, 5, 1, 5], 2, true);
    // Trend 3; detrended −2, 2 → [−2, 2].
    expect(idx[0]).toBeCloseTo(-2, 12);
    expect(idx[1]).toBeCloseTo(2, 12);
  });
});

describe('naive2 (M4)', () => {
  it('seasonal: the last adjusted value, re-seasonalised at the future positions', () => {
    // Indices [2/3, 4/3]; last value 4 at position 1 → adjusted 3 → 3·2/3, 3·4/3, 3·2/3.
    const f = naive2(alternating(20, 2, 4), 2, 3);
    expect(f.seasonal).toBe(true);
    expect(f.additive).toBe(false);
    expect(f.forecast.map((v) => Number(v.toFixed(9)))).toEqual([2, 4, 2]);
  });

  it('not seasonal (test fails or m = 1): the last value repeated', () => {
    expect(naive2(alternating(8, 2, 4), 2, 2)).toEqual({ forecast: [4, 4], seasonal: false, additive: false });
    expect(naive2([1, 2, 3], 1, 2).forecast).toEqual([3, 3]);
  });

  it('a history with a value ≤ 0 is adjusted additively', () => {
    // Indices [−1, 1]; last 1 at position 1 → adjusted 0 → −1, 1, −1.
    const f = naive2(alternating(20, -1, 1), 2, 3);
    expect(f.additive).toBe(true);
    expect(f.forecast.map((v) => Number(v.toFixed(9)))).toEqual([-1, 1, -1]);
  });
});

describe('seasonalPeriod', () => {
  it('is the steps in a day when the step divides it, else 1', () => {
    expect(seasonalPeriod(3_600_000)).toBe(24);
    expect(seasonalPeriod(300_000)).toBe(288);
    expect(seasonalPeriod(7 * 3_600_000)).toBe(1);
    expect(seasonalPeriod(86_400_000)).toBe(1);
  });
});
