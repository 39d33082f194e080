import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../src/domain/forecast.js';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { displayName, type BacktestSummary } from '../../../src/evaluation/backtestSummary.js';
import { pickerHorizons, renderHtmlReport, reportData, type ReportInput } from '../../../src/evaluation/htmlReport.js';
import { colorScale } from '../../../src/evaluation/reportCharts.js';
import { ReportTrace } from '../../../src/evaluation/reportTrace.js';

const STEP = 60_000;
const H = 3;
const step = (series: string, i: number, value: number, observed = true): NormalizedStep => ({
  series, ts: i * STEP, value, observed, imputed: !observed, sinceObserved: 0, reset: i === 0, z: 0, scale: { mean: 0, std: 1 },
});
/** Mean ≠ median on purpose: the report must draw the median when 0.5 is a level. */
const forecast = (series: string, i: number, centre: number): Forecast => ({
  series, ts: i * STEP, step: STEP, imputed: false, model: { name: 'p', version: 0, kind: 'baseline' },
  forecast: Array.from({ length: H }, (_, k) => ({ h: k + 1, ts: (i + k + 1) * STEP, mean: centre + 100, q: { '0.1': centre - 1, '0.5': centre, '0.9': centre + 1 } })),
});

describe('ReportTrace', () => {
  it('keeps every horizon of each model per traced series, the target first, capped in series and steps', () => {
    const t = new ReportTrace({ models: ['gru'], horizon: H, quantiles: [0.1, 0.5, 0.9], capacity: 3, maxSeries: 2, target: 'c' });
    for (let i = 0; i < 5; i++) {
      for (const s of ['a', 'b', 'c']) t.add(step(s, i, i * 10, i !== 2), { gru: forecast(s, i, i * 10 + 5) });
    }
    const out = t.toArray();
    expect(out.map((x) => x.series)).toEqual(['c', 'a']);
    const c = out[0]!;
    expect(c.steps.map((p) => p.ts)).toEqual([2 * STEP, 3 * STEP, 4 * STEP]);
    expect(c.steps.map((p) => p.actual)).toEqual([null, 30, 40]);
    expect(t.centre).toBe('median');
    expect(t.pairs).toEqual(['0.1-0.9']);
    // h = 2 at step 3: centre (median, not the mean), lo, hi.
    const f = c.steps[1]!.forecasts['gru']!;
    expect([...f.subarray(t.stride, 2 * t.stride)]).toEqual([35, 34, 36]);
  });
});

