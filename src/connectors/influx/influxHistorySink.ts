import influx from 'influx';
import type { IPoint, IWriteOptions } from 'influx';
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { ConfigError } from '../../domain/errors.js';
import type { Forecast } from '../../domain/forecast.js';
import type { ImputedStep } from '../../domain/step.js';
import type { EventListener } from '../../observability/events.js';
import type { ScoredCell } from '../../observability/liveAccuracy.js';
import type { LogSink } from '../../observability/logger.js';
import { retry, type RetryOptions } from '../../platform/retry.js';

/** What the sink needs of an InfluxDB 1.x client (the `influx` package's InfluxDB fits). */
export interface HistoryClient {
  writePoints(points: IPoint[], options?: IWriteOptions): Promise<void>;
  getDatabaseNames(): Promise<string[]>;
  createDatabase(name: string): Promise<void>;
}

export interface InfluxHistoryOptions {
  /** `http://host:8086/<database>`; user:password@ in the URL when auth is on. */
  readonly url: string;
  readonly pipeline: string;
  readonly events: EventListener;
  readonly logger: LogSink;
  /** Points held while InfluxDB is slow or away; beyond it new points are dropped (counted). Default 100 000. */
  readonly maxBufferPoints?: number;
  /** Points per write request; a write starts as soon as this many wait. Default 5 000. */
  readonly batchPoints?: number;
  /** A partial batch is written after at most this long. Default 1 000 ms. */
  readonly flushIntervalMs?: number;
  /** Timers for the periodic flush and the retry backoff (tests pass a virtual one). Default asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /** Retry of one write; default 3 retries from 250 ms up to 4 s. */
  readonly retry?: Pick<RetryOptions, 'retries' | 'initialMs' | 'maxMs' | 'random'>;
  /** Per-request timeout in ms (default 10 000): a hung server must not hold the buffer forever. */
  readonly requestTimeoutMs?: number;
  /** For tests: a client instead of one made from `url`. */
  readonly client?: HistoryClient;
}

export interface HistoryStats {
  readonly written: number;
  readonly dropped: number;
  readonly buffered: number;
}

/** Parses `http://host:port/db` once, saying how to fix a bad one. */
export function parseInfluxUrl(url: string): { database: string; base: URL } {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new ConfigError(`--influx ${JSON.stringify(url)} is not a URL; use e.g. http://127.0.0.1:8086/streamcast`, { cause: err });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`--influx ${JSON.stringify(url)} must be http:// or https://, e.g. http://127.0.0.1:8086/streamcast`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
  if (database === '' || database.includes('/')) {
    throw new ConfigError(`--influx ${JSON.stringify(url)} needs the database as its path, e.g. http://127.0.0.1:8086/streamcast`);
  }
  return { database, base: u };
}

/** "q_0_1" for quantile "0.1": field keys stay plain identifiers in InfluxQL. */
export function quantileField(key: string): string {
  return `q_${key.replace(/[^0-9A-Za-z]/g, '_')}`;
}

/**
 * Forecast-vs-actual history in InfluxDB 1.x, written off the hot path. Measurements:
 * - `actual` (tags pipeline, series; fields value, imputed) at the step time;
 * - `forecast` (tags pipeline, series, h, model; fields mean, q_<level>) at the target time, so
 *   that `SELECT mean FROM forecast WHERE h='1'` lines up with `actual`;
 * - `forecast_error` (tags pipeline, series, h, model; fields abs_error, in_interval) at the target time.
 *
 * `record` only appends to a bounded buffer and never waits; writes of `batchPoints` points go
 * out one at a time with retry and backoff. When InfluxDB is away, points beyond the buffer (and
 * batches whose retries ran out) are dropped and counted as `dropped_history_points`, so that
 * forecasting never slows down for history. Operator action on drops: check InfluxDB is up and
 * reachable at the --influx URL; forecasts themselves were not affected.
 */
