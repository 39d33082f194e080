/**
 * Replay throughput on one core: points/s through the whole pipeline (CSV parse → resample →
 * impute → normalize → micro-batch → baseline forecaster → sink), next to the source alone
 * (parse + merge) as the ceiling, in the same run. Uses the shared data sets when present,
 * else a synthetic wide CSV of the same size.
 *
 *   npm run bench -- replay
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lastValueFrom, count } from 'rxjs';
import { ManualClock } from '../src/domain/clock.js';
import type { DeadLetter } from '../src/domain/deadLetter.js';
import type { Forecast } from '../src/domain/forecast.js';
import { FileReplaySource } from '../src/connectors/replay/fileReplaySource.js';
import { withEventTimeClock } from '../src/connectors/replay/eventTimeSource.js';
import type { Sink } from '../src/connectors/sink.js';
import { createForecaster } from '../src/forecasting/createForecaster.js';
import { loadSpec } from '../src/spec/loadSpec.js';
import { PipelineRunner } from '../src/runtime/pipelineRunner.js';
import { BatchCheckpoints } from '../src/runtime/checkpoint/batchCheckpoints.js';
import { NoopCommitter } from '../src/connectors/noopCommitter.js';
import { encodeForecast } from '../src/codecs/forecastJson.js';
import { JsonlFileSink } from '../src/connectors/replay/jsonlFileSink.js';

const root = resolve(import.meta.dirname, '..');
const shared = resolve(root, '..', 'shared', 'datasets');

class CountingSink<T> implements Sink<T> {
  readonly name = 'count';
  n = 0;
  async write(items: readonly T[]): Promise<void> {
    this.n += items.length;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

function inputs(): { label: string; spec: string; paths: string[] }[] {
  if (existsSync(shared)) {
    const tweets = join(shared, 'nab', 'realTweets');
    return [
      { label: 'nyc_taxi (1 series, 10,320 points)', spec: 'pipelines/nyc-taxi.yaml', paths: [join(shared, 'nab/realKnownCause/nyc_taxi.csv')] },
      { label: 'ETTh1 (7 series, 121,940 points)', spec: 'pipelines/etth1.yaml', paths: [join(shared, 'ett/ETTh1.csv')] },
      {
        label: 'realTweets (10 series, 158,631 points)',
        spec: 'pipelines/nab-5min.yaml',
        paths: ['AAPL', 'AMZN', 'CRM', 'CVS', 'FB', 'GOOG', 'IBM', 'KO', 'PFE', 'UPS'].map((t) => join(tweets, `Twitter_volume_${t}.csv`)),
      },
    ];
  }
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-bench-'));
  const path = join(dir, 'synthetic.csv');
  const rows = ['timestamp,' + Array.from({ length: 8 }, (_, i) => `s${i}`).join(',')];
  for (let t = 0; t < 20_000; t++) {
    const ts = new Date(Date.UTC(2020, 0, 1) + t * 3_600_000).toISOString();
    rows.push(ts + ',' + Array.from({ length: 8 }, (_, i) => (Math.sin(t / 24 + i) * 10 + i).toFixed(3)).join(','));
  }
  writeFileSync(path, rows.join('\n') + '\n');
  return [{ label: 'synthetic (8 series, 160,000 points)', spec: 'pipelines/etth1.yaml', paths: [path] }];
}

async function sourceOnly(paths: string[]): Promise<{ points: number; ms: number }> {
  const source = new FileReplaySource({ paths });
  let points = 0;
  const t0 = performance.now();
  await source.start();
  await lastValueFrom(source.records().pipe(count((r) => ((points += r.points.length), true))));
  return { points, ms: performance.now() - t0 };
}

async function fullPipeline(specPath: string, paths: string[], out?: string): Promise<{ points: number; forecasts: number; ms: number }> {
  const spec = loadSpec(join(root, specPath));
  const clock = new ManualClock(0);
  const source = new FileReplaySource({ paths });
  const sink: Sink<Forecast> = out ? new JsonlFileSink<Forecast>(out, { serialize: encodeForecast }) : new CountingSink<Forecast>();
  let points = 0;
  let forecasts = 0;
  const input = withEventTimeClock(source, clock);
  const runner = new PipelineRunner({
    spec,
    source: input,
    forecaster: createForecaster(spec),
    checkpoints: new BatchCheckpoints(new NoopCommitter({ forecasts: sink, deadLetters: new CountingSink<DeadLetter>(), source: input })),
    clock,
    events: (e) => {
      if (e.type === 'points_in') points += e.count;
      if (e.type === 'forecasts_out') forecasts += e.count;
    },
  });
  const t0 = performance.now();
  await runner.run();
  await sink.close();
  return { points, forecasts, ms: performance.now() - t0 };
}

export async function benchReplay(): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'streamcast-bench-out-'));
  for (const { label, spec, paths } of inputs()) {
    const src = await sourceOnly(paths);
    const full = await fullPipeline(spec, paths);
    const withJson = await fullPipeline(spec, paths, join(tmp, 'f.jsonl'));
    const pps = (n: number, ms: number) => Math.round(n / (ms / 1000));
    rows.push({
      input: label,
      'source only (pts/s)': pps(src.points, src.ms),
      'pipeline (pts/s)': pps(full.points, full.ms),
      'pipeline + JSONL file (pts/s)': pps(withJson.points, withJson.ms),
      'pipeline / source': +(full.ms > 0 ? src.ms / full.ms : 0).toFixed(3),
      forecasts: full.forecasts,
    });
  }
  return rows;
}
