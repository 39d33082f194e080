import { freePort } from '../../helpers/freePort.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { demoDataPath } from '../../../src/app/demoRun.js';
import type { Forecast } from '../../../src/domain/forecast.js';
import { runCli, type CliResult } from '../../helpers/cli.js';
import { loadDashboards, queriesOf, substitute, variableQuery } from '../../helpers/dashboards.js';
import { describeWithInflux, requireInfluxUrl } from '../../helpers/services.js';

/** A real InfluxDB 1.x: `replay --influx` writes history; it is queried back with InfluxQL, as Grafana does. */

interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}


const LIMIT = '200';

describeWithInflux('InfluxDB history (replay --influx) and the dashboards\' InfluxQL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-influx-'));
  const db = `streamcast_test_${randomBytes(4).toString('hex')}`;
  let base = '';
  let run: CliResult;
  let forecasts: Forecast[] = [];

  const influxql = async (q: string): Promise<InfluxSeries[]> => {
    const res = await fetch(`${base}/query?db=${db}&epoch=ms&q=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { results: { series?: InfluxSeries[]; error?: string }[]; error?: string };
    const r = body.results?.[0];
    if (body.error !== undefined || r?.error !== undefined) throw new Error(`${q}: ${body.error ?? r?.error ?? ''}`);
    return r?.series ?? [];
  };
  const scalar = async (q: string): Promise<number> => Number((await influxql(q))[0]?.values[0]?.[1] ?? 0);

  beforeAll(async () => {
    base = requireInfluxUrl().replace(/\/+$/, '');
    // --drop: some steps are imputed, which the Actual line must leave out.
    run = await runCli(['replay', 'pipelines/demo.yaml', '--input', demoDataPath(), '--limit', LIMIT, '--drop', '0.15', '--seed', '7', '--quiet', '--out', join(dir, 'f.jsonl'), '--influx', `${base}/${db}`]);
    forecasts = readFileSync(join(dir, 'f.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Forecast);
  }, 120_000);

  afterAll(async () => {
    await fetch(`${base}/query?q=${encodeURIComponent(`DROP DATABASE "${db}"`)}`, { method: 'POST' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('completes, creates the database and reports every point written', async () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/InfluxDB history: \d+ points written, 0 dropped/);
    const names = (await influxql('SHOW DATABASES'))[0]?.values.flat();
    expect(names).toContain(db);
  });

  it('keeps one actual per closed step and one forecast point per horizon', async () => {
    expect(forecasts.length).toBeGreaterThan(300);
    expect(await scalar('SELECT count("value") FROM "actual"')).toBe(forecasts.length);
    expect(await scalar('SELECT count("mean") FROM "forecast"')).toBe(forecasts.length * 12);
    const written = Number(/(\d+) points written/.exec(run.stderr)?.[1]);
    const errors = await scalar('SELECT count("abs_error") FROM "forecast_error"');
    expect(errors).toBeGreaterThan(0);
    expect(written).toBe(forecasts.length * 13 + errors);
  });

  it('stores forecasts at their target time with every quantile, as in the forecast output', async () => {
    const f = forecasts[Math.floor(forecasts.length / 2)]!;
    const cell = f.forecast[2]!;
    const rows = await influxql(`SELECT "mean", "q_0_1", "q_0_5", "q_0_9" FROM "forecast" WHERE "series" = '${f.series}' AND "h" = '3' AND time = ${cell.ts}ms`);
    expect(rows[0]?.values).toEqual([[cell.ts, cell.mean, cell.q['0.1'], cell.q['0.5'], cell.q['0.9']]]);
  });

  it('stores each error as |actual - forecast mean| at the target time', async () => {
    const [row] = (await influxql(`SELECT "abs_error" FROM "forecast_error" WHERE "h" = '2' AND "series" = 'temperature' LIMIT 1 OFFSET 20`))[0]?.values ?? [];
    const [ts, absError] = row as [number, number];
    const actual = await scalar(`SELECT "value" FROM "actual" WHERE "series" = 'temperature' AND time = ${ts}ms`);
    const mean = await scalar(`SELECT "mean" FROM "forecast" WHERE "series" = 'temperature' AND "h" = '2' AND time = ${ts}ms`);
    expect(absError).toBeCloseTo(Math.abs(actual - mean), 9);
  });

  it('every InfluxQL query of every dashboard (and the series picker) returns data', async () => {
    const first = Math.min(...forecasts.map((f) => f.ts));
    const last = Math.max(...forecasts.map((f) => f.forecast[f.forecast.length - 1]!.ts));
    const vars = { pipeline: 'demo', series: 'temperature', h: '1', timeFilter: `time >= ${first}ms AND time <= ${last}ms`, __interval: '1h' };
    let checked = 0;
    for (const [file, d] of loadDashboards()) {
      for (const v of d.templating.list.filter((x) => x.datasource?.type === 'influxdb')) {
        const values = (await influxql(substitute(variableQuery(v) ?? '', vars))).flatMap((s) => s.values.map((r) => r[1]));
        expect(values.sort(), `${file} $${v.name}`).toEqual(['pressure', 'temperature', 'wind']);
        checked++;
      }
      for (const q of queriesOf(file, d).filter((x) => x.kind === 'influxdb')) {
        const text = substitute(q.text, vars);
        expect(text).not.toMatch(/\$\w/);
        const series = await influxql(text);
        expect(series.length, `${file} / ${q.panel} / ${q.refId}: ${text}`).toBeGreaterThan(0);
        expect(series.every((s) => s.values.length > 0)).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  it('the dashboard\'s Actual line leaves imputed steps out', async () => {
    const actual = queriesOf('forecasts.json', loadDashboards().get('forecasts.json')!).find((q) => q.panel.startsWith('Actual vs forecast') && q.refId === 'A')!;
    const first = Math.min(...forecasts.map((f) => f.ts));
    const last = Math.max(...forecasts.map((f) => f.ts));
    const observed = forecasts.filter((f) => f.series === 'temperature' && !f.imputed);
    const imputed = forecasts.filter((f) => f.series === 'temperature' && f.imputed);
    expect(imputed.length).toBeGreaterThan(0);
    // One point per step: the GROUP BY interval below the step.
    const text = substitute(actual.text, { pipeline: 'demo', series: 'temperature', timeFilter: `time >= ${first}ms AND time <= ${last}ms`, __interval: '1m' });
    const times = (await influxql(text)).flatMap((s) => s.values.map((r) => r[0] as number));
    expect(times.sort((a, b) => a - b)).toEqual(observed.map((f) => f.ts).sort((a, b) => a - b));
  });

  it('with InfluxDB away the run still completes; history is dropped and counted', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const r = await runCli(['replay', 'pipelines/demo.yaml', '--input', demoDataPath(), '--limit', '60', '--quiet', '--out', join(dir, 'down.jsonl'), '--influx', `http://127.0.0.1:${port}/${db}`]);
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(join(dir, 'down.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(100);
    const m = /InfluxDB history: (\d+) points written, (\d+) dropped/.exec(r.stderr);
    expect(m?.[1]).toBe('0');
    expect(Number(m?.[2])).toBeGreaterThanOrEqual(lines.length * 13);
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 90_000);
});
