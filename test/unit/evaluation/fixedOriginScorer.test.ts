import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../src/domain/forecast.js';
import { FixedOriginScorer } from '../../../src/evaluation/fixedOriginScorer.js';

function forecast(series: string, means: number[], lo: number[], hi: number[]): Forecast {
  return {
    series,
    ts: 0,
    step: 1,
    imputed: false,
    model: { name: 't', version: 0, kind: 'baseline' },
    forecast: means.map((mean, i) => ({ h: i + 1, ts: i + 1, mean, q: { '0.1': lo[i]!, '0.5': mean, '0.9': hi[i]! } })),
  };
}

describe('FixedOriginScorer', () => {
  // Hand-worked, m = 1, horizon 2.
  // A: history 1 2 3 4 (scale 1; naive2 = 4 4), actuals 5 6; x = 5 5 in [4, 6].
  //    sMAPE x: 0, 200/11; naive2: 200/9, 40. MASE x: 0, 1; naive2: 1, 2.
  // B: history 10 10 10 12 (scale 2/3; naive2 = 12), actuals 12, unobserved; x = 9 in [12.5, 13] (a miss).
  //    sMAPE x: 600/21; naive2 0. MASE x: 4.5; naive2 0.
  const scorer = new FixedOriginScorer({ models: ['x'], horizon: 2, seasonSteps: 1, quantiles: [0.1, 0.5, 0.9] });
  scorer.addSeries('A', [1, 2, 3, 4], [5, 6], new Map([['x', forecast('A', [5, 5], [4, 4], [6, 6])]]), 3);
  scorer.addSeries('B', [10, 10, 10, 12], [12, null], new Map([['x', forecast('B', [9, 9], [12.5, 12.5], [13, 13])]]), 3);
  const s = scorer.summary({ input: 'in.csv', pipeline: 'p', step: 1, partial: false, training: null, warnings: [] });

  it('averages per horizon over the series observed there', () => {
    const x = s.models['x']!;
    expect(x.smape[0]).toBeCloseTo((0 + 600 / 21) / 2, 9);
    expect(x.smape[1]).toBeCloseTo(200 / 11, 9);
    expect(x.mase[0]).toBeCloseTo((0 + 4.5) / 2, 9);
    expect(x.mase[1]).toBeCloseTo(1, 9);
    expect(s.scoredCells).toBe(3);
    expect(s.series).toBe(2);
  });

  it('means are per series first, then over series; OWA against naive2', () => {
    const x = s.models['x']!;
    const n2 = s.models['naive2']!;
    const smapeX = (100 / 11 + 600 / 21) / 2;
    const smapeN2 = ((200 / 9 + 40) / 2 + 0) / 2;
    expect(x.smapeMean).toBeCloseTo(smapeX, 9);
    expect(n2.smapeMean).toBeCloseTo(smapeN2, 9);
    expect(x.maseMean).toBeCloseTo((0.5 + 4.5) / 2, 9);
    expect(n2.maseMean).toBeCloseTo((1.5 + 0) / 2, 9);
    expect(x.owa).toBeCloseTo(0.5 * (smapeX / smapeN2 + 2.5 / 0.75), 9);
    expect(n2.owa).toBeCloseTo(1, 12);
  });

  it('counts interval coverage per horizon; naive2 has none', () => {
    expect(s.models['x']!.coverage['0.1-0.9']).toBeCloseTo(2 / 3, 12);
    expect(s.models['x']!.coverageByHorizon['0.1-0.9']).toEqual([0.5, 1]);
    expect(s.models['naive2']!.coverage['0.1-0.9']).toBeNull();
  });

  it('keeps per-series scores with the history length and scale', () => {
    const b = s.perSeries.find((p) => p.series === 'B')!;
    expect(b.historySteps).toBe(4);
    expect(b.scale).toBeCloseTo(2 / 3, 12);
    expect(b.scoredHorizons).toBe(1);
    expect(b.models['x']!.mase).toBeCloseTo(4.5, 9);
  });

  it('a constant history has no MASE (null), never NaN', () => {
    const c = new FixedOriginScorer({ models: ['x'], horizon: 1, seasonSteps: 1, quantiles: [0.5] });
    c.addSeries('C', [3, 3, 3], [3], new Map([['x', forecast('C', [3], [3], [3])]]), 2);
    const out = c.summary({ input: 'in.csv', pipeline: 'p', step: 1, partial: false, training: null, warnings: [] });
    expect(out.models['x']!.maseMean).toBeNull();
    expect(out.models['x']!.owa).toBeNull();
    expect(out.models['x']!.smapeMean).toBe(0);
    expect(JSON.stringify(out)).not.toMatch(/NaN|Infinity/);
  });
});
