import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/** `timestamp,value` rows as the NAB files have them, from 2014-03-07 00:00 UTC. */
function nabCsv(rows: number, stepMs: number): string {
  const t0 = Date.UTC(2014, 2, 7);
  const lines = ['timestamp,value'];
  for (let i = 0; i < rows; i++) lines.push(`${new Date(t0 + i * stepMs).toISOString().slice(0, 19).replace('T', ' ')},${(50 + 10 * Math.sin(i / 7) + (i % 5)).toFixed(3)}`);
  return `${lines.join('\n')}\n`;
}

interface Summary {
  scoredCells: number;
  served: { kind: string; baseline: string; versions: number[] };
  inSample: { fraction: number; models: { version: number }[] } | null;
  warnings: string[];
}

describe('backtest refuses or warns, with the fix in the message', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-honesty-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a warm-up that eats the whole file (exit 2) and names a --warmup that works', async () => {
    // ec2_request_latency_system_failure's shape: 4,032 five-minute rows; default warm-up 2 × 1 week.
    const input = join(dir, 'ec2.csv');
    writeFileSync(input, nabCsv(4032, 300_000));
    const r = await runCli(['backtest', 'pipelines/nab-5min.yaml', '--input', input, '--no-retrain', '--json', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('covers all of the data');
    expect(r.stderr).toContain('--warmup 2016');
    const ok = await runCli(['backtest', 'pipelines/nab-5min.yaml', '--input', input, '--no-retrain', '--json', '--quiet', '--warmup', '2016']);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as Summary).scoredCells).toBeGreaterThan(0);
  });

  it('warns when hourly data goes through a 5-minute spec, and labels the baseline that served as the gru column', async () => {
    const input = join(dir, 'hourly.csv');
    writeFileSync(input, nabCsv(24 * 40, 3_600_000));
    const r = await runCli(['backtest', 'pipelines/nab-5min.yaml', '--input', input, '--no-retrain', '--json', '--warmup', '0']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('median spacing of 1h');
    expect(r.stderr).toContain('window.step: 1h');
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.warnings.some((w) => w.includes('median spacing of 1h'))).toBe(true);
    expect(s.served).toMatchObject({ kind: 'baseline', baseline: 'seasonal-naive-1d', versions: [] });
    const table = await runCli(['backtest', 'pipelines/nab-5min.yaml', '--input', input, '--no-retrain', '--quiet', '--warmup', '0']);
    expect(table.stdout).toContain('gru = baseline seasonal-naive-1d (no GRU served)');
  });

  it('says in-sample when the loaded model was trained on the data it is scored on (meta.json range)', async () => {
    // The shipped demo model was trained on this very file.
    const input = 'node_modules/vega-datasets/data/seattle-weather-hourly-normals.csv';
    const report = join(dir, 'report');
    const r = await runCli(['backtest', 'pipelines/demo.yaml', '--input', input, '--model', 'models', '--no-retrain', '--json', '--report', report], { timeoutMs: 170_000 });
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.served).toMatchObject({ kind: 'gru', versions: [1] });
    expect(s.inSample!.fraction).toBeGreaterThan(0.9);
    expect(s.inSample!.models.map((m) => m.version)).toEqual([1]);
    expect(s.warnings.some((w) => w.startsWith('in-sample:'))).toBe(true);
    expect(r.stderr).toContain('in-sample:');
    expect(readFileSync(join(report, 'index.html'), 'utf8')).toContain('gru v1 (in-sample)');
  }, 180_000);
});
