import { describe, expect, it } from 'vitest';
import type { BacktestSummary } from '../../../src/evaluation/backtestSummary.js';
import { formatNumber, formatTable } from '../../../src/evaluation/formatTable.js';

const summary: BacktestSummary = {
  input: 'nyc_taxi.csv',
  pipeline: 'nyc-taxi',
  step: 1_800_000,
  horizon: 3,
  series: 1,
  scoredCells: 300,
  warmupSteps: 672,
  models: {
    gru: { mae: [500, 600, 700], maeMean: 600, mase: [0.5, 0.6, 0.7], smape: [5, 6, 7], coverage: { '0.1-0.9': 0.81 } },
    'last-value': { mae: [800, 1000, 1200], maeMean: 1000, mase: [1, 1, 1], smape: [8, 9, 10], coverage: { '0.1-0.9': 0.7 } },
    'seasonal-naive-1w': { mae: [750, 750, 750], maeMean: 750, mase: [null, null, null], smape: [7, 7, 7], coverage: { '0.1-0.9': null } },
  },
  best_baseline: 'seasonal-naive-1w',
  skill: 0.2,
};

describe('formatTable', () => {
  const text = formatTable(summary);
  const lines = text.split('\n');

  it('has a header, a rule, one row per model and a footer', () => {
    expect(lines).toHaveLength(2 + 1 + 3 + 1);
    expect(lines[0]).toContain('nyc-taxi on nyc_taxi.csv');
    expect(lines[0]).toContain('300 scored cells');
    expect(lines[1]!.split(/\s+/)).toEqual(['model', 'h=1', 'h=2', 'h=3', 'MAE', 'MASE', 'sMAPE%', 'cov', '0.1-0.9', 'skill']);
    expect(lines[3]!.startsWith('gru ')).toBe(true);
    expect(lines[6]).toBe('best baseline: seasonal-naive-1w; skill of gru vs best baseline: 20.0%');
  });

  it('shows the numbers, skill per model against the best baseline, and dashes for missing values', () => {
    expect(lines[3]!.split(/\s+/)).toEqual(['gru', '500.0', '600.0', '700.0', '600.0', '0.6000', '6.000', '0.8100', '+20.0%']);
    expect(lines[4]!.split(/\s+/)).toEqual(['last-value', '800.0', '1000', '1200', '1000', '1.000', '9.000', '0.7000', '-33.3%']);
    expect(lines[5]!.split(/\s+/)).toEqual(['seasonal-naive-1w', '750.0', '750.0', '750.0', '750.0', '–', '7.000', '–', '+0.0%']);
  });

  it('aligns columns: every table line has the same width', () => {
    const widths = lines.slice(1, 6).map((l) => l.length);
    expect(new Set(widths).size).toBe(1);
  });

  it('formats numbers compactly', () => {
    expect(formatNumber(null)).toBe('–');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(1234567)).toBe('1.23e+6');
    expect(formatNumber(0.0001234)).toBe('1.23e-4');
    expect(formatNumber(12.3456)).toBe('12.35');
  });
});
