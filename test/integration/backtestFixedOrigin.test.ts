import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const HOUR = 3_600_000;
const HELD_OUT = 24;

interface Scores {
  smape: (number | null)[];
  smapeMean: number | null;
  mase: (number | null)[];
  maseMean: number | null;
  owa: number | null;
  coverage: Record<string, number | null>;
  coverageByHorizon: Record<string, (number | null)[]>;
}
interface Summary {
  protocol: string;
  pipeline: string;
  step: number;
  horizon: number;
  seasonSteps: number;
  series: number;
  scoredCells: number;
  models: Record<string, Scores>;
  naive2Seasonal: number;
  served: { kind: string; baseline: string };
  training: unknown;
  partial: boolean;
  perSeries: { series: string; historySteps: number; scoredHorizons: number; models: Record<string, { smape: number | null; mase: number | null }> }[];
  warnings: string[];
}

/**
 * Three hourly series with calendars of their own (a long CSV sorted by time, as several
 * series of different ages arrive): `flat-daily` repeats one daily shape exactly (seasonal naive
 * must be perfect on it), `trend` adds a trend and a pseudo-random wobble, `short` is too short to
 * hold 24 steps out and keep two days of history.
 */
function writeInput(dir: string): string {
  const rows: [number, string, number][] = [];
  const add = (series: string, start: string, n: number, f: (i: number) => number) => {
    const t0 = Date.parse(start);
    for (let i = 0; i < n; i++) rows.push([t0 + i * HOUR, series, f(i)]);
  };
  const shape = (i: number) => 10 + 5 * Math.sin((2 * Math.PI * (i % 24)) / 24) + (i % 24 === 7 ? 3 : 0);
  add('flat-daily', '2021-01-04T00:00:00Z', 24 * 9 + HELD_OUT, shape);
  add('trend', '2021-01-06T05:00:00Z', 24 * 8 + HELD_OUT, (i) => shape(i) + 0.05 * i + ((i * 7919) % 13) / 13);
  add('short', '2021-01-10T00:00:00Z', 40, shape);
  rows.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
  const path = join(dir, 'series.csv');
  writeFileSync(path, `series,ts,value\n${rows.map(([ts, s, v]) => `${s},${new Date(ts).toISOString()},${v}`).join('\n')}\n`);
  return path;
}

const SPEC = `name: fixed-origin-test
input: { topic: t, codec: json }
output: { topic: f }
deadLetter: { topic: d }
window: { step: 1h, aggregate: mean, lateness: 2h, idleClose: 6h }
impute: { strategy: seasonal, maxGap: 2d }
model: { type: gru, hidden: 8, context: 24, horizon: 12, quantiles: [0.1, 0.5, 0.9], timeFeatures: [hourOfDay] }
baseline: { type: seasonal-naive, season: 1d }
retrain: { every: 7d, minHistory: 50, epochs: 1 }
`;

