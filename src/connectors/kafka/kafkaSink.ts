import type { Kafka, Message } from 'kafkajs';
import { encodeForecast } from '../../codecs/forecastJson.js';
import type { DeadLetter } from '../../domain/deadLetter.js';
import { StreamcastError } from '../../domain/errors.js';
import type { Forecast } from '../../domain/forecast.js';
import type { Point } from '../../domain/point.js';
import type { LogSink } from '../../observability/logger.js';
import { retry } from '../../platform/retry.js';
import type { EncodedState } from '../../state/seriesStateStore.js';
import type { Sink } from '../sink.js';
import { isRetriableKafkaError } from './kafkaClient.js';
import { inProcessProducers, type OutputProducer, type ProducerFactory } from './outputProducer.js';
import { type Outgoing, outgoing, produceRequests } from './produceRequests.js';

export interface KafkaOutputOptions {
  readonly kafka: Kafka;
  /** Where the producer runs (default: this thread, a producer of `kafka`). */
  readonly producers?: ProducerFactory;
  readonly logger: LogSink;
  /**
   * Bytes of values per produce request. A request's records for one partition form one record
   * batch, which the broker refuses above `message.max.bytes` (1 MiB by default). A function is
   * given the bytes one flush sends, so that a large flush can go out in fewer, larger requests.
   */
  readonly maxRequestBytes?: number | ((flushBytes: number) => number);
  /** Buffered bytes at which `write` sends without waiting for `flush`; bounds memory. */
  readonly sendThresholdBytes?: number;
  readonly connectRetry?: { readonly initialMs: number; readonly maxMs: number; readonly retries: number };
}


/**
 * One idempotent producer shared by every Kafka sink of a pipeline (forecasts, dead letters), so
 * that a checkpoint's `flush` is one ordered stream of produce requests. `write` buffers; `flush`
 * sends everything buffered and resolves once the broker acknowledged it (acks=all), which is
 * what makes committing input offsets afterwards safe. Idempotence (a producer id and per-
 * partition sequence numbers) makes kafkajs' internal retries free of duplicates; kafkajs
 * guarantees that only with one request in flight per connection.
 */
export class KafkaOutput {
  private readonly producer: OutputProducer;
  private readonly requestBytes: (flushBytes: number) => number;
  private readonly sendThreshold: number;
  private pending: Outgoing[] = [];
  private pendingBytes = 0;
  /** The last request handed to the producer (its acknowledgement implies every earlier one's). */
  private last: Promise<void> = Promise.resolve();
  private connected = false;
  private connecting?: Promise<void>;
  private closing?: Promise<void>;
  private failed: unknown;

  constructor(private readonly opts: KafkaOutputOptions) {
    this.producer = (opts.producers ?? inProcessProducers(opts.kafka)).producer({ idempotent: true });
    const max = opts.maxRequestBytes ?? 512 * 1024;
    this.requestBytes = typeof max === 'function' ? max : () => max;
    this.sendThreshold = opts.sendThresholdBytes ?? 4 * 1024 * 1024;
  }

  /** Connects (retrying a broker that is away, with backoff); idempotent. */
  connect(signal?: AbortSignal): Promise<void> {
    this.connecting ??= retry(() => this.producer.connect(), {
      ...(this.opts.connectRetry ?? { initialMs: 500, maxMs: 15_000, retries: Number.MAX_SAFE_INTEGER }),
      isRetriable: isRetriableKafkaError,
      ...(signal ? { signal } : {}),
      onRetry: ({ delayMs, error }) =>
        this.opts.logger.warn({ err: error, delayMs }, `Kafka producer cannot connect; retrying in ${(delayMs / 1000).toFixed(1)} s`),
    }).catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  sink<T>(topic: string, encode: (item: T) => Message, name = `kafka:${topic}`): Sink<T> {
    return {
      name,
      write: (items) => this.enqueue(topic, items.map(encode)),
      flush: () => this.flush(),
      close: () => this.close(),
    };
  }

  private async enqueue(topic: string, messages: readonly Message[]): Promise<void> {
    if (this.closing) throw new StreamcastError('fatal', `Kafka sink for ${topic}: write after close`);
    for (const message of messages) {
      const item = outgoing(topic, message);
      this.pending.push(item);
      this.pendingBytes += item.bytes;
    }
    if (this.pendingBytes >= this.sendThreshold) await this.flush();
  }

  /**
   * Sends everything written so far; resolves when the broker has acknowledged all of it.
   * Requests are handed to the producer at once, without waiting for the acknowledgement of the
   * previous one: the producer runs them one at a time in order (OutputProducer's contract), so
   * the broker stays busy even while this thread is busy forecasting, and the last request's
   * acknowledgement implies all earlier ones.
   */
  flush(): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    const batch = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    if (batch.length > 0) {
      // Before the first connection, flushes queue behind it in call order.
      this.last = this.connected ? this.post(batch, bytes) : this.last.then(() => this.connect()).then(() => this.post(batch, bytes));
    }
    return this.last;
  }

  private post(batch: readonly Outgoing[], bytes: number): Promise<void> {
    this.connected = true;
    let last: Promise<void> = Promise.resolve();
    const requests = produceRequests(batch, this.requestBytes(bytes));
    for (const [i, topicMessages] of requests.entries()) {
      last = this.producer.sendBatch({ acks: -1, topicMessages }).then(
        () => undefined,
        (err: unknown) => {
          // The producer sends again what a broker outage failed (serialSends); what still fails
          // would lose or reorder output, so the pipeline stops before committing offsets past it.
          this.failed ??= err;
          throw err;
        },
      );
      // Earlier requests fail together with the last one (the producer refuses the rest).
      if (i < requests.length - 1) last.catch(() => undefined);
    }
    return last;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.flush();
      } finally {
        await this.producer.disconnect();
      }
    })();
    return this.closing;
  }
}

/** A Kafka record as streamcast writes it (kafkajs' shape, named here so callers need not import kafkajs). */
export type KafkaMessage = Message;

/** The input point of DESIGN.md, keyed by series so that a series' points stay in one partition, in order. */
export function pointMessage(p: Point): Message {
  return { key: p.series, value: JSON.stringify({ series: p.series, ts: p.ts, value: p.value }) };
}

/** Forecast message: keyed by series (so one series' forecasts stay in order), value per DESIGN.md. */
export function forecastMessage(f: Forecast): Message & { key: string; value: string } {
  // No record timestamp from event time: the broker's time-based retention would delete the
  // forecasts of a replayed old data set at once.
  return { key: f.series, value: encodeForecast(f) };
}

/** Dead-letter message (DESIGN.md shape), keyed like the record it came from. */
export function deadLetterMessage(d: DeadLetter): Message {
  return { key: d.source.key, value: JSON.stringify(d) };
}

/** The changelog record of one series: keyed by series, in the partition of its input partition; a null value (tombstone) for an evicted series. */
export function stateMessage(s: EncodedState): Message {
  const v = s.value;
  return { key: s.series, value: v === null ? null : Buffer.from(v.buffer, v.byteOffset, v.byteLength), partition: s.partition };
}
