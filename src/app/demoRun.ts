import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendFlags } from '../config/backendConfig.js';
import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import type { Sink } from '../connectors/sink.js';
import { DiscardSink } from '../connectors/memory/discardSink.js';
import type { Logger } from '../observability/logger.js';
import { loadSpec } from '../spec/loadSpec.js';
import { AppObservability, type HttpFlags } from './appObservability.js';
import { backendDetail, describeBackends, startComputeBackends } from './computeBackends.js';
import { buildReplayRun, describeRun, runReplay, type ReplayProgress } from './replayRun.js';

export interface DemoOptions {
  readonly logger: Logger;
  readonly backends: BackendFlags;
  readonly http: HttpFlags;
  /** Input rows per second; 0 or absent: as fast as possible. */
  readonly rate?: number | undefined;
  /** Stop after this many input rows. */
  readonly limit?: number | undefined;
  /** InfluxDB 1.x history, e.g. http://127.0.0.1:8086/streamcast. */
  readonly influxUrl?: string | undefined;
  /** Where forecasts go as they are made; `progress` is the fraction of the data set replayed. */
  readonly forecasts: (progress: () => number) => Sink<Forecast>;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The demo's data: Seattle hourly weather normals, shipped by the vega-datasets npm package. */
export function demoDataPath(): string {
  const require = createRequire(import.meta.url);
  // The package exports only its JS entry (build/index.js); its data folder sits beside build/.
  return join(dirname(require.resolve('vega-datasets')), '..', 'data', 'seattle-weather-hourly-normals.csv');
}

/** The demo prints its forecasts; it shows no progress bar. */
const NO_PROGRESS: ReplayProgress = { update: () => undefined, phase: () => undefined, stop: () => undefined };

/**
 * The embedded demo: a real data set replayed in-process through the full pipeline
 * (pipelines/demo.yaml), forecasts handed to `forecasts` as they are made, metrics served on
 * /metrics. The GRU from models/ serves when one ships (else the baseline), retrained beside the
 * stream as the spec says. Needs no server.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const { logger } = opts;
  const backends = await startComputeBackends(opts.backends, logger);
  const run = buildReplayRun(
    loadSpec(join(packageRoot, 'pipelines', 'demo.yaml')),
    { paths: [demoDataPath()], ...(opts.rate ? { rate: opts.rate } : {}), ...(opts.limit !== undefined ? { limit: opts.limit } : {}) },
    { models: join(packageRoot, 'models'), retrain: 'background', logger, trainBackend: backends.config.train },
  );
  const trainOn = await run.retrainer.startTrainer();
  logger.info(backendDetail(backends, run.runtime.trainBackend), `compute backends: ${describeBackends(backends, trainOn)}`);
  const observability = new AppObservability();
  // Live accuracy and (with --influx) history ride on the batch hook; model metrics on the forecaster.
  const observed = observability.pipeline(run.spec, logger, { influxUrl: opts.influxUrl });
  const { events } = observed;
  const served = { ...run, forecaster: observed.instrument(run.forecaster) };
  const http = await observability.serve(
    opts.http,
    { health: () => ({ live: true }), readiness: () => ({ ready: true }), readyDetail: () => ({ backends: backendDetail(backends, run.runtime.trainBackend) }) },
    logger,
  );
  if (http !== undefined) {
    events({ type: 'readiness', ready: true });
    logger.info(`metrics on http://${opts.http.host ?? '127.0.0.1'}:${http.port}/metrics, latest forecasts on /series/<pressure|temperature|wind>`);
  }
  try {
    const { elapsedMs, stoppedEarly } = await runReplay(
      served,
      { forecasts: opts.forecasts(() => run.source.progress?.() ?? 0), deadLetters: new DiscardSink<DeadLetter>() },
      { progress: NO_PROGRESS, events, onBatch: observed.onBatch },
    );
    process.stderr.write(`${stoppedEarly ? 'stopped' : 'done'}: ${describeRun(run.stats, elapsedMs)}\n`);
  } finally {
    const history = await observed.close();
    if (history) logger.info(history, 'InfluxDB history: points written, dropped');
    await observability.stop();
  }
}
