import type { DeadLetterReason } from '../domain/deadLetter.js';
import type { ModelKind } from '../domain/forecast.js';

/** Why a series' state was dropped (state.ttl / state.maxSeries). */
export type EvictionReason = 'ttl' | 'max_series';

/** How a retraining run ended; a stable code that dashboards and alerts key on. */
export type TrainingOutcome = 'promoted' | 'rejected' | 'failed';

/**
 * Typed events that subsystems emit; one adapter maps them to Prometheus metrics, another to
 * progress output. Subsystems never touch prom-client directly.
 */
export type PipelineEvent =
  | { readonly type: 'records_in'; readonly count: number }
  | { readonly type: 'points_in'; readonly count: number }
  | { readonly type: 'invalid'; readonly reason: DeadLetterReason; readonly count: number }
  /** Kafka records with a null value: no point and nothing to dead-letter. */
  | { readonly type: 'tombstones'; readonly count: number }
  | { readonly type: 'late'; readonly count: number }
  | { readonly type: 'imputed'; readonly strategy: string; readonly count: number }
  | { readonly type: 'gap_reset'; readonly count: number }
  /** Series moved back off a skewed clock onto their points' (see Resampler, re-base). */
  | { readonly type: 'series_rebased'; readonly count: number }
  | { readonly type: 'forecasts_out'; readonly count: number }
  | { readonly type: 'batch'; readonly size: number; readonly durationMs: number; readonly backend: string }
  | { readonly type: 'latency'; readonly seconds: number }
  | { readonly type: 'active_series'; readonly count: number }
  /** Series whose state was dropped for a bound of the spec's `state`: `ttl` (expired) or `max_series` (evicted, least recently seen). */
  | { readonly type: 'series_evicted'; readonly reason: EvictionReason; readonly count: number }
  /** Messages between this consumer's position and the partition's high watermark. */
  | { readonly type: 'consumer_lag'; readonly topic: string; readonly partition: number; readonly lag: number }
  /** Partitions this instance no longer owns; their lag series are removed rather than left stale. */
  | { readonly type: 'partitions_revoked'; readonly topic: string; readonly partitions: readonly number[] }
  /** The model now serving; replaces whatever was announced before. */
  | { readonly type: 'model_info'; readonly version: number; readonly kind: ModelKind; readonly backend: string; readonly trainBackend: string }
  | { readonly type: 'training_run'; readonly outcome: TrainingOutcome; readonly durationSeconds: number }
  /**
   * Live prequential error, aggregated by the emitter (e.g. per micro-batch): `count` forecast
   * cells of `model` at `horizon` steps ahead were scored as their actuals arrived, with summed
   * absolute error `absErrorSum`. `model` is a model name such as `gru` or `seasonal-naive-1d`.
   */
  | {
      readonly type: 'forecast_error';
      readonly model: string;
      readonly horizon: number;
      readonly absErrorSum: number;
      readonly count: number;
    }
  /** `hits` of `total` actuals fell inside `model`'s `interval` (e.g. "0.1-0.9"). */
  | {
      readonly type: 'interval_coverage';
      readonly model: string;
      readonly interval: string;
      readonly hits: number;
      readonly total: number;
    }
  /** What /readyz answers now (emit on every change); exported so that alerts can see it. */
  | { readonly type: 'readiness'; readonly ready: boolean }
  /** What /healthz answers now for the pipeline (emit on every change): false while it is stalled. */
  | { readonly type: 'liveness'; readonly live: boolean }
  | { readonly type: 'state_restore'; readonly seconds: number }
  | { readonly type: 'checkpoint'; readonly seconds: number }
  /** History points discarded rather than kept for retraining (e.g. a memory cap was reached). */
  | { readonly type: 'dropped_history_points'; readonly count: number }
  // Operators' basics (src/observability/operatorMetrics.ts records these).
  /** `count` writes to an output failed after the client's own retries. */
  | { readonly type: 'sink_error'; readonly sink: 'kafka' | 'influx'; readonly count: number }
  /**
   * Like `forecast_error`, with each absolute error divided by its series' scale (mean absolute
   * change between consecutive observed steps): unit-free, so series of different units add up.
   */
  | {
      readonly type: 'scaled_forecast_error';
      readonly model: string;
      readonly horizon: number;
      readonly scaledErrorSum: number;
      readonly count: number;
    };

export type EventListener = (event: PipelineEvent) => void;

export const ignoreEvents: EventListener = () => {};

/** Fans one event out to several listeners. */
export function fanOut(...listeners: EventListener[]): EventListener {
  return (e) => {
    for (const l of listeners) l(e);
  };
}