describe('renderHtmlReport', () => {
  const summary: BacktestSummary = {
    input: 'x<y>.csv', pipeline: 'p', step: STEP, horizon: H, series: 2, scoredCells: 10, warmupSteps: 0,
    models: {
      gru: { mae: [0.5, 1, 1.5], maeMean: 1, mase: [0.5, 0.5, 0.5], smape: [5, 10, 15], coverage: { '0.1-0.9': 0.79 }, coverageByHorizon: { '0.1-0.9': [0.8, 0.79, 0.78] } },
      'last-value': { mae: [1, 2, 3], maeMean: 2, mase: [1, 1, 1], smape: [10, 20, 30], coverage: { '0.1-0.9': 0.8 }, coverageByHorizon: { '0.1-0.9': [0.85, 0.8, 0.75] } },
    },
    best_baseline: 'last-value', skill: 0.5, partial: true,
    served: { kind: 'baseline', baseline: 'seasonal-naive-1d', versions: [], gruFrom: null }, inSample: null, warnings: ['window.step is 5m but the data has a median spacing of 1h'],
  };
  const input = (): ReportInput => {
    const t = new ReportTrace({ models: ['gru', 'last-value'], horizon: H, quantiles: [0.1, 0.5, 0.9] });
    for (let i = 0; i < 40; i++) {
      for (const s of ['a', 'b']) t.add(step(s, i, Math.sin(i)), { gru: forecast(s, i, Math.sin(i + 1)), 'last-value': forecast(s, i, Math.sin(i)) });
    }
    return {
      summary, traces: t.toArray(), traced: ['gru', 'last-value'], centre: t.centre, pairs: t.pairs, stride: t.stride, seriesSeen: 2,
      seriesScores: [{ series: 'a', cells: 5, mae: { gru: 1, 'last-value': 2 }, mase: { gru: 0.5, 'last-value': 1 } }, { series: 'b', cells: 5, mae: { gru: 1, 'last-value': 2 }, mase: { gru: 0.5, 'last-value': 1 } }],
      meta: { command: 'streamcast backtest p.yaml', specPath: 'p.yaml', specText: 'name: p', dataRange: { firstTs: 0, lastTs: 39 * STEP }, model: 'baseline seasonal-naive-1d', training: [], createdAt: '2026-12-07T00:00:00Z' },
    };
  };

  it('labels the pipeline model as the baseline it was, marks a partial run and shows the warnings, escaping names', () => {
    const html = renderHtmlReport(input(), '/* vega */');
    expect(html).toContain('x&#60;y&#62;.csv');
    expect(html).toContain('gru = baseline seasonal-naive-1d (no GRU served)');
    expect(html).toContain('(partial)');
    expect(html).toContain('Partial run');
    expect(html).toContain('median spacing of 1h');
    expect(html).toContain('/* vega */');
    expect(html).toContain('<div id="overview"');
    expect(html).toContain('<div id="detail"');
    expect(html).toContain('<div id="horizon"');
    expect(html).not.toMatch(/NaN|Infinity/);
    // The inlined data cannot close the script element it sits in.
    const data = html.slice(html.indexOf('id="report-data">'), html.indexOf('</script>', html.indexOf('id="report-data">')));
    expect(data).not.toContain('<');
  });

  it('gives the fan chart every horizon from each offered origin and the trace the picked horizons, with the median as the centre', () => {
    const data = reportData(input());
    const fan = data['fan']!;
    const names = fan['$m'] as string[];
    const rows = fan['k']!.map((k, i) => ({ k, h: fan['h']![i], m: names[fan['m']![i] as number], md: fan['md']![i], s: (fan['$s'] as string[])[fan['s']![i] as number] }));
    const newest = rows.filter((r) => r.k === 23 && r.s === 'a' && r.m === displayName('gru', summary));
    expect(newest.map((r) => r.h)).toEqual([1, 2, 3]);
    // Origin index 36 (40 steps, the newest whose 3 targets are inside): centre sin(37), the median.
    expect(newest[0]!.md).toBeCloseTo(Math.sin(37), 4);
    expect(pickerHorizons(24)).toEqual([1, 6, 12, 24]);
    expect(pickerHorizons(1)).toEqual([1]);
    const cov = data['horizon']!;
    expect(cov['cov']!.slice(0, 3)).toEqual([0.8, 0.79, 0.78]);
  });

  it('gives every model one colour, the same in every chart', () => {
    const a = colorScale(['gru', 'last-value', 'seasonal-naive-1d']);
    expect(a.domain).toEqual(['actual', 'gru', 'last-value', 'seasonal-naive-1d']);
    expect(new Set(a.range).size).toBe(4);
    const html = renderHtmlReport(input(), '');
    const specs = JSON.parse(html.slice(html.indexOf('id="report-data">') + 'id="report-data">'.length, html.indexOf('</script>', html.indexOf('id="report-data">')))).specs;
    const scales = JSON.stringify(specs).match(/"scale":\{"domain":\[[^\]]*\],"range":\[[^\]]*\]\}/g)!;
    expect(scales.length).toBeGreaterThan(5);
    expect(new Set(scales).size).toBe(1);
  });
});

describe('reportData', () => {
  it('keeps timestamps exact while it rounds measured values', () => {
    const ts = Date.UTC(2016, 6, 1, 13);
    const t = new ReportTrace({ models: ['gru'], horizon: 1, quantiles: [0.5] });
    t.add({ series: 's', ts, value: 1.23456789, observed: true, imputed: false, sinceObserved: 0, reset: false, z: 0, scale: { mean: 0, std: 1 } }, {});
    const data = reportData({ summary: { input: '', pipeline: 'p', step: 3_600_000, horizon: 1, series: 1, scoredCells: 0, warmupSteps: 0, models: {}, best_baseline: null, skill: null }, traces: t.toArray(), traced: ['gru'], centre: 'median', pairs: [], stride: 1, seriesScores: [], seriesSeen: 1, meta: { command: '', specPath: '', specText: '', dataRange: null, model: '', training: [], createdAt: '' } });
    expect(data['actual']!['t']).toEqual([ts]);
    expect(data['actual']!['y']).toEqual([1.2346]);
  });
});
