import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../src/domain/forecast.js';
import type { NormalizedStep } from '../../../src/domain/step.js';
import type { BacktestSummary } from '../../../src/evaluation/backtestSummary.js';
import { renderHtmlReport } from '../../../src/evaluation/htmlReport.js';
import { ReportTrace } from '../../../src/evaluation/reportTrace.js';

const STEP = 60_000;
const step = (series: string, i: number, value: number, observed = true): NormalizedStep => ({
  series, ts: i * STEP, value, observed, imputed: !observed, sinceObserved: 0, reset: i === 0, z: 0, scale: { mean: 0, std: 1 },
});
const forecast = (series: string, i: number, mean: number): Forecast => ({
  series, ts: i * STEP, step: STEP, imputed: false, model: { name: 'p', version: 0, kind: 'baseline' },
  forecast: [{ h: 1, ts: (i + 1) * STEP, mean, q: { '0.1': mean - 1, '0.5': mean, '0.9': mean + 1 } }],
});

describe('ReportTrace', () => {
  it('pairs each actual with the band forecast for it one step earlier, for the first series only', () => {
    const t = new ReportTrace(1, 3);
    for (let i = 0; i < 5; i++) {
      t.addActual(step('a', i, i * 10, i !== 2));
      t.addActual(step('b', i, -1));
      t.addForecast('m', forecast('a', i, i * 10 + 5));
      t.addForecast('m', forecast('b', i, 99));
    }
    const pts = t.toArray();
    expect(pts.map((p) => p.ts)).toEqual([2 * STEP, 3 * STEP, 4 * STEP]);
    expect(pts.map((p) => p.actual)).toEqual([null, 30, 40]);
    expect(pts[1]!.models.m).toEqual({ mean: 25, lo: 24, hi: 26 });
    expect(t.tracedSeries).toBe('a');
  });
});

describe('renderHtmlReport', () => {
  const summary: BacktestSummary = {
    input: 'x<y>.csv', pipeline: 'p', step: STEP, horizon: 2, series: 1, scoredCells: 10, warmupSteps: 0,
    models: {
      'last-value': { mae: [1, 2], maeMean: 1.5, mase: [1, 1], smape: [10, 20], coverage: { '0.1-0.9': 0.8 } },
      gru: { mae: [0.5, 1], maeMean: 0.75, mase: [0.5, 0.5], smape: [5, 10], coverage: { '0.1-0.9': 0.79 } },
    },
    best_baseline: 'last-value', skill: 0.5,
  };
  it('renders both plots, the table and escapes names', () => {
    const t = new ReportTrace(1);
    for (let i = 0; i < 10; i++) {
      t.addActual(step('a', i, Math.sin(i)));
      t.addForecast('gru', forecast('a', i, Math.sin(i + 1)));
    }
    const html = renderHtmlReport(summary, { series: 'a', h: 1, points: t.toArray(), models: ['gru'] });
    expect(html.match(/<svg/g)).toHaveLength(2);
    expect(html).toContain('x&#60;y&#62;.csv');
    expect(html).toContain('50.0%');
    expect(html).toContain('<polygon');
    expect(html).not.toMatch(/NaN|Infinity/);
  });
});
