import type { Kafka, TopicMessages } from 'kafkajs';
import { murmur2Partitioner } from './murmur2Partitioner.js';
import { initTransactions, runTransaction, type TransactionWork } from './runTransaction.js';

/** The part of a kafkajs producer streamcast uses. */
export interface OutputProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Calls run one at a time, in call order, so a caller may issue the next before the previous
   * is acknowledged; once one fails, every later one fails with the same error (nothing is
   * written past a lost write). kafkajs' own producer promises neither: concurrent sends of an
   * idempotent producer can reorder when one is retried.
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

/** kafkajs producers of `kafka`, on this thread. */
export function inProcessProducers(kafka: Kafka): ProducerFactory {
  return {
    producer: (o) => {
      const p = kafka.producer(producerConfig(o));
      const send = serialSends((batch: { acks: -1; topicMessages: TopicMessages[] }) => p.sendBatch(batch));
      return {
        connect: () => p.connect(),
        disconnect: () => p.disconnect(),
        sendBatch: send,
        initTransactions: () => initTransactions(p),
        transact: (work) => runTransaction(p, work),
      };
    },
    close: async () => undefined,
  };
}

/** Wraps `send` so that calls run one at a time in call order and fail together after the first failure. */
export function serialSends<A, R>(send: (arg: A) => Promise<R>): (arg: A) => Promise<R> {
  let tail: Promise<unknown> = Promise.resolve();
  let failed: { err: unknown } | undefined;
  return (arg) => {
    const run = tail.then(async () => {
      if (failed !== undefined) throw failed.err;
      try {
        return await send(arg);
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
