import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/domain/deadLetter.js';
import type { Forecast } from '../../src/domain/forecast.js';
import { assertForecastHygiene } from '../../src/domain/quantiles.js';
import { runCli } from '../helpers/cli.js';
import { datasetsDir, describeWithDatasets } from '../helpers/datasets.js';

const STEP = 30 * 60_000;
const readJsonl = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as T);

/** Timestamps of nyc_taxi.csv, read independently of the pipeline's CSV reader. */
function taxiTimestamps(): number[] {
  return readFileSync(join(datasetsDir, 'nab/realKnownCause/nyc_taxi.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => Date.parse(`${line.split(',')[0]!.replace(' ', 'T')}Z`));
}

describeWithDatasets('replay of NAB nyc_taxi through the full pipeline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-replay-'));
  const input = () => join(datasetsDir, 'nab/realKnownCause/nyc_taxi.csv');

  it('writes one DESIGN.md-shaped forecast per closed step, all hygienic', async () => {
    const out = join(dir, 'f.jsonl');
    const r = await runCli(['replay', 'pipelines/nyc-taxi.yaml', '--input', input(), '--out', out, '--quiet']);
    expect(r.stderr).toContain('done:');
    expect(r.code).toBe(0);
    const forecasts = readJsonl<Forecast>(out);
    const ts = taxiTimestamps();
    expect(forecasts).toHaveLength(ts.length);
    expect(forecasts.map((f) => f.ts)).toEqual(ts);
    for (const f of forecasts) {
      assertForecastHygiene(f);
      expect(f.series).toBe('nyc_taxi');
      expect(f.step).toBe(STEP);
      expect(f.forecast).toHaveLength(12);
      expect(Object.keys(f.forecast[0]!.q)).toEqual(['0.1', '0.5', '0.9']);
      expect(f.model).toEqual({ name: 'nyc-taxi', version: 0, kind: 'baseline' });
      expect(f.imputed).toBe(false);
    }
  });

  describeWithDatasets('with 10% random drops and a 12-hour hole', () => {
    const out = join(dir, 'faulty.jsonl');
    let forecasts: Forecast[] = [];
    let stderr = '';
    const holeStart = Date.parse('2014-10-01T00:00:00Z');
    beforeAll(async () => {
      const r = await runCli([
        'replay', 'pipelines/nyc-taxi.yaml', '--input', input(), '--out', out, '--quiet',
        '--drop', '0.1', '--hole', '2014-10-01T00:00:00Z/12h', '--seed', '7',
      ]);
      expect(r.code).toBe(0);
      stderr = r.stderr;
      forecasts = readJsonl<Forecast>(out);
    });

    it('still forecasts every step of the grid, exactly once', () => {
      const ts = forecasts.map((f) => f.ts);
      for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBe(STEP);
      // The last rows may have been dropped; everything up to the last kept row is present.
      expect(ts.length).toBeGreaterThan(taxiTimestamps().length - 20);
    });

    it('flags the hole and the drops as imputed, and nothing else', () => {
      const inHole = forecasts.filter((f) => f.ts >= holeStart && f.ts < holeStart + 12 * 3_600_000);
      expect(inHole).toHaveLength(24);
      expect(inHole.every((f) => f.imputed)).toBe(true);
      const outside = forecasts.filter((f) => !(f.ts >= holeStart && f.ts < holeStart + 12 * 3_600_000));
      const share = outside.filter((f) => f.imputed).length / outside.length;
      expect(share).toBeGreaterThan(0.08);
      expect(share).toBeLessThan(0.12);
      for (const f of forecasts) assertForecastHygiene(f);
    });

    it('reports the imputed steps in its summary', () => {
      const imputed = forecasts.filter((f) => f.imputed).length;
      // Seasonal imputation falls back to ffill until a season of history exists.
      const reported = /imputed: ([^,]*), gap/.exec(stderr)?.[1] ?? '';
      const counts = [...reported.matchAll(/(\w+)=(\d+)/g)].map((m) => Number(m[2]));
      expect(reported).toMatch(/seasonal=\d+/);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(imputed);
    });
  });

  it('counts malformed lines by reason and dead-letters them', async () => {
    const { writeFileSync } = await import('node:fs');
    const jsonl = join(dir, 'mixed.jsonl');
    const dead = join(dir, 'dead.jsonl');
    const good = (i: number) => JSON.stringify({ series: 's', ts: Date.parse('2024-01-01T00:00:00Z') + i * STEP, value: i });
    writeFileSync(
      jsonl,
      [good(0), '{not json', good(1), '{"series":"s","ts":"yesterday","value":1}', good(2), '{"series":"s","ts":1,"value":"NaN"}', good(3), '[]', good(4)].join('\n') + '\n',
    );
    const r = await runCli(['replay', 'pipelines/nyc-taxi.yaml', '--input', jsonl, '--out', join(dir, 'm.jsonl'), '--dead-letters', dead, '--quiet']);
    expect(r.code).toBe(0);
    const letters = readJsonl<DeadLetter>(dead);
    const reasons = letters.map((d) => d.reason).sort();
    expect(reasons).toContain('invalid_json');
    expect(reasons).toContain('invalid_ts');
    expect(reasons).toContain('invalid_value');
    expect(r.stderr).toMatch(/invalid_json=1/);
    expect(readJsonl<Forecast>(join(dir, 'm.jsonl'))).toHaveLength(5);
  });
});