export class InfluxHistorySink {
  private readonly client: HistoryClient;
  private readonly database: string;
  private readonly maxBuffer: number;
  private readonly batchPoints: number;
  private readonly scheduler: SchedulerLike;
  private readonly retryOpts: NonNullable<InfluxHistoryOptions['retry']>;
  private readonly abort = new AbortController();
  private buffer: IPoint[] = [];
  private draining: Promise<void> | undefined;
  private timer: Subscription | undefined;
  private databaseReady = false;
  private failing = false;
  private closed: Promise<HistoryStats> | undefined;
  private written = 0;
  private dropped = 0;

  constructor(private readonly opts: InfluxHistoryOptions) {
    const { database, base } = parseInfluxUrl(opts.url);
    this.database = database;
    this.maxBuffer = positiveInt(opts.maxBufferPoints ?? 100_000, 'maxBufferPoints');
    this.batchPoints = positiveInt(opts.batchPoints ?? 5_000, 'batchPoints');
    const flushIntervalMs = positiveInt(opts.flushIntervalMs ?? 1_000, 'flushIntervalMs');
    this.scheduler = opts.scheduler ?? asyncScheduler;
    this.retryOpts = opts.retry ?? { retries: 3, initialMs: 250, maxMs: 4_000 };
    this.client =
      opts.client ??
      new influx.InfluxDB({
        host: base.hostname,
        port: base.port === '' ? (base.protocol === 'https:' ? 443 : 8086) : Number(base.port),
        protocol: base.protocol === 'https:' ? 'https' : 'http',
        database,
        ...(base.username !== '' ? { username: decodeURIComponent(base.username), password: decodeURIComponent(base.password) } : {}),
        // Our retry does the backoff; the client's own would retry again inside each attempt and
        // disable the host for up to 10 s on a timer that keeps the process alive at exit.
        pool: { maxRetries: 0, requestTimeout: opts.requestTimeoutMs ?? 10_000, backoff: noBackoff },
      });
    this.timer = this.scheduleFlushes(flushIntervalMs);
  }

  /** Written, dropped and still buffered points so far. */
  get stats(): HistoryStats {
    return { written: this.written, dropped: this.dropped, buffered: this.buffer.length };
  }

  /**
   * History of one micro-batch: its actuals, each model's forecasts, and the cells scored in it.
   * Never blocks and never throws into the pipeline.
   */
  record(steps: readonly ImputedStep[], forecastsByModel: ReadonlyMap<string, readonly Forecast[]>, scored: readonly ScoredCell[] = []): void {
    const pipeline = this.opts.pipeline;
    const points: IPoint[] = [];
    for (const s of steps) {
      points.push({ measurement: 'actual', tags: { pipeline, series: s.series }, fields: { value: s.value, imputed: s.imputed }, timestamp: s.ts });
    }
    for (const [model, forecasts] of forecastsByModel) {
      for (const f of forecasts) {
        for (const cell of f.forecast) {
          const fields: Record<string, number> = { mean: cell.mean };
          for (const [k, v] of Object.entries(cell.q)) fields[quantileField(k)] = v;
          points.push({ measurement: 'forecast', tags: { pipeline, series: f.series, h: String(cell.h), model }, fields, timestamp: cell.ts });
        }
      }
    }
    for (const c of scored) {
      points.push({
        measurement: 'forecast_error',
        tags: { pipeline, series: c.series, h: String(c.h), model: c.model },
        fields: { abs_error: c.absError, ...(c.inInterval !== undefined ? { in_interval: c.inInterval } : {}) },
        timestamp: c.ts,
      });
    }
    this.enqueue(points);
  }

  /** Appends raw points (same bounded, non-blocking path as `record`). */
  enqueue(points: readonly IPoint[]): void {
    if (points.length === 0) return;
    if (this.closed !== undefined) {
      this.drop(points.length);
      return;
    }
    const room = this.maxBuffer - this.buffer.length;
    if (room < points.length) this.drop(points.length - Math.max(room, 0));
    for (let i = 0; i < Math.min(room, points.length); i++) this.buffer.push(points[i]!);
    if (this.buffer.length >= this.batchPoints) this.kick();
  }

  /** Resolves once everything buffered so far has been written or dropped. */
  async flush(): Promise<void> {
    while (this.buffer.length > 0 || this.draining !== undefined) {
      this.kick();
      await this.draining;
    }
  }

