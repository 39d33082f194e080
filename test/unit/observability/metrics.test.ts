import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_REASONS } from '../../../src/domain/deadLetter.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { createMetrics, metricsListener } from '../../../src/observability/metrics.js';

const EXPECTED: Record<string, { type: string; labels: string[] }> = {
  streamcast_records_in_total: { type: 'counter', labels: ['pipeline'] },
  streamcast_points_in_total: { type: 'counter', labels: ['pipeline'] },
  streamcast_invalid_records_total: { type: 'counter', labels: ['pipeline', 'reason'] },
  streamcast_late_records_total: { type: 'counter', labels: ['pipeline'] },
  streamcast_tombstones_total: { type: 'counter', labels: ['pipeline'] },
  streamcast_imputed_steps_total: { type: 'counter', labels: ['pipeline', 'strategy'] },
  streamcast_gap_resets_total: { type: 'counter', labels: ['pipeline'] },
  streamcast_series_rebased_total: { type: 'counter', labels: ['pipeline'] },
  streamcast_forecasts_out_total: { type: 'counter', labels: ['pipeline'] },
  streamcast_event_to_forecast_latency_seconds: { type: 'histogram', labels: ['pipeline'] },
  streamcast_model_step_duration_seconds: { type: 'histogram', labels: ['pipeline', 'backend'] },
  streamcast_model_batch_size: { type: 'histogram', labels: ['pipeline', 'backend'] },
  streamcast_active_series: { type: 'gauge', labels: ['pipeline'] },
  streamcast_series_evicted_total: { type: 'counter', labels: ['pipeline', 'reason'] },
  streamcast_consumer_lag: { type: 'gauge', labels: ['pipeline', 'topic', 'partition'] },
  streamcast_model_info: { type: 'gauge', labels: ['pipeline', 'version', 'kind', 'backend', 'train_backend'] },
  streamcast_training_runs_total: { type: 'counter', labels: ['pipeline', 'outcome'] },
  streamcast_training_duration_seconds: { type: 'histogram', labels: ['pipeline'] },
  streamcast_forecast_abs_error_total: { type: 'counter', labels: ['pipeline', 'model', 'horizon'] },
  streamcast_forecast_scored_total: { type: 'counter', labels: ['pipeline', 'model', 'horizon'] },
  streamcast_interval_coverage_hits_total: { type: 'counter', labels: ['pipeline', 'model', 'interval'] },
  streamcast_interval_coverage_scored_total: { type: 'counter', labels: ['pipeline', 'model', 'interval'] },
  streamcast_state_restore_duration_seconds: { type: 'histogram', labels: ['pipeline'] },
  streamcast_checkpoint_duration_seconds: { type: 'histogram', labels: ['pipeline'] },
  streamcast_dropped_history_points_total: { type: 'counter', labels: ['pipeline'] },
  streamcast_ready: { type: 'gauge', labels: ['pipeline'] },
  streamcast_stalled: { type: 'gauge', labels: ['pipeline'] },
  // operatorMetrics.ts
  streamcast_sink_errors_total: { type: 'counter', labels: ['pipeline', 'sink'] },
  streamcast_forecast_scaled_abs_error_total: { type: 'counter', labels: ['pipeline', 'model', 'horizon'] },
  streamcast_forecast_scaled_scored_total: { type: 'counter', labels: ['pipeline', 'model', 'horizon'] },
};

const BOUNDED_LABELS = new Set(['pipeline', 'topic', 'partition', 'horizon', 'reason', 'strategy', 'backend', 'train_backend', 'outcome', 'model', 'version', 'kind', 'interval', 'sink']);

function setup(pipeline = 'cpu-load') {
  const registry = new Registry();
  const metrics = createMetrics(registry, { pipeline });
  const invalid: string[] = [];
  const listen = metricsListener(metrics, { onInvalid: (_e, problem) => invalid.push(problem) });
  return { registry, metrics, listen, invalid };
}

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  const wanted = Object.entries(labels);
  const match = data.values.find(
    (v) => (v as { metricName?: string }).metricName === undefined && wanted.every(([k, val]) => String(v.labels[k]) === val) && Object.keys(v.labels).length === wanted.length,
  );
  return match?.value;
}

async function sample(registry: Registry, line: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const hit = text.split('\n').find((l) => l.startsWith(line + ' '));
  return hit === undefined ? undefined : Number(hit.slice(line.length + 1));
}

