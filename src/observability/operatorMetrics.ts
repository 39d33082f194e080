import { collectDefaultMetrics, Counter, type Registry } from 'prom-client';
import { StreamcastError } from '../domain/errors.js';
import type { PipelineEvent } from './events.js';

/**
 * What an operator checks first that is not about forecasting itself: output failures, and a
 * live accuracy that means something when one pipeline mixes series of different units. Kept
 * apart from metrics.ts (which maps the pipeline's own events) so that both grow independently;
 * metrics.ts owns these through `Metrics.operator` and hands the events below to `recordOperatorEvent`.
 */
export interface OperatorMetrics {
  readonly sinkErrors: Counter<'pipeline' | 'sink'>;
  readonly scaledAbsError: Counter<'pipeline' | 'model' | 'horizon'>;
  readonly scaledScored: Counter<'pipeline' | 'model' | 'horizon'>;
}

/** Outputs whose failed writes `streamcast_sink_errors_total` counts. */
export const SINKS = ['kafka', 'influx'] as const;
export type SinkName = (typeof SINKS)[number];

/** The events recorded here (members of PipelineEvent). */
export type OperatorEvent = Extract<PipelineEvent, { type: 'sink_error' | 'scaled_forecast_error' }>;

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return new Counter({ name, help, labelNames, registers: [registry] });
  if (!(existing instanceof Counter)) throw new StreamcastError('fatal', `metric ${name} is already registered with another type; two modules define it`);
  return existing as Counter<L>;
}

/** Defines (or, for a second pipeline on the registry, reuses) the operator metrics; every sink starts at 0. */
export function createOperatorMetrics(registry: Registry, pipeline: string): OperatorMetrics {
  const m: OperatorMetrics = {
    sinkErrors: counter(
      registry,
      'streamcast_sink_errors_total',
      'Writes to an output that failed after the client\'s own retries, by sink: kafka (forecasts, dead letters, state; the pipeline then stops and restarts from its last checkpoint, so nothing is lost) or influx (history; dropped and counted in streamcast_dropped_history_points_total). Operator action: the logs name the error; check the broker or InfluxDB.',
      ['pipeline', 'sink'],
    ),
    scaledAbsError: counter(
      registry,
      'streamcast_forecast_scaled_abs_error_total',
      'Live prequential absolute forecast error of each cell divided by its series\' scale (the mean absolute change between consecutive observed steps), summed. Over streamcast_forecast_scaled_scored_total it is a live MASE: unit-free, so series in different units weigh alike.',
      ['pipeline', 'model', 'horizon'],
    ),
    scaledScored: counter(
      registry,
      'streamcast_forecast_scaled_scored_total',
      'Forecast cells scored into streamcast_forecast_scaled_abs_error_total (those of series whose scale is known and non-zero).',
      ['pipeline', 'model', 'horizon'],
    ),
  };
  for (const sink of SINKS) m.sinkErrors.inc({ pipeline, sink }, 0);
  return m;
}

const processMetrics = new WeakSet<Registry>();

/**
 * Node.js and process metrics (CPU, memory and heap, event-loop lag, GC, handles, file
 * descriptors) as `streamcast_process_*` / `streamcast_nodejs_*`, once per registry. They describe
 * the process, so they carry no pipeline label.
 */
export function collectProcessMetrics(registry: Registry): void {
  if (processMetrics.has(registry)) return;
  processMetrics.add(registry);
  collectDefaultMetrics({ register: registry, prefix: 'streamcast_' });
}

/**
 * Records one operator event; false with `problem` when its numbers cannot be recorded (metrics
 * never throw into the pipeline).
 */
export function recordOperatorEvent(m: OperatorMetrics, pipeline: string, e: OperatorEvent): { ok: true } | { ok: false; problem: string } {
  switch (e.type) {
    case 'sink_error':
      if (!Number.isFinite(e.count) || e.count < 0) return { ok: false, problem: `count ${e.count} is not a finite non-negative number` };
      m.sinkErrors.inc({ pipeline, sink: e.sink }, e.count);
      return { ok: true };
    case 'scaled_forecast_error': {
      if (!Number.isInteger(e.horizon) || e.horizon < 1) return { ok: false, problem: `horizon ${e.horizon} is not a positive integer` };
      if (![e.scaledErrorSum, e.count].every((v) => Number.isFinite(v) && v >= 0)) return { ok: false, problem: 'sum or count is not a finite non-negative number' };
      const l = { pipeline, model: e.model, horizon: String(e.horizon) };
      m.scaledAbsError.inc(l, e.scaledErrorSum);
      m.scaledScored.inc(l, e.count);
      return { ok: true };
    }
  }
}