  /**
   * Stops the periodic flush and writes what is buffered, for at most `timeoutMs` of the
   * scheduler's time (default 10 s); whatever is still buffered then is dropped and counted, so
   * shutdown is bounded even with InfluxDB away. Idempotent.
   */
  close(timeoutMs = 10_000): Promise<HistoryStats> {
    this.closed ??= (async () => {
      this.timer?.unsubscribe();
      this.timer = undefined;
      let deadline: Subscription | undefined;
      const timedOut = new Promise<void>((resolve) => {
        deadline = this.scheduler.schedule(() => resolve(), timeoutMs);
      });
      await Promise.race([this.flush(), timedOut]);
      deadline?.unsubscribe();
      if (this.buffer.length > 0 || this.draining !== undefined) {
        // Stops retry sleeps and further batches. A request already on the wire is not awaited
        // (a hung server would hang shutdown); its points count as dropped if it fails later.
        this.abort.abort(new ConfigError('history sink closed'));
        this.drop(this.buffer.length);
        this.buffer = [];
      }
      return this.stats;
    })();
    return this.closed;
  }

  private scheduleFlushes(everyMs: number): Subscription {
    const sink = this;
    return this.scheduler.schedule(function () {
      if (sink.buffer.length > 0) sink.kick();
      this.schedule(undefined, everyMs);
    }, everyMs);
  }

  private kick(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 && !this.abort.signal.aborted) {
      const chunk = this.buffer.splice(0, this.batchPoints);
      try {
        await retry(
          async () => {
            await this.ensureDatabase();
            await this.client.writePoints(chunk, { precision: 'ms' });
          },
          {
            ...this.retryOpts,
            signal: this.abort.signal,
            sleep: (ms, signal) => this.sleep(ms, signal),
            isRetriable: isRetriableInfluxError,
          },
        );
        this.written += chunk.length;
        if (this.failing) {
          this.failing = false;
          this.opts.logger.info({ database: this.database }, 'InfluxDB history writes recovered');
        }
      } catch (err) {
        this.drop(chunk.length);
        if (!this.abort.signal.aborted) this.opts.events({ type: 'sink_error', sink: 'influx', count: 1 });
        // One warning per outage, not one per batch.
        if (!this.failing && !this.abort.signal.aborted) {
          this.failing = true;
          this.opts.logger.warn(
            { err, url: redact(this.opts.url), points: chunk.length },
            'InfluxDB history write failed; dropping history (counted in streamcast_dropped_history_points_total) until it recovers. Forecasting is not affected. Operator action: check InfluxDB at the --influx URL.',
          );
        }
      }
    }
  }

  private async ensureDatabase(): Promise<void> {
    if (this.databaseReady) return;
    const names = await this.client.getDatabaseNames();
    if (!names.includes(this.database)) {
      await this.client.createDatabase(this.database);
      this.opts.logger.info({ database: this.database }, 'created InfluxDB database for history');
    }
    this.databaseReady = true;
  }

  private drop(count: number): void {
    if (count <= 0) return;
    this.dropped += count;
    this.opts.events({ type: 'dropped_history_points', count });
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        sub.unsubscribe();
        reject(signal?.reason);
      };
      const sub = this.scheduler.schedule(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * A 4xx answer (bad line protocol, field type conflict, auth) will not change on retry; the
 * batch is dropped. Network errors, timeouts and 5xx are retried. The client's RequestError is
 * not exported, so its `res.statusCode` is read as data.
 */
export function isRetriableInfluxError(err: unknown): boolean {
  if (typeof err === 'object' && err !== null && 'res' in err) {
    const res = (err as { res?: { statusCode?: unknown } }).res;
    if (typeof res?.statusCode === 'number') return res.statusCode >= 500;
  }
  return true;
}

const noBackoff = {
  getDelay: () => 50,
  next() {
    return noBackoff;
  },
  reset() {
    return noBackoff;
  },
};

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`InfluxDB history: ${name} must be a whole number >= 1, got ${v}`);
  return v;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch (err) {
    return err instanceof TypeError ? '<invalid url>' : url;
  }
}
