import type { Kafka, TopicMessages } from 'kafkajs';
import { retry } from '../../platform/retry.js';
import { isBrokerOutage } from './kafkaClient.js';
import { murmur2Partitioner } from './murmur2Partitioner.js';
import { initTransactions, runTransaction, type TransactionWork } from './runTransaction.js';
import { StreamcastError } from '../../domain/errors.js';

/** The part of a kafkajs producer streamcast uses. */
export interface OutputProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Calls run one at a time, in call order, so a caller may issue the next before the previous
   * is acknowledged; once one fails, every later one fails with the same error (nothing is
   * written past a lost write). kafkajs' own producer promises neither: concurrent sends of an
   * idempotent producer can reorder when one is retried. A send that fails because the broker is
   * away (a retriable error in its cause chain) is sent again, in place, until the broker is back
   * or the producer is disconnected (see `serialSends`).
   */
  sendBatch(batch: { acks: -1; topicMessages: TopicMessages[] }): Promise<unknown>;
  /** Transactional producers: initialises the transactional id, fencing every older producer of it. */
  initTransactions(): Promise<void>;
  /** Transactional producers: `work` as one transaction (runTransaction.ts). */
  transact(work: TransactionWork): Promise<void>;
}

/** Plain data (it crosses to the producer thread). */
export interface OutputProducerOptions {
  readonly idempotent: true;
  readonly transactionalId?: string;
  readonly transactionTimeout?: number;
}

/**
 * Where a pipeline's producers come from: this thread (`inProcessProducers`) or a thread of their
 * own (`ProducerThread`), which keeps kafkajs' record encoding off the thread that forecasts.
 */
export interface ProducerFactory {
  producer(options: OutputProducerOptions): OutputProducer;
  close(): Promise<void>;
}

/** kafkajs producers of `kafka`, on this thread; `onRetry` hears of sends waiting for the broker. */
export function inProcessProducers(kafka: Kafka, onRetry?: OutageRetry['onRetry']): ProducerFactory {
  return {
    producer: (o) => {
      const p = kafka.producer(producerConfig(o));
      const disconnected = new AbortController();
      const send = serialSends((batch: { acks: -1; topicMessages: TopicMessages[] }) => p.sendBatch(batch), {
        signal: disconnected.signal,
        ...(onRetry !== undefined ? { onRetry } : {}),
      });
      return {
        connect: () => p.connect(),
        disconnect: () => {
          disconnected.abort(new StreamcastError('retriable', 'Kafka producer disconnected while waiting for the broker'));
          return p.disconnect();
        },
        sendBatch: send,
        initTransactions: () => initTransactions(p),
        transact: (work) => runTransaction(p, work),
      };
    },
    close: async () => undefined,
  };
}

/** How sends ride out a broker outage (serialSends). */
export interface OutageRetry {
  /** Ends the waiting (the producer is being disconnected): the send fails with the signal's reason. */
  readonly signal: AbortSignal;
  /** Before each wait; the place to log "broker away, sending again in 1.2 s". */
  readonly onRetry?: (info: { readonly attempt: number; readonly delayMs: number; readonly error: unknown }) => void;
  /** Backoff between attempts; default 0.3 s doubling to 10 s. */
  readonly initialMs?: number;
  readonly maxMs?: number;
  /** For tests; default a real timer. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * A send failure that the broker being away explains: kafkajs gives up after its own retries with
 * a non-retriable wrapper around the (retriable) connection error, so the chain is what counts.
 * By class, never by message: a message's wording is no contract and changes between versions.
 */
export function isOutageError(err: unknown): boolean {
  return isBrokerOutage(err);
}

/**
 * Wraps `send` so that calls run one at a time in call order and fail together after the first
 * failure. With `outage`, a call that fails with an outage error is sent again, in place, with
 * backoff, until it succeeds or `outage.signal` aborts: later calls wait behind it, so order is
 * kept. With an idempotent producer a resent request that had landed is deduplicated by the broker
 * (kafkajs advances a partition's sequence only on success); either way it is at-least-once.
 * Anything else (a record too large, an authorization error) still fails for good.
 */
export function serialSends<A, R>(send: (arg: A) => Promise<R>, outage?: OutageRetry): (arg: A) => Promise<R> {
  let tail: Promise<unknown> = Promise.resolve();
  let failed: { err: unknown } | undefined;
  const attempt =
    outage === undefined
      ? send
      : (arg: A) =>
          retry(() => send(arg), {
            retries: Number.MAX_SAFE_INTEGER,
            initialMs: outage.initialMs ?? 300,
            maxMs: outage.maxMs ?? 10_000,
            signal: outage.signal,
            isRetriable: isOutageError,
            ...(outage.onRetry !== undefined ? { onRetry: outage.onRetry } : {}),
            ...(outage.sleep !== undefined ? { sleep: outage.sleep } : {}),
          });
  return (arg) => {
    const run = tail.then(async () => {
      if (failed !== undefined) throw failed.err;
      try {
        return await attempt(arg);
      } catch (err) {
        failed = { err };
        throw err;
      }
    });
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * One in-flight request per connection: kafkajs keeps an idempotent producer's sequence numbers
 * (no duplicates on retry) and the order of writes only then.
 */
export function producerConfig(o: OutputProducerOptions): Parameters<Kafka['producer']>[0] {
  return {
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: murmur2Partitioner,
    ...(o.transactionalId !== undefined ? { transactionalId: o.transactionalId } : {}),
    ...(o.transactionTimeout !== undefined ? { transactionTimeout: o.transactionTimeout } : {}),
  };
}
