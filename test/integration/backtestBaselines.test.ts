import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { datasetsDir, describeWithDatasets } from '../helpers/datasets.js';

interface ModelScores {
  mae: number[];
  maeMean: number;
  mase: number[];
  smape: number[];
  coverage: Record<string, number>;
}
interface Summary {
  input: string;
  pipeline: string;
  step: number;
  horizon: number;
  series: number;
  scoredCells: number;
  warmupSteps: number;
  models: Record<string, ModelScores>;
  best_baseline: string;
  skill: number | null;
}

/**
 * An independent computation of the baselines' prequential errors on a regular series: plain
 * loops over the raw CSV values, sharing no code with the pipeline, forecasters or scorer.
 * Forecast from origin o for horizon h: last value y[o]; seasonal naive y[o + h - m*ceil(h/m)].
 * Cells: origins o ≥ warmup with a target o + h inside the data.
 */
function independent(values: number[], horizon: number, warmup: number, forecast: (o: number, h: number) => number) {
  const mae: number[] = [];
  const smape: number[] = [];
  for (let h = 1; h <= horizon; h++) {
    let abs = 0;
    let sm = 0;
    let n = 0;
    for (let o = warmup; o + h < values.length; o++) {
      const y = values[o + h]!;
      const f = forecast(o, h);
      abs += Math.abs(y - f);
      sm += Math.abs(y) + Math.abs(f) === 0 ? 0 : (200 * Math.abs(y - f)) / (Math.abs(y) + Math.abs(f));
      n++;
    }
    mae.push(abs / n);
    smape.push(sm / n);
  }
  return { mae, smape };
}

describeWithDatasets('backtest --json of the baselines on nyc_taxi matches an independent computation', () => {
  let summary: Summary;
  let values: number[];
  beforeAll(async () => {
    const input = join(datasetsDir, 'nab/realKnownCause/nyc_taxi.csv');
    values = readFileSync(input, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
    // Without retraining: the baselines' figures are what is checked here (backtestGru.test.ts covers the model).
    const r = await runCli(['backtest', 'pipelines/nyc-taxi.yaml', '--input', input, '--json', '--quiet', '--no-retrain']);
    expect(r.stderr).not.toMatch(/unexpected/);
    expect(r.code).toBe(0);
    summary = JSON.parse(r.stdout) as Summary;
  });

  it('has the DESIGN.md shape', () => {
    expect(summary).toMatchObject({ input: 'nyc_taxi.csv', pipeline: 'nyc-taxi', step: 1_800_000, horizon: 12, series: 1, warmupSteps: 672 });
    // "gru" is the pipeline's model: without a trained one, the spec's baseline (seasonal naive 1w).
    expect(Object.keys(summary.models).sort()).toEqual(['gru', 'last-value', 'seasonal-naive-1d', 'seasonal-naive-1w']);
    expect(summary.models['gru']!.mae).toEqual(summary.models['seasonal-naive-1w']!.mae);
    for (const m of Object.values(summary.models)) {
      expect(m.mae).toHaveLength(12);
      expect(m.mase).toHaveLength(12);
      expect(m.smape).toHaveLength(12);
      expect(m.coverage['0.1-0.9']).toBeGreaterThan(0.5);
      expect(m.coverage['0.1-0.9']).toBeLessThanOrEqual(1);
    }
    let cells = 0;
    for (let h = 1; h <= 12; h++) cells += values.length - 672 - h;
    expect(summary.scoredCells).toBe(cells);
  });

  const cases: Array<[string, (v: number[]) => (o: number, h: number) => number]> = [
    ['last-value', (v) => (o) => v[o]!],
    ['seasonal-naive-1d', (v) => (o, h) => v[o + h - 48 * Math.ceil(h / 48)]!],
    ['seasonal-naive-1w', (v) => (o, h) => v[o + h - 336 * Math.ceil(h / 336)]!],
  ];
  for (const [name, make] of cases) {
    it(`${name}: per-horizon MAE and sMAPE`, () => {
      const want = independent(values, 12, 672, make(values));
      const got = summary.models[name]!;
      for (let h = 0; h < 12; h++) {
        expect(got.mae[h]).toBeCloseTo(want.mae[h]!, 6);
        expect(got.smape[h]).toBeCloseTo(want.smape[h]!, 6);
      }
      expect(got.maeMean).toBeCloseTo(want.mae.reduce((a, b) => a + b, 0) / 12, 6);
    });
  }

  it('names the best baseline by mean MAE', () => {
    const best = Object.entries(summary.models).filter(([name]) => name !== 'gru').sort((a, b) => a[1].maeMean - b[1].maeMean)[0]![0];
    expect(summary.best_baseline).toBe(best);
  });
});
