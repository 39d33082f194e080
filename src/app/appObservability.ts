import { Registry } from 'prom-client';
import type { Forecast } from '../domain/forecast.js';
import { LatestForecasts } from '../observability/latestForecasts.js';
import type { NormalizedStep } from '../domain/step.js';
import type { Forecaster } from '../forecasting/forecaster.js';
import type { EventListener } from '../observability/events.js';
import { instrumentForecaster } from '../forecasting/instrumentForecaster.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics, metricsListener } from '../observability/metrics.js';
import { collectProcessMetrics } from '../observability/operatorMetrics.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { HistoryStats } from '../connectors/influx/influxHistorySink.js';
import { HttpServer, type HttpServerOptions } from '../runtime/httpServer.js';
import { createLiveObservers } from '../runtime/liveObservers.js';

/** The HTTP flags of the long-running commands (demo, run). */
export interface HttpFlags {
  /** Default 9464; 0 picks a free port. */
  readonly port?: number | undefined;
  /** Default 127.0.0.1. */
  readonly host?: string | undefined;
  /** `--no-http`: false serves nothing. */
  readonly http?: boolean | undefined;
}

/** What /healthz and /readyz answer, from the command's own pipelines. */
export type Probes = Pick<HttpServerOptions, 'health' | 'readiness' | 'readyDetail'>;

/** One pipeline's observability: metric events, live accuracy (and InfluxDB history), /series. */
export interface PipelineObservability {
  /** The pipeline's events, mapped to its metrics (labelled with the pipeline's name). */
  readonly events: EventListener;
  /** `forecaster`, reporting its batches and serving model as metrics. */
  instrument(forecaster: Forecaster): Forecaster;
  /** The runner's batch hook: remembers each series' latest forecast (/series/:id), scores it, records history. */
  readonly onBatch: (steps: readonly NormalizedStep[], forecasts: readonly Forecast[]) => void;
  /** Forgets a series (its state was dropped: evicted, expired or revoked). */
  readonly drop: (series: string) => void;
  /** Flushes InfluxDB history (bounded); undefined without an InfluxDB URL. Idempotent. */
  readonly close: () => Promise<HistoryStats | undefined>;
}

/**
 * The observability of one process that serves (demo, run): one prom-client registry with the
 * process metrics, each pipeline's metrics and live observers on it, the latest forecast of every
 * series, and the one HTTP port (/metrics, /healthz, /readyz, /series/:id) that shows them.
 */
export class AppObservability {
  readonly registry = new Registry();
  readonly #latest = new LatestForecasts();
  #http: HttpServer | undefined;

  constructor() {
    collectProcessMetrics(this.registry);
  }

  /** Registers `spec`'s metrics and live observers (live accuracy; history too with `influxUrl`). */
  pipeline(spec: PipelineSpec, logger: Logger, opts: { influxUrl?: string | undefined } = {}): PipelineObservability {
    const metrics = createMetrics(this.registry, { pipeline: spec.name });
    // Metrics never throw into the pipeline: an event they cannot record is a bug to hear about.
    const events = metricsListener(metrics, { onInvalid: (e, problem) => logger.warn({ event: e.type }, `metric event skipped: ${problem}`) });
    // In memory or in the background: neither can block a batch.
    const observers = createLiveObservers({ spec, events, logger, ...(opts.influxUrl !== undefined ? { influxUrl: opts.influxUrl } : {}) });
    const latest = this.#latest;
    return {
      events,
      instrument: (forecaster) => instrumentForecaster(forecaster, { events, now: () => performance.now() }),
      onBatch: (steps, forecasts) => {
        for (const f of forecasts) latest.set(f.series, f);
        observers.onBatch(steps, forecasts);
      },
      drop: (series) => {
        latest.delete(series);
        observers.drop(series);
      },
      close: observers.close,
    };
  }

  /**
   * Serves the HTTP port unless `flags.http` is false; resolves once it listens, with the server
   * (its `port` is the one bound, e.g. with port 0). Call once.
   */
  async serve(flags: HttpFlags, probes: Probes, logger: Logger): Promise<HttpServer | undefined> {
    if (flags.http === false) return undefined;
    const http = new HttpServer({
      port: flags.port ?? 9464,
      host: flags.host ?? '127.0.0.1',
      registry: this.registry,
      logger,
      ...probes,
      seriesLookup: (id) => this.#latest.get(id),
    });
    this.#http = http;
    await http.start();
    return http;
  }

  /** Stops serving HTTP (idempotent; nothing to do without `serve`). */
  async stop(): Promise<void> {
    await this.#http?.stop();
  }
}
