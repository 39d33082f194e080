import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import type { Sink } from '../../connectors/sink.js';
import type { BackendFlags } from '../../config/backendConfig.js';
import { cliLogger, type LogFlags } from '../cliLogger.js';
import { createMetrics, metricsListener } from '../../observability/metrics.js';
import { collectProcessMetrics } from '../../observability/operatorMetrics.js';
import { HttpServer } from '../../runtime/httpServer.js';
import { instrumentForecaster } from '../../observability/instrumentForecaster.js';
import { LatestForecasts } from '../../observability/latestForecasts.js';
import { createLiveObservers } from '../../runtime/liveObservers.js';
import { backendDetail, describeBackends, startComputeBackends } from '../computeBackends.js';
import { describeRun, DiscardSink, replayParts, replayRuntime, runReplay } from './replay.js';

export interface DemoFlags extends BackendFlags, LogFlags {
  rate?: number;
  limit?: number;
  port?: number;
  host?: string;
  http?: boolean;
  quiet?: boolean;
  /** InfluxDB 1.x history, e.g. http://127.0.0.1:8086/streamcast. */
  influx?: string;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The demo's data: Seattle hourly weather normals, shipped by the vega-datasets npm package. */
export function demoDataPath(): string {
  const require = createRequire(import.meta.url);
  // The package exports only its JS entry (build/index.js); its data folder sits beside build/.
  return join(dirname(require.resolve('vega-datasets')), '..', 'data', 'seattle-weather-hourly-normals.csv');
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));

/** Prints each forecast as one readable line: origin, series, then a few horizons with bands. */
class ForecastPrinter implements Sink<Forecast> {
  readonly name = 'demo-printer';
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly latest: LatestForecasts,
    private readonly progress: () => number,
  ) {}
  async write(items: readonly Forecast[]): Promise<void> {
    let text = '';
    const pct = `[${(this.progress() * 100).toFixed(0).padStart(3)}%]`;
    for (const f of items) {
      this.latest.set(f.series, f);
      const picks = [f.forecast[0], f.forecast[5], f.forecast[f.forecast.length - 1]].filter((x, i, a) => x && a.indexOf(x) === i);
      const cells = picks.map((h) => {
        const qs = Object.values(h!.q);
        return `+${h!.h}h ${fmt(h!.mean)} [${fmt(qs[0]!)}, ${fmt(qs[qs.length - 1]!)}]`;
      });
      text += `${pct} ${new Date(f.ts).toISOString().slice(0, 16)}Z ${f.series.padEnd(11)} ${f.imputed ? '(imputed) ' : ''}${cells.join('  ')}  ${f.model.kind}\n`;
    }
    if (!this.out.write(text)) await new Promise((r) => this.out.once('drain', r));
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * `streamcast demo` (`npm start`): a real data set replayed in-process through the full pipeline,
 * forecasts printed as they are made, metrics served on /metrics. Needs no server.
 */
export async function demoCommand(flags: DemoFlags): Promise<number> {
  const logger = cliLogger(flags);
  const backends = await startComputeBackends(flags, logger);
  // The GRU from models/ when one ships (else the baseline), retrained beside the stream as the spec says.
  const parts = replayParts(
    join(packageRoot, 'pipelines', 'demo.yaml'),
    {
      input: [demoDataPath()],
      ...(flags.rate ? { rate: flags.rate } : {}),
      ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
    },
    replayRuntime({ models: join(packageRoot, 'models'), retrain: 'background', logger, trainBackend: backends.config.train }),
  );
  const trainOn = await parts.runtime.startTrainer();
  logger.info(backendDetail(backends, parts.runtime.trainBackend), `compute backends: ${describeBackends(backends, trainOn)}`);
  const registry = new Registry();
  collectProcessMetrics(registry);
  const metrics = createMetrics(registry, { pipeline: parts.spec.name });
  const events = metricsListener(metrics);
  // Live accuracy and (with --influx) history ride on the batch hook; model metrics on the forecaster.
  const observers = createLiveObservers({ spec: parts.spec, events, logger, ...(flags.influx ? { influxUrl: flags.influx } : {}) });
  const served = { ...parts, forecaster: instrumentForecaster(parts.forecaster, { events, now: () => performance.now() }) };
  const latest = new LatestForecasts();
  let http: HttpServer | undefined;
  if (flags.http !== false) {
    http = new HttpServer({
      port: flags.port ?? 9464,
      host: flags.host ?? '127.0.0.1',
      registry,
      logger,
      health: () => ({ live: true }),
      readiness: () => ({ ready: true }),
      readyDetail: () => ({ backends: backendDetail(backends, parts.runtime.trainBackend) }),
      seriesLookup: (id) => latest.get(id),
    });
    await http.start();
    events({ type: 'readiness', ready: true });
    logger.info(`metrics on http://${flags.host ?? '127.0.0.1'}:${http.port}/metrics, latest forecasts on /series/<pressure|temperature|wind>`);
  }
  try {
    const { elapsedMs, stoppedEarly } = await runReplay(
      served,
      { forecasts: new ForecastPrinter(process.stdout, latest, () => parts.source.progress?.() ?? 0), deadLetters: new DiscardSink<DeadLetter>() },
      { label: 'demo', quiet: true, events, onBatch: observers.onBatch },
    );
    process.stderr.write(`${stoppedEarly ? 'stopped' : 'done'}: ${describeRun(parts.stats, elapsedMs)}\n`);
  } finally {
    const history = await observers.close();
    if (history) logger.info(history, 'InfluxDB history: points written, dropped');
    await http?.stop();
  }
  return 0;
}
