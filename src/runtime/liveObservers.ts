import type { Forecast } from '../domain/forecast.js';
import { quantileKey } from '../domain/forecast.js';
import type { ImputedStep } from '../domain/step.js';
import { InfluxHistorySink, type HistoryStats, type InfluxHistoryOptions } from '../connectors/influx/influxHistorySink.js';
import type { EventListener } from '../observability/events.js';
import { BASELINE_MODEL, GRU_MODEL, LiveAccuracy, modelLabel, outerInterval } from '../observability/liveAccuracy.js';
import type { LogSink } from '../observability/logger.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';

export interface LiveObserversOptions {
  readonly spec: PipelineSpec;
  readonly events: EventListener;
  readonly logger: LogSink;
  /** `http://host:8086/<database>`: also keep actuals, forecasts and errors in InfluxDB. */
  readonly influxUrl?: string;
  /** Tuning and test seams of the InfluxDB sink. */
  readonly influx?: Omit<InfluxHistoryOptions, 'url' | 'pipeline' | 'events' | 'logger'>;
}

export interface LiveObservers {
  /** The runner's `onBatch` hook: scores and records the served model's forecasts. */
  readonly onBatch: (steps: readonly ImputedStep[], forecasts: readonly Forecast[]) => void;
  /**
   * The same with forecasts of several models (e.g. the promoted GRU and the baseline beside
   * it), keyed by `model` label ("gru", "baseline").
   */
  readonly observe: (steps: readonly ImputedStep[], byModel: ReadonlyMap<string, readonly Forecast[]>) => void;
  /** Forgets a series' pending cells (its state was dropped: evicted, expired or revoked). */
  readonly drop: (series: string) => void;
  /** Flushes InfluxDB history (bounded); undefined stats without --influx. Idempotent. */
  readonly close: () => Promise<HistoryStats | undefined>;
}

/**
 * What every command that runs a pipeline attaches to its batches for observability: live
 * prequential accuracy (as metrics events) and, with an InfluxDB URL, history. Neither can stop
 * or slow the pipeline: scoring is in-memory and bounded, history is written in the background.
 */
export function createLiveObservers(opts: LiveObserversOptions): LiveObservers {
  const { spec, events, logger } = opts;
  // The spec's impute series starts at 0, as metrics.ts does for other known labels, so that
  // rate() and the dashboards see it before the first gap.
  events({ type: 'imputed', strategy: spec.impute.strategy, count: 0 });
  const interval = outerInterval(spec.model.quantiles.map(quantileKey))?.label;
  const accuracy = new LiveAccuracy({
    events,
    models: spec.model.type === 'gru' ? [GRU_MODEL, BASELINE_MODEL] : [BASELINE_MODEL],
    horizon: spec.model.horizon,
    ...(interval !== undefined ? { interval } : {}),
  });
  const history =
    opts.influxUrl === undefined
      ? undefined
      : new InfluxHistorySink({ ...opts.influx, url: opts.influxUrl, pipeline: spec.name, events, logger });

  const observe = (steps: readonly ImputedStep[], byModel: ReadonlyMap<string, readonly Forecast[]>) => {
    const scored = accuracy.observe(steps, byModel);
    history?.record(steps, byModel, scored);
  };
  return {
    observe,
    onBatch: (steps, forecasts) => observe(steps, byModelLabel(forecasts)),
    drop: (series) => accuracy.drop(series),
    close: async () => history?.close(),
  };
}

/** Groups one forecaster's output by `model` label (one group, except across a hot swap). */
export function byModelLabel(forecasts: readonly Forecast[]): Map<string, Forecast[]> {
  const out = new Map<string, Forecast[]>();
  for (const f of forecasts) {
    const label = modelLabel(f.model.kind);
    const list = out.get(label);
    if (list === undefined) out.set(label, [f]);
    else list.push(f);
  }
  return out;
}
