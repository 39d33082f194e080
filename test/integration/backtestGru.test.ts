import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { datasetsDir, describeWithDatasets } from '../helpers/datasets.js';

interface ModelScores {
  mae: (number | null)[];
  maeMean: number | null;
  coverage: Record<string, number | null>;
}
interface Summary {
  scoredCells: number;
  models: Record<string, ModelScores>;
  best_baseline: string;
  skill: number | null;
}

/**
 * `streamcast backtest` with the pipeline's model retraining as configured (nyc-taxi: every 7 d
 * once 1344 steps exist), on the first 2,400 half-hours of nyc_taxi: four blocking retrains.
 */
describeWithDatasets('backtest with the GRU runtime on a slice of nyc_taxi', () => {
  const input = join(datasetsDir, 'nab/realKnownCause/nyc_taxi.csv');
  const args = ['backtest', 'pipelines/nyc-taxi.yaml', '--input', input, '--limit', '2400', '--json', '--quiet', '--history', '2400'];
  let stateful: Summary;
  let stateless: Summary;
  let noRetrain: Summary;
  beforeAll(async () => {
    const [a, b, c] = await Promise.all([runCli(args, { timeoutMs: 170_000 }), runCli([...args, '--stateless'], { timeoutMs: 170_000 }), runCli([...args, '--no-retrain'], { timeoutMs: 170_000 })]);
    for (const r of [a, b, c]) {
      // Quiet: nothing on stderr but, without retraining, the one warning that says the gru column is the baseline.
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      if (r === c) {
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/no GRU served: retraining was off/);
      } else {
        expect(lines).toEqual([]);
      }
      // The process exits by itself: no trainer worker keeps it alive.
      expect(r.signal).toBeNull();
      expect(r.code).toBe(0);
    }
    stateful = JSON.parse(a.stdout) as Summary;
    stateless = JSON.parse(b.stdout) as Summary;
    noRetrain = JSON.parse(c.stdout) as Summary;
  }, 180_000);

  it('scores "gru" beside the baselines on the same cells, with skill against the best', () => {
    expect(Object.keys(stateful.models).sort()).toEqual(['gru', 'gru-uncalibrated', 'last-value', 'seasonal-naive-1d', 'seasonal-naive-1w']);
    // The model before online calibration, on the same cells: present once a GRU served, and not what was served.
    expect(Object.keys(noRetrain.models)).not.toContain('gru-uncalibrated');
    const raw = stateful.models['gru-uncalibrated']!;
    expect(raw.mae.every((v) => v !== null && Number.isFinite(v))).toBe(true);
    expect(raw.mae).not.toEqual(stateful.models['gru']!.mae);
    expect(stateful.scoredCells).toBeGreaterThan(10_000);
    expect(stateful.scoredCells).toBe(noRetrain.scoredCells);
    const gru = stateful.models['gru']!;
    expect(gru.mae).toHaveLength(12);
    expect(gru.mae.every((v) => v !== null && Number.isFinite(v))).toBe(true);
    const best = stateful.models[stateful.best_baseline]!.maeMean!;
    expect(stateful.skill).toBeCloseTo(1 - gru.maeMean! / best, 9);
    // Retraining changed what was served (without it, "gru" is the spec's baseline: seasonal naive 1w).
    expect(noRetrain.models['gru']!.mae).toEqual(noRetrain.models['seasonal-naive-1w']!.mae);
    expect(gru.maeMean).not.toBe(noRetrain.models['gru']!.maeMean);
    expect(gru.coverage['0.1-0.9']).toBeGreaterThan(0.5);
  });

  it('--stateless changes the GRU results, not the baselines', () => {
    expect(stateless.scoredCells).toBe(stateful.scoredCells);
    expect(stateless.models['gru']!.maeMean).not.toBe(stateful.models['gru']!.maeMean);
    expect(stateless.models['seasonal-naive-1w']).toEqual(stateful.models['seasonal-naive-1w']);
  });
});
