import { describe, expect, it } from 'vitest';
import {
  CoverageAccumulator,
  MeanAccumulator,
  NaiveScaleAccumulator,
  PointErrorAccumulator,
  absoluteError,
  meanScaledError,
  smapeTerm,
  symmetricPairs,
} from '../../../src/evaluation/metrics.js';

describe('point errors', () => {
  it('sMAPE is 200·|y−f|/(|y|+|f|), 0 when both are 0, at most 200', () => {
    expect(smapeTerm(0, 0)).toBe(0);
    expect(smapeTerm(1, 0)).toBe(200);
    expect(smapeTerm(0, -3)).toBe(200);
    expect(smapeTerm(100, 110)).toBeCloseTo((200 * 10) / 210, 12);
    expect(smapeTerm(-1, 1)).toBe(200);
    expect(smapeTerm(Number.MAX_VALUE, -Number.MAX_VALUE)).toBe(200);
  });

  it('accumulates MAE and sMAPE over the same cells; null when empty', () => {
    const acc = new PointErrorAccumulator();
    expect(acc.mae).toBeNull();
    expect(acc.smape).toBeNull();
    acc.add(1, 2);
    acc.add(4, 0);
    expect(acc.count).toBe(2);
    expect(acc.mae).toBe((1 + 4) / 2);
    expect(acc.smape).toBeCloseTo(((200 * 1) / 3 + 200) / 2, 12);
    expect(absoluteError(-2, 3)).toBe(5);
    const m = new MeanAccumulator();
    m.add(2);
    m.add(4);
    expect([m.mean, m.total, m.count]).toEqual([3, 6, 2]);
  });
});

describe('NaiveScaleAccumulator (MASE scale)', () => {
  it('averages |y_t − y_{t−1}| over observed pairs exactly one step apart', () => {
    const s = new NaiveScaleAccumulator(10);
    expect(s.scale).toBeNull();
    s.add(0, 1);
    s.add(10, 4); // |4 − 1| = 3
    s.add(20, 2); // 2
    s.add(40, 100); // gap: not a one-step pair
    s.add(50, 101); // 1
    expect(s.scale).toBe((3 + 2 + 1) / 3);
  });

  it('averages per-series MAE / scale over series with a positive scale', () => {
    expect(
      meanScaledError([
        { mae: 2, scale: 1 },
        { mae: 3, scale: 6 },
        { mae: 5, scale: 0 },
        { mae: null, scale: 1 },
        { mae: 1, scale: null },
      ]),
    ).toBe((2 + 0.5) / 2);
    expect(meanScaledError([{ mae: 1, scale: 0 }])).toBeNull();
  });
});

describe('intervals', () => {
  it('pairs symmetric levels despite float noise and keys them as configured', () => {
    expect(symmetricPairs([0.1, 0.5, 0.9])).toEqual([{ key: '0.1-0.9', lo: 0.1, hi: 0.9 }]);
    expect(symmetricPairs([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]).map((p) => p.key)).toEqual(['0.05-0.95', '0.1-0.9', '0.25-0.75']);
    expect(symmetricPairs([0.1, 0.8])).toEqual([]);
    expect(symmetricPairs([0.5])).toEqual([]);
  });

  it('coverage counts closed intervals; null when empty', () => {
    const c = new CoverageAccumulator();
    expect(c.coverage).toBeNull();
    c.add(1, 1, 2);
    c.add(2, 1, 2);
    c.add(3, 1, 2);
    c.add(0.5, 1, 2);
    expect(c.coverage).toBe(0.5);
    expect(c.count).toBe(4);
  });
});
