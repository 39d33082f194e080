import type { Kafka, Offsets, TopicMessages } from 'kafkajs';
import { murmur2Partitioner } from './murmur2Partitioner.js';

/** The part of a kafkajs transaction streamcast uses. */
export interface OutputTransaction {
  sendBatch(batch: { acks: -1; topicMessages: TopicMessages[] }): Promise<unknown>;
  sendOffsets(offsets: Offsets & { consumerGroupId: string }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isActive(): boolean;
}

/** The part of a kafkajs producer streamcast uses (kafkajs' Producer has it as is). */
export interface OutputProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  sendBatch(batch: { acks: -1; topicMessages: TopicMessages[] }): Promise<unknown>;
  transaction(): Promise<OutputTransaction>;
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
    producer: (o) => kafka.producer(producerConfig(o)),
    close: async () => undefined,
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
