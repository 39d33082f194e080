import type { IPoint } from 'influx';
import { VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/domain/errors.js';
import type { ImputedStep } from '../../../../src/domain/step.js';
import { InfluxHistorySink, isRetriableInfluxError, parseInfluxUrl, quantileField, type HistoryClient } from '../../../../src/connectors/influx/influxHistorySink.js';
import type { PipelineEvent } from '../../../../src/observability/events.js';

const quietLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

class FakeClient implements HistoryClient {
  readonly written: IPoint[][] = [];
  databases: string[] = [];
  failWrites = 0;
  async writePoints(points: IPoint[]): Promise<void> {
    if (this.failWrites > 0) {
      this.failWrites--;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }
    this.written.push(points);
  }
  async getDatabaseNames(): Promise<string[]> {
    return this.databases;
  }
  async createDatabase(name: string): Promise<void> {
    this.databases.push(name);
  }
}

const steps = (n: number): ImputedStep[] =>
  Array.from({ length: n }, (_, i) => ({ series: 's', ts: i * 1000, value: i, observed: true, imputed: false, sinceObserved: 0, reset: false }));

/** Lets pending promise callbacks run between virtual-time jumps. */
const settle = () => new Promise((r) => setImmediate(r));

function make(client: FakeClient, opts: { maxBufferPoints?: number; batchPoints?: number; retries?: number } = {}) {
  const events: PipelineEvent[] = [];
  const scheduler = new VirtualTimeScheduler();
  const sink = new InfluxHistorySink({
    url: 'http://127.0.0.1:1/hist',
    pipeline: 'p',
    events: (e) => events.push(e),
    logger: quietLogger,
    client,
    scheduler,
    flushIntervalMs: 100,
    maxBufferPoints: opts.maxBufferPoints ?? 1000,
    batchPoints: opts.batchPoints ?? 10,
    retry: { retries: opts.retries ?? 2, initialMs: 10, maxMs: 40, random: () => 0.5 },
  });
  const dropped = () => events.reduce((n, e) => n + (e.type === 'dropped_history_points' ? e.count : 0), 0);
  const sinkErrors = () => events.reduce((n, e) => n + (e.type === 'sink_error' && e.sink === 'influx' ? e.count : 0), 0);
  return { sink, events, scheduler, dropped, sinkErrors };
}

describe('InfluxHistorySink', () => {
  it('creates the database, then writes full batches at once and the rest on the timer', async () => {
    const client = new FakeClient();
    const { sink, scheduler } = make(client);
    sink.record(steps(5), new Map());
    await settle();
    expect(client.written).toEqual([]);
    scheduler.maxFrames = 150;
    scheduler.flush();
    await settle();
    expect(client.databases).toEqual(['hist']);
    expect(client.written.map((b) => b.length)).toEqual([5]);
    sink.record(steps(20), new Map());
    await settle();
    expect(client.written.map((b) => b.length)).toEqual([5, 10, 10]);
    expect(client.written[0]![0]).toEqual({ measurement: 'actual', tags: { pipeline: 'p', series: 's' }, fields: { value: 0, imputed: false }, timestamp: 0 });
    expect(await sink.close()).toEqual({ written: 25, dropped: 0, buffered: 0 });
  });

  it('writes forecasts at their target time with one field per quantile, and scored errors', async () => {
    const client = new FakeClient();
    const { sink } = make(client);
    const f = { series: 's', ts: 0, step: 1000, imputed: false, model: { name: 'p', version: 0, kind: 'baseline' as const }, forecast: [{ h: 1, ts: 1000, mean: 2, q: { '0.1': 1, '0.9': 3 } }] };
    sink.record([], new Map([['baseline', [f]]]), [{ series: 's', model: 'baseline', h: 1, ts: 1000, actual: 2.5, mean: 2, absError: 0.5, inInterval: true }]);
    await sink.flush();
    expect(client.written.flat()).toEqual([
      { measurement: 'forecast', tags: { pipeline: 'p', series: 's', h: '1', model: 'baseline' }, fields: { mean: 2, q_0_1: 1, q_0_9: 3 }, timestamp: 1000 },
      { measurement: 'forecast_error', tags: { pipeline: 'p', series: 's', h: '1', model: 'baseline' }, fields: { abs_error: 0.5, in_interval: true }, timestamp: 1000 },
    ]);
  });

  it('retries a failed write with backoff and succeeds', async () => {
    const client = new FakeClient();
    client.failWrites = 2;
    const { sink, scheduler, dropped, sinkErrors } = make(client);
    sink.record(steps(10), new Map());
    for (let i = 0; i < 5; i++) {
      await settle();
      scheduler.maxFrames = scheduler.frame + 50;
      scheduler.flush();
    }
    await sink.flush();
    expect(client.written.flat()).toHaveLength(10);
    expect(dropped()).toBe(0);
    // Retried successfully: not an error an operator needs to see.
    expect(sinkErrors()).toBe(0);
  });

  it('drops (counted) what does not fit the buffer and batches whose retries ran out, never throwing', async () => {
    const client = new FakeClient();
    client.failWrites = 1000;
    const { sink, scheduler, dropped, sinkErrors } = make(client, { maxBufferPoints: 30, batchPoints: 10, retries: 1 });
    sink.record(steps(50), new Map());
    // 30 fit; the first batch of 10 is already taken out to be written.
    expect(dropped()).toBe(20);
    sink.record(steps(15), new Map());
    expect(dropped()).toBe(20 + 5);
    for (let i = 0; i < 20; i++) {
      await settle();
      scheduler.maxFrames = scheduler.frame + 100;
      scheduler.flush();
    }
    const stats = await sink.close(50);
    expect(stats.written).toBe(0);
    expect(stats.dropped).toBe(65);
    expect(dropped()).toBe(65);
    // Each batch whose retries ran out is one sink error (streamcast_sink_errors_total{sink="influx"}).
    expect(sinkErrors()).toBeGreaterThan(0);
  });

  it('bounds close() when InfluxDB never answers', async () => {
    const client = new FakeClient();
    client.writePoints = () => new Promise<void>(() => {});
    const { sink, scheduler, dropped } = make(client);
    sink.record(steps(5), new Map());
    const closing = sink.close(500);
    await settle();
    scheduler.maxFrames = scheduler.frame + 1000;
    scheduler.flush();
    const raced = await Promise.race([closing, new Promise((r) => setTimeout(() => r('hung'), 200))]);
    expect(raced).toEqual({ written: 0, dropped: 0, buffered: 0 });
    // The 5 points are on the wire in the hung request: neither written nor dropped yet.
    expect(dropped()).toBe(0);
    sink.record(steps(3), new Map());
    expect(dropped()).toBe(3);
  });

  it('validates its URL and options with a fix in the message', () => {
    expect(() => parseInfluxUrl('http://127.0.0.1:8086')).toThrow(ConfigError);
    expect(() => parseInfluxUrl('127.0.0.1:8086/db')).toThrow(/http:\/\//);
    expect(parseInfluxUrl('http://u:p@h:8086/streamcast/').database).toBe('streamcast');
    expect(() => make(new FakeClient(), { batchPoints: 0 })).toThrow(/batchPoints/);
    expect(quantileField('0.05')).toBe('q_0_05');
  });

  it('retries server errors and network failures, not 4xx answers', () => {
    expect(isRetriableInfluxError(new Error('ECONNREFUSED'))).toBe(true);
    expect(isRetriableInfluxError({ res: { statusCode: 503 } })).toBe(true);
    expect(isRetriableInfluxError({ res: { statusCode: 400 } })).toBe(false);
  });
});
