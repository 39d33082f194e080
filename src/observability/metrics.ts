import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { DEAD_LETTER_REASONS } from '../domain/deadLetter.js';
import { StreamcastError } from '../domain/errors.js';
import type { EventListener, PipelineEvent, TrainingOutcome } from './events.js';
import { createOperatorMetrics, recordOperatorEvent, type OperatorMetrics } from './operatorMetrics.js';

/**
 * Every Prometheus metric of DESIGN.md. Each carries a `pipeline` label so that several pipelines
 * (`streamcast run a.yaml b.yaml`) can share one registry and one /metrics endpoint; all other
 * labels are bounded enumerations (never a series id: one series per id would grow without bound
 * and take Prometheus down with it).
 */
export interface Metrics {
  readonly pipeline: string;
  readonly recordsIn: Counter<'pipeline'>;
  readonly pointsIn: Counter<'pipeline'>;
  readonly invalidRecords: Counter<'pipeline' | 'reason'>;
  readonly tombstones: Counter<'pipeline'>;
  readonly lateRecords: Counter<'pipeline'>;
  readonly imputedSteps: Counter<'pipeline' | 'strategy'>;
  readonly gapResets: Counter<'pipeline'>;
  readonly seriesRebased: Counter<'pipeline'>;
  readonly forecastsOut: Counter<'pipeline'>;
  readonly eventToForecastLatency: Histogram<'pipeline'>;
  readonly modelStepDuration: Histogram<'pipeline' | 'backend'>;
  readonly modelBatchSize: Histogram<'pipeline' | 'backend'>;
  readonly activeSeries: Gauge<'pipeline'>;
  readonly seriesEvicted: Counter<'pipeline' | 'reason'>;
  readonly consumerLag: Gauge<'pipeline' | 'topic' | 'partition'>;
  readonly modelInfo: Gauge<'pipeline' | 'version' | 'kind' | 'backend' | 'train_backend'>;
  readonly trainingRuns: Counter<'pipeline' | 'outcome'>;
  readonly trainingDuration: Histogram<'pipeline'>;
  readonly forecastAbsError: Counter<'pipeline' | 'model' | 'horizon'>;
  readonly forecastScored: Counter<'pipeline' | 'model' | 'horizon'>;
  readonly intervalHits: Counter<'pipeline' | 'model' | 'interval'>;
  readonly intervalScored: Counter<'pipeline' | 'model' | 'interval'>;
  readonly stateRestoreDuration: Histogram<'pipeline'>;
  readonly checkpointDuration: Histogram<'pipeline'>;
  readonly droppedHistoryPoints: Counter<'pipeline'>;
  readonly ready: Gauge<'pipeline'>;
  readonly stalled: Gauge<'pipeline'>;
  /** Sink errors and the scale-free live accuracy (operatorMetrics.ts). */
  readonly operator: OperatorMetrics;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const MODEL_STEP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
const TRAINING_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
const RESTORE_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const CHECKPOINT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const TRAINING_OUTCOMES: readonly TrainingOutcome[] = ['promoted', 'rejected', 'failed'];

/**
 * Defines (or, for a second pipeline on the same registry, reuses) the metrics in `registry`.
 * Never the global registry: tests and embedders pass their own.
 */
export function createMetrics(registry: Registry, labels: { pipeline: string }): Metrics {
  const { pipeline } = labels;
  if (pipeline.length === 0) throw new StreamcastError('config', 'createMetrics needs a non-empty pipeline name');
  const p = { pipeline };
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    getOrCreate(registry, name, Counter, () => new Counter({ name, help, labelNames: ['pipeline', ...labelNames], registers: [registry] }));
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    getOrCreate(registry, name, Gauge, () => new Gauge({ name, help, labelNames: ['pipeline', ...labelNames], registers: [registry] }));
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
    getOrCreate(
      registry,
      name,
      Histogram,
      () => new Histogram({ name, help, labelNames: ['pipeline', ...labelNames], buckets, registers: [registry] }),
    );

  const m: Metrics = {
    pipeline,
    recordsIn: counter(
      'streamcast_records_in_total',
      'Records read from the source (Kafka messages, file lines) before decoding. Flat while lag grows: the consumer is stuck; flat with no lag: nothing is producing.',
      [],
    ),
    pointsIn: counter(
      'streamcast_points_in_total',
      'Records decoded into valid points. records_in minus points_in is what went to the dead-letter topic.',
      [],
    ),
    invalidRecords: counter(
      'streamcast_invalid_records_total',
      'Records sent to the dead-letter topic, by reason code. A jump in one reason usually means a producer changed its format; inspect the dead-letter topic.',
      ['reason'],
    ),
    tombstones: counter(
      'streamcast_tombstones_total',
      'Kafka records with a null value (tombstones): they carry no point and are skipped, not dead-lettered. Expected only where producers delete keys of a compacted input topic.',
      [],
    ),
    lateRecords: counter(
      'streamcast_late_records_total',
      'Points that arrived after their step had closed (older than watermark minus the spec lateness) and were not applied. If high, raise window.lateness or fix producer clocks.',
      [],
    ),
    imputedSteps: counter(
      'streamcast_imputed_steps_total',
      'Steps with no observation that were filled in, by impute strategy. A rising share of imputed steps means inputs are going missing upstream.',
      ['strategy'],
    ),
    gapResets: counter(
      'streamcast_gap_resets_total',
      'Series whose gap exceeded impute.maxGap, so their state was reset instead of imputed across the gap.',
      [],
    ),
    seriesRebased: counter(
      'streamcast_series_rebased_total',
      'Series moved back onto their points\' clock after window.jumpConfirm points in a row arrived more than window.maxJump behind the watermark that skewed points had moved ahead; each restarts its imputation and forecaster state. Any increase: a producer clock was wrong (the warning log names the series).',
      [],
    ),
    forecastsOut: counter(
      'streamcast_forecasts_out_total',
      'Forecast messages handed to the sink (one per series per closed step). Flat while points_in rises: forecasting or the sink is stuck.',
      [],
    ),
    eventToForecastLatency: histogram(
      'streamcast_event_to_forecast_latency_seconds',
      'Wall-clock time from a record being read to the forecast it completed being emitted. High tail: model steps are slow (see model_step_duration) or the sink is backpressuring.',
      [],
      LATENCY_BUCKETS,
    ),
    modelStepDuration: histogram(
      'streamcast_model_step_duration_seconds',
      'Duration of one batched model step (gather states, step, scatter), by compute backend. Compare with model_batch_size: time per batch should grow slower than batch size.',
      ['backend'],
      MODEL_STEP_BUCKETS,
    ),
    modelBatchSize: histogram(
      'streamcast_model_batch_size',
      'Series stepped together in one micro-batch, by compute backend. Mostly 1 under load means batching is not happening.',
      ['backend'],
      BATCH_SIZE_BUCKETS,
    ),
    activeSeries: gauge(
      'streamcast_active_series',
      'Series with state held in this instance (not yet idle-closed). Drives memory use; a sudden jump usually means a producer started sending unbounded series names.',
      [],
    ),
    seriesEvicted: counter(
      'streamcast_series_evicted_total',
      'Series whose state was dropped (and tombstoned in the state changelog) by a bound of the spec: reason="ttl" no point for state.ttl, reason="max_series" least recently seen when state.maxSeries was reached. A series that comes back starts afresh. Steady max_series evictions: raise state.maxSeries or add instances.',
      ['reason'],
    ),
    consumerLag: gauge(
      'streamcast_consumer_lag',
      'Messages between this consumer\'s position and the partition high watermark. Growing steadily: the pipeline cannot keep up; add instances (up to the partition count).',
      ['topic', 'partition'],
    ),
    modelInfo: gauge(
      'streamcast_model_info',
      'Always 1; the labels say which model version and kind (baseline until a trained model is promoted) is serving, on which compute backend (js for the baselines), and which backend retraining runs on (none until the trainer has started).',
      ['version', 'kind', 'backend', 'train_backend'],
    ),
    trainingRuns: counter(
      'streamcast_training_runs_total',
      'Retraining runs by outcome: promoted (new model serving), rejected (did not beat the current model and baseline), failed (error; see logs).',
      ['outcome'],
    ),
    trainingDuration: histogram(
      'streamcast_training_duration_seconds',
      'Wall-clock duration of a retraining run in the worker thread, whatever its outcome.',
      [],
      TRAINING_BUCKETS,
    ),
    forecastAbsError: counter(
      'streamcast_forecast_abs_error_total',
      'Sum of absolute errors of point forecasts scored live as actuals arrive, by model and horizon (steps ahead). MAE = rate(this) / rate(streamcast_forecast_scored_total); skill = 1 - MAE(model) / MAE(baseline).',
      ['model', 'horizon'],
    ),
    forecastScored: counter(
      'streamcast_forecast_scored_total',
      'Forecast cells scored live against their actuals, by model and horizon; the denominator of MAE for streamcast_forecast_abs_error_total.',
      ['model', 'horizon'],
    ),
    intervalHits: counter(
      'streamcast_interval_coverage_hits_total',
      'Actuals that fell inside the model\'s prediction interval (e.g. interval="0.1-0.9"). Coverage = rate(this) / rate(streamcast_interval_coverage_scored_total); should be near the nominal width (0.8 for 0.1-0.9).',
      ['model', 'interval'],
    ),
    intervalScored: counter(
      'streamcast_interval_coverage_scored_total',
      'Actuals checked against the model\'s prediction interval; the denominator of interval coverage.',
      ['model', 'interval'],
    ),
    stateRestoreDuration: histogram(
      'streamcast_state_restore_duration_seconds',
      'Time to restore assigned partitions\' state from the changelog topic before processing them; /readyz is 503 meanwhile. Long restores: check changelog compaction.',
      [],
      RESTORE_BUCKETS,
    ),
    checkpointDuration: histogram(
      'streamcast_checkpoint_duration_seconds',
      'Time to checkpoint (produce forecasts and changed state, commit offsets). Slow checkpoints stall the pipeline and raise lag.',
      [],
      CHECKPOINT_BUCKETS,
    ),
    droppedHistoryPoints: counter(
      'streamcast_dropped_history_points_total',
      'History points discarded: not kept for retraining (memory cap reached), or not written to InfluxDB (buffer full or InfluxDB away; see the warning in the logs). Forecasting is unaffected; check InfluxDB or raise the cap.',
      [],
    ),
    ready: gauge(
      'streamcast_ready',
      '1 while /readyz answers 200 (assigned partitions restored, a model or baseline ready), else 0. Absent until the runtime first reports readiness.',
      [],
    ),
    stalled: gauge(
      'streamcast_stalled',
      '1 while the pipeline is stalled: records wait in its assigned partitions and none was processed for KAFKA_STALL_TIMEOUT_MS (/healthz answers 503), else 0. Operator action: the logs say what it waits for; the liveness probe restarts it.',
      [],
    ),
    operator: createOperatorMetrics(registry, pipeline),
  };

  // Known label values start at 0 so that rate() and alerts see a series before the first event.
  for (const c of [m.recordsIn, m.pointsIn, m.tombstones, m.lateRecords, m.gapResets, m.seriesRebased, m.forecastsOut, m.droppedHistoryPoints]) {
    c.inc(p, 0);
  }
  for (const reason of DEAD_LETTER_REASONS) m.invalidRecords.inc({ pipeline, reason }, 0);
  for (const outcome of TRAINING_OUTCOMES) m.trainingRuns.inc({ pipeline, outcome }, 0);
  for (const reason of ['ttl', 'max_series'] as const) m.seriesEvicted.inc({ pipeline, reason }, 0);
  for (const h of [m.eventToForecastLatency, m.trainingDuration, m.stateRestoreDuration, m.checkpointDuration]) {
    h.zero(p);
  }
  m.activeSeries.set(p, 0);
  return m;
}

type MetricClass<T> = abstract new (...args: never[]) => T;

function getOrCreate<T>(registry: Registry, name: string, cls: MetricClass<T>, create: () => T): T {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (!(existing instanceof cls)) {
    throw new StreamcastError('fatal', `metric ${name} is already registered with another type; two modules define it`);
  }
  return existing;
}

export interface MetricsListenerOptions {
  /**
   * Called for an event whose numbers cannot be recorded (negative or non-finite count, bad
   * horizon). Metrics must never throw into the pipeline, so such events are skipped; pass a
   * logger here to hear about the emitter's bug.
   */
  readonly onInvalid?: (event: PipelineEvent, problem: string) => void;
}

/** The one adapter from typed pipeline events to metric updates. */
export function metricsListener(metrics: Metrics, opts: MetricsListenerOptions = {}): EventListener {
  const { pipeline } = metrics;
  const p = { pipeline };
  const onInvalid = opts.onInvalid ?? (() => {});
  let servingModel: { version: string; kind: string; backend: string; train_backend: string } | undefined;

  const ok = (e: PipelineEvent, ...values: number[]): boolean => {
    for (const v of values) {
      if (!Number.isFinite(v) || v < 0) {
        onInvalid(e, `value ${v} is not a finite non-negative number`);
        return false;
      }
    }
    return true;
  };

  return (e) => {
    switch (e.type) {
      case 'records_in':
        if (ok(e, e.count)) metrics.recordsIn.inc(p, e.count);
        break;
      case 'points_in':
        if (ok(e, e.count)) metrics.pointsIn.inc(p, e.count);
        break;
      case 'invalid':
        if (ok(e, e.count)) metrics.invalidRecords.inc({ pipeline, reason: e.reason }, e.count);
        break;
      case 'tombstones':
        if (ok(e, e.count)) metrics.tombstones.inc(p, e.count);
        break;
      case 'late':
        if (ok(e, e.count)) metrics.lateRecords.inc(p, e.count);
        break;
      case 'imputed':
        if (ok(e, e.count)) metrics.imputedSteps.inc({ pipeline, strategy: e.strategy }, e.count);
        break;
      case 'gap_reset':
        if (ok(e, e.count)) metrics.gapResets.inc(p, e.count);
        break;
      case 'series_rebased':
        if (ok(e, e.count)) metrics.seriesRebased.inc(p, e.count);
        break;
      case 'forecasts_out':
        if (ok(e, e.count)) metrics.forecastsOut.inc(p, e.count);
        break;
      case 'batch':
        if (ok(e, e.size, e.durationMs)) {
          const l = { pipeline, backend: e.backend };
          metrics.modelStepDuration.observe(l, e.durationMs / 1000);
          metrics.modelBatchSize.observe(l, e.size);
        }
        break;
      case 'latency':
        if (ok(e, e.seconds)) metrics.eventToForecastLatency.observe(p, e.seconds);
        break;
      case 'active_series':
        if (ok(e, e.count)) metrics.activeSeries.set(p, e.count);
        break;
      case 'series_evicted':
        if (ok(e, e.count)) metrics.seriesEvicted.inc({ pipeline, reason: e.reason }, e.count);
        break;
      case 'consumer_lag':
        if (!Number.isInteger(e.partition) || e.partition < 0) onInvalid(e, `partition ${e.partition} is not a partition number`);
        else if (ok(e, e.lag)) metrics.consumerLag.set({ pipeline, topic: e.topic, partition: String(e.partition) }, e.lag);
        break;
      case 'partitions_revoked':
        for (const partition of e.partitions) {
          metrics.consumerLag.remove({ pipeline, topic: e.topic, partition: String(partition) });
        }
        break;
      case 'model_info': {
        // Exactly one series at 1: the old version's series is removed, not set to 0, so that
        // `streamcast_model_info == 1` never matches two models.
        if (servingModel !== undefined) metrics.modelInfo.remove({ pipeline, ...servingModel });
        servingModel = { version: String(e.version), kind: e.kind, backend: e.backend, train_backend: e.trainBackend };
        metrics.modelInfo.set({ pipeline, ...servingModel }, 1);
        break;
      }
      case 'training_run':
        if (ok(e, e.durationSeconds)) {
          metrics.trainingRuns.inc({ pipeline, outcome: e.outcome });
          metrics.trainingDuration.observe(p, e.durationSeconds);
        }
        break;
      case 'forecast_error':
        if (!Number.isInteger(e.horizon) || e.horizon < 1) onInvalid(e, `horizon ${e.horizon} is not a positive integer`);
        else if (ok(e, e.absErrorSum, e.count)) {
          const l = { pipeline, model: e.model, horizon: String(e.horizon) };
          metrics.forecastAbsError.inc(l, e.absErrorSum);
          metrics.forecastScored.inc(l, e.count);
        }
        break;
      case 'interval_coverage':
        if (e.hits > e.total) onInvalid(e, `hits ${e.hits} exceed total ${e.total}`);
        else if (ok(e, e.hits, e.total)) {
          const l = { pipeline, model: e.model, interval: e.interval };
          metrics.intervalHits.inc(l, e.hits);
          metrics.intervalScored.inc(l, e.total);
        }
        break;
      case 'readiness':
        metrics.ready.set(p, e.ready ? 1 : 0);
        break;
      case 'liveness':
        metrics.stalled.set(p, e.live ? 0 : 1);
        break;
      case 'state_restore':
        if (ok(e, e.seconds)) metrics.stateRestoreDuration.observe(p, e.seconds);
        break;
      case 'checkpoint':
        if (ok(e, e.seconds)) metrics.checkpointDuration.observe(p, e.seconds);
        break;
      case 'dropped_history_points':
        if (ok(e, e.count)) metrics.droppedHistoryPoints.inc(p, e.count);
        break;
      case 'sink_error':
      case 'scaled_forecast_error': {
        const r = recordOperatorEvent(metrics.operator, pipeline, e);
        if (!r.ok) onInvalid(e, r.problem);
        break;
      }
      default: {
        // A compile error here means a new event type has no metric mapping yet.
        const unhandled: never = e;
        onInvalid(unhandled, 'unknown event type');
      }
    }
  };
}