describe('backtest --origin end (fixed origin, sMAPE/MASE/OWA)', () => {
  let dir: string;
  let input: string;
  let spec: string;
  let summary: Summary;
  let stderr: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'streamcast-fixed-origin-'));
    input = writeInput(dir);
    spec = join(dir, 'spec.yaml');
    writeFileSync(spec, SPEC);
    const r = await runCli(['backtest', spec, '--input', input, '--origin', 'end', '--horizon', String(HELD_OUT), '--no-retrain', '--json', '--quiet']);
    stderr = r.stderr;
    expect(r.code, r.stderr).toBe(0);
    summary = JSON.parse(r.stdout) as Summary;
  });

  it('prints the DESIGN.md shape, with --horizon overriding model.horizon', () => {
    expect(summary).toMatchObject({ protocol: 'fixed-origin', pipeline: 'fixed-origin-test', step: HOUR, horizon: HELD_OUT, seasonSteps: 24, series: 2, partial: false, training: null });
    expect(Object.keys(summary.models)).toEqual(['gru', 'last-value', 'seasonal-naive-1d', 'seasonal-naive-1w', 'naive2']);
    expect(summary.served.kind).toBe('baseline');
    for (const m of Object.values(summary.models)) {
      expect(m.smape).toHaveLength(HELD_OUT);
      expect(m.mase).toHaveLength(HELD_OUT);
      expect(m.coverageByHorizon['0.1-0.9']).toHaveLength(HELD_OUT);
    }
    expect(summary.scoredCells).toBe(2 * HELD_OUT);
    expect(summary.models['naive2']!.owa).toBeCloseTo(1, 12);
    expect(summary.models['naive2']!.coverage['0.1-0.9']).toBeNull();
  });

  it('holds out the last steps of each series and forecasts from its own end', () => {
    const bySeries = new Map(summary.perSeries.map((p) => [p.series, p]));
    expect(bySeries.get('flat-daily')!.historySteps).toBe(24 * 9);
    expect(bySeries.get('trend')!.historySteps).toBe(24 * 8);
    expect(bySeries.get('flat-daily')!.scoredHorizons).toBe(HELD_OUT);
  });

  it('scores seasonal naive ≈ 0 on the perfectly daily series, and not on the other', () => {
    const flat = summary.perSeries.find((p) => p.series === 'flat-daily')!;
    expect(flat.models['seasonal-naive-1d']!.smape).toBeLessThan(1e-9);
    expect(flat.models['last-value']!.smape).toBeGreaterThan(1);
    const trend = summary.perSeries.find((p) => p.series === 'trend')!;
    expect(trend.models['seasonal-naive-1d']!.smape).toBeGreaterThan(0.1);
    // MASE is defined on the trending series (its daily differences are not all 0).
    expect(trend.models['seasonal-naive-1d']!.mase).toBeGreaterThan(0);
  });

  it('leaves the too-short series out with a warning that says how to keep it', () => {
    expect(summary.perSeries.map((p) => p.series)).not.toContain('short');
    expect(summary.warnings.join('\n')).toMatch(/1 of 3 series are shorter than .*short.*lower --horizon/);
    expect(stderr).not.toMatch(/NaN|Infinity/);
  });

  it('never prints NaN or Infinity', async () => {
    const r = await runCli(['backtest', spec, '--input', input, '--origin', 'end', '--horizon', String(HELD_OUT), '--no-retrain', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sMAPE%\s+MASE\s+OWA/);
    expect(r.stdout).not.toMatch(/NaN|Infinity/);
  });

  it('trains on the histories, then scores the served model and the uncalibrated one', async () => {
    const r = await runCli(['backtest', spec, '--input', input, '--origin', 'end', '--horizon', String(HELD_OUT), '--json', '--quiet'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Summary & { training: { outcome: string } };
    expect(['promoted', 'rejected']).toContain(s.training.outcome);
    if (s.training.outcome === 'promoted') expect(Object.keys(s.models)).toContain('gru-uncalibrated');
    expect(s.series).toBe(2);
    expect(r.stdout).not.toMatch(/NaN|Infinity/);
  }, 120_000);

  it('a bad combination or flag value exits 2 saying how to fix it', async () => {
    const none = await runCli(['backtest', spec, '--input', input, '--origin', 'end', '--horizon', '300', '--no-retrain', '--quiet']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/every series is shorter than .*lower --horizon/);
    const where = await runCli(['backtest', spec, '--input', input, '--origin', 'middle']);
    expect(where.code).toBe(2);
    expect(where.stderr).toMatch(/prequential, end/);
    const zero = await runCli(['backtest', spec, '--input', input, '--origin', 'end', '--horizon', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--horizon.*whole number ≥ 1/);
    const report = await runCli(['backtest', spec, '--input', input, '--origin', 'end', '--report', join(dir, 'r'), '--no-retrain']);
    expect(report.code).toBe(2);
    expect(report.stderr).toMatch(/--report does not apply to --origin end/);
    const model = await runCli(['backtest', spec, '--input', input, '--origin', 'end', '--model', dir]);
    expect(model.code).toBe(2);
    expect(model.stderr).toMatch(/add --no-retrain/);
  }, 180_000);
});