/** A strict-enough reader of the Prometheus text format 0.0.4 for tests. */
function parseExposition(text: string) {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^# HELP (\S+) (.+)$/.exec(line))) help.set(m[1]!, m[2]!);
    else if ((m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line))) type.set(m[1]!, m[2]!);
    else if ((m = sampleRe.exec(line))) {
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(labelRe)) labels[l[1]!] = l[2]!;
      const v = Number(m[3]);
      if (Number.isNaN(v) && m[3] !== 'NaN') throw new Error(`bad value in: ${line}`);
      samples.push({ name: m[1]!, labels, value: v });
    } else throw new Error(`not exposition format: ${line}`);
  }
  return { help, type, samples };
}

describe('createMetrics', () => {
  it('defines every metric of DESIGN.md with its type, labels and a useful help text', async () => {
    const { registry } = setup();
    const all = await registry.getMetricsAsJSON();
    const byName = new Map(all.map((m) => [m.name, m]));
    for (const [name, want] of Object.entries(EXPECTED)) {
      const m = byName.get(name);
      expect(m, name).toBeDefined();
      expect(m!.type, name).toBe(want.type);
      expect(m!.help.length, `${name} help`).toBeGreaterThan(40);
    }
    for (const m of all) expect(m.name.startsWith('streamcast_'), m.name).toBe(true);
    expect(all).toHaveLength(Object.keys(EXPECTED).length);
  });

  it('uses only bounded labels (never a series id)', async () => {
    const { registry, listen } = setup();
    feedAll(listen);
    const { samples } = parseExposition(await registry.metrics());
    for (const s of samples) {
      const base = s.name.replace(/_(bucket|sum|count)$/, '');
      const expected = EXPECTED[base] ?? EXPECTED[s.name];
      expect(expected, s.name).toBeDefined();
      const names = Object.keys(s.labels).filter((l) => l !== 'le');
      expect(names.sort(), s.name).toEqual([...expected!.labels].sort());
      for (const l of names) expect(BOUNDED_LABELS.has(l), l).toBe(true);
    }
  });

  it('writes valid exposition text: HELP and TYPE for each family, numeric samples', async () => {
    const { registry, listen } = setup();
    feedAll(listen);
    expect(registry.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const { help, type, samples } = parseExposition(await registry.metrics());
    expect(samples.length).toBeGreaterThan(50);
    for (const s of samples) {
      const family = type.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
      expect(type.has(family), s.name).toBe(true);
      expect(help.has(family), s.name).toBe(true);
      expect(Number.isFinite(s.value) || s.value === Infinity, s.name).toBe(true);
    }
    const latencyLe = samples
      .filter((s) => s.name === 'streamcast_event_to_forecast_latency_seconds_bucket')
      .map((s) => s.labels['le']);
    expect(latencyLe[0]).toBe('0.001');
    expect(latencyLe).toContain('10');
    expect(latencyLe.at(-1)).toBe('+Inf');
  });

  it('starts known series at zero so that alerts see them before the first event', async () => {
    const { registry } = setup();
    expect(await value(registry, 'streamcast_records_in_total', { pipeline: 'cpu-load' })).toBe(0);
    for (const reason of DEAD_LETTER_REASONS) {
      expect(await value(registry, 'streamcast_invalid_records_total', { pipeline: 'cpu-load', reason })).toBe(0);
    }
    expect(await value(registry, 'streamcast_training_runs_total', { pipeline: 'cpu-load', outcome: 'failed' })).toBe(0);
    expect(await sample(registry, 'streamcast_checkpoint_duration_seconds_count{pipeline="cpu-load"}')).toBe(0);
  });

  it('lets two pipelines share one registry, each under its own pipeline label', async () => {
    const registry = new Registry();
    const a = metricsListener(createMetrics(registry, { pipeline: 'a' }));
    const b = metricsListener(createMetrics(registry, { pipeline: 'b' }));
    a({ type: 'records_in', count: 3 });
    b({ type: 'records_in', count: 5 });
    expect(await value(registry, 'streamcast_records_in_total', { pipeline: 'a' })).toBe(3);
    expect(await value(registry, 'streamcast_records_in_total', { pipeline: 'b' })).toBe(5);
  });

  it('never touches the global registry', async () => {
    const { register } = await import('prom-client');
    setup();
    expect(register.getSingleMetric('streamcast_records_in_total')).toBeUndefined();
  });

  it('rejects an empty pipeline name', () => {
    expect(() => createMetrics(new Registry(), { pipeline: '' })).toThrow(/non-empty/);
  });
});

function feedAll(listen: (e: PipelineEvent) => void): void {
  for (const e of ALL_EVENTS) listen(e);
}

const ALL_EVENTS: PipelineEvent[] = [
  { type: 'records_in', count: 10 },
  { type: 'points_in', count: 8 },
  { type: 'invalid', reason: 'invalid_json', count: 2 },
  { type: 'late', count: 1 },
  { type: 'imputed', strategy: 'linear', count: 4 },
  { type: 'gap_reset', count: 1 },
  { type: 'series_rebased', count: 1 },
  { type: 'forecasts_out', count: 7 },
  { type: 'batch', size: 32, durationMs: 3, backend: 'tensorflow' },
  { type: 'latency', seconds: 0.02 },
  { type: 'active_series', count: 42 },
  { type: 'series_evicted', reason: 'ttl', count: 5 },
  { type: 'series_evicted', reason: 'max_series', count: 2 },
  { type: 'consumer_lag', topic: 'metrics.cpu', partition: 3, lag: 120 },
  { type: 'model_info', version: 2, kind: 'gru', backend: 'wasm', trainBackend: 'tensorflow' },
  { type: 'training_run', outcome: 'promoted', durationSeconds: 95 },
  { type: 'forecast_error', model: 'gru', horizon: 1, absErrorSum: 2.5, count: 10 },
  { type: 'interval_coverage', model: 'gru', interval: '0.1-0.9', hits: 8, total: 10 },
  { type: 'state_restore', seconds: 1.5 },
  { type: 'checkpoint', seconds: 0.05 },
  { type: 'dropped_history_points', count: 6 },
  { type: 'readiness', ready: true },
  { type: 'liveness', live: false },
  { type: 'sink_error', sink: 'kafka', count: 1 },
  { type: 'scaled_forecast_error', model: 'gru', horizon: 1, scaledErrorSum: 7.5, count: 10 },
];

describe('metricsListener', () => {
  const P = 'cpu-load';
  it('maps every event type to its metric', async () => {
    const { registry, listen, invalid } = setup(P);
    feedAll(listen);
    feedAll(listen);
    const v = (name: string, labels: Record<string, string> = {}) => value(registry, name, { pipeline: P, ...labels });
    const s = (line: string) => sample(registry, line);
    expect(await v('streamcast_records_in_total')).toBe(20);
    expect(await v('streamcast_points_in_total')).toBe(16);
    expect(await v('streamcast_invalid_records_total', { reason: 'invalid_json' })).toBe(4);
    expect(await v('streamcast_late_records_total')).toBe(2);
    expect(await v('streamcast_imputed_steps_total', { strategy: 'linear' })).toBe(8);
    expect(await v('streamcast_gap_resets_total')).toBe(2);
    expect(await v('streamcast_series_rebased_total')).toBe(2);
    expect(await v('streamcast_forecasts_out_total')).toBe(14);
    expect(await s(`streamcast_model_step_duration_seconds_sum{pipeline="${P}",backend="tensorflow"}`)).toBeCloseTo(0.006);
    expect(await s(`streamcast_model_step_duration_seconds_bucket{le="0.0025",pipeline="${P}",backend="tensorflow"}`)).toBe(0);
    expect(await s(`streamcast_model_step_duration_seconds_bucket{le="0.005",pipeline="${P}",backend="tensorflow"}`)).toBe(2);
    expect(await s(`streamcast_model_batch_size_sum{pipeline="${P}",backend="tensorflow"}`)).toBe(64);
    expect(await s(`streamcast_event_to_forecast_latency_seconds_count{pipeline="${P}"}`)).toBe(2);
    expect(await s(`streamcast_event_to_forecast_latency_seconds_bucket{le="0.025",pipeline="${P}"}`)).toBe(2);
    expect(await s(`streamcast_event_to_forecast_latency_seconds_bucket{le="0.01",pipeline="${P}"}`)).toBe(0);
    expect(await v('streamcast_active_series')).toBe(42);
    expect(await v('streamcast_series_evicted_total', { reason: 'ttl' })).toBe(10);
    expect(await v('streamcast_series_evicted_total', { reason: 'max_series' })).toBe(4);
    expect(await v('streamcast_consumer_lag', { topic: 'metrics.cpu', partition: '3' })).toBe(120);
    expect(await v('streamcast_model_info', { version: '2', kind: 'gru', backend: 'wasm', train_backend: 'tensorflow' })).toBe(1);
    expect(await v('streamcast_training_runs_total', { outcome: 'promoted' })).toBe(2);
    expect(await s(`streamcast_training_duration_seconds_sum{pipeline="${P}"}`)).toBe(190);
    expect(await v('streamcast_forecast_abs_error_total', { model: 'gru', horizon: '1' })).toBe(5);
    expect(await v('streamcast_forecast_scored_total', { model: 'gru', horizon: '1' })).toBe(20);
    expect(await v('streamcast_interval_coverage_hits_total', { model: 'gru', interval: '0.1-0.9' })).toBe(16);
    expect(await v('streamcast_interval_coverage_scored_total', { model: 'gru', interval: '0.1-0.9' })).toBe(20);
    expect(await s(`streamcast_state_restore_duration_seconds_sum{pipeline="${P}"}`)).toBe(3);
    expect(await s(`streamcast_checkpoint_duration_seconds_count{pipeline="${P}"}`)).toBe(2);
    expect(await v('streamcast_dropped_history_points_total')).toBe(12);
    expect(await v('streamcast_ready')).toBe(1);
    expect(await v('streamcast_sink_errors_total', { sink: 'kafka' })).toBe(2);
    expect(await v('streamcast_sink_errors_total', { sink: 'influx' })).toBe(0);
    expect(await v('streamcast_forecast_scaled_abs_error_total', { model: 'gru', horizon: '1' })).toBe(15);
    expect(await v('streamcast_forecast_scaled_scored_total', { model: 'gru', horizon: '1' })).toBe(20);
    listen({ type: 'readiness', ready: false });
    expect(await v('streamcast_ready')).toBe(0);
    expect(await v('streamcast_stalled')).toBe(1);
    listen({ type: 'liveness', live: true });
    expect(await v('streamcast_stalled')).toBe(0);
    expect(invalid).toEqual([]);
  });

  it('gives skill = 1 − MAE(model)/MAE(baseline) from the error counters', async () => {
    const { registry, listen } = setup(P);
    listen({ type: 'forecast_error', model: 'gru', horizon: 3, absErrorSum: 6, count: 10 });
    listen({ type: 'forecast_error', model: 'seasonal-naive-1d', horizon: 3, absErrorSum: 10, count: 10 });
    const mae = async (model: string) =>
      (await value(registry, 'streamcast_forecast_abs_error_total', { pipeline: P, model, horizon: '3' }))! /
      (await value(registry, 'streamcast_forecast_scored_total', { pipeline: P, model, horizon: '3' }))!;
    expect(1 - (await mae('gru')) / (await mae('seasonal-naive-1d'))).toBeCloseTo(0.4);
  });

  it('keeps exactly one model_info series when the serving model changes', async () => {
    const { registry, listen } = setup(P);
    listen({ type: 'model_info', version: 0, kind: 'baseline', backend: 'cpu', trainBackend: 'none' });
    listen({ type: 'model_info', version: 1, kind: 'gru', backend: 'cpu', trainBackend: 'tensorflow' });
    const data = await registry.getSingleMetric('streamcast_model_info')!.get();
    expect(data.values).toEqual([{ value: 1, labels: { pipeline: P, version: '1', kind: 'gru', backend: 'cpu', train_backend: 'tensorflow' } }]);
  });

  it('removes lag series of revoked partitions', async () => {
    const { registry, listen } = setup(P);
    listen({ type: 'consumer_lag', topic: 't', partition: 0, lag: 5 });
    listen({ type: 'consumer_lag', topic: 't', partition: 1, lag: 7 });
    listen({ type: 'partitions_revoked', topic: 't', partitions: [0] });
    const data = await registry.getSingleMetric('streamcast_consumer_lag')!.get();
    expect(data.values.map((v) => v.labels['partition'])).toEqual(['1']);
  });

  it('skips and reports events it cannot record instead of throwing into the pipeline', async () => {
    const { registry, listen, invalid } = setup(P);
    expect(() => {
      listen({ type: 'records_in', count: -1 });
      listen({ type: 'latency', seconds: Number.NaN });
      listen({ type: 'forecast_error', model: 'gru', horizon: 0, absErrorSum: 1, count: 1 });
      listen({ type: 'interval_coverage', model: 'gru', interval: '0.1-0.9', hits: 3, total: 2 });
      listen({ type: 'consumer_lag', topic: 't', partition: -1, lag: 1 });
    }).not.toThrow();
    expect(invalid).toHaveLength(5);
    expect(await value(registry, 'streamcast_records_in_total', { pipeline: P })).toBe(0);
    expect(await sample(registry, `streamcast_event_to_forecast_latency_seconds_count{pipeline="${P}"}`)).toBe(0);
  });
});
