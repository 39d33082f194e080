import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { KafkaConfig } from '../../config/kafkaConfig.js';
import { StreamcastError } from '../../domain/errors.js';
import type { LogSink } from '../../observability/logger.js';
import { createKafka } from './kafkaClient.js';
import { modelReaderGroupId, modelTopic, type TopicSpec } from './topics.js';

/** A frame is ~80 KB at H = 64; headroom for larger models without touching broker defaults elsewhere. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** One record of the model topic as the channel hands it over. */
export interface ModelRecord {
  readonly key: string | null;
  /** null: a tombstone. */
  readonly value: Uint8Array | null;
  readonly partition: number;
  readonly offset: string;
}

/**
 * The Kafka side of model distribution (src/runtime/modelDistribution.ts): the compacted
 * `<pipeline>.models` topic (one partition, key = pipeline name), an idempotent producer that
 * publishes to it, and a consumer that reads it from its start, in a group of its own that commits
 * nothing (so it always starts from the oldest retained record).
 */
export class KafkaModelChannel {
  readonly topic: string;
  readonly #cfg: KafkaConfig;
  readonly #kafka: Kafka;
  #producer: Producer | undefined;
  #consumer: Consumer | undefined;

  constructor(opts: { readonly pipeline: string; readonly cfg: KafkaConfig; readonly logger: LogSink }) {
    this.topic = modelTopic({ name: opts.pipeline });
    this.#cfg = opts.cfg;
    this.#kafka = createKafka(opts.cfg, opts.logger, { clientIdSuffix: 'models' });
  }

  /** The model topic as it is created when absent (with the pipeline's other topics). */
  get topicSpec(): TopicSpec {
    return { topic: this.topic, partitions: 1, replication: this.#cfg.topicReplication, compacted: true, configs: { 'max.message.bytes': String(MAX_MESSAGE_BYTES) } };
  }

  /** Connects the publisher and starts reading, each record to `onRecord`; idempotent (safe to retry). */
  async start(onRecord: (record: ModelRecord) => void): Promise<void> {
    if (this.#producer === undefined) {
      const producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await producer.connect();
      this.#producer = producer;
    }
    if (this.#consumer === undefined) {
      const consumer = this.#kafka.consumer({
        groupId: modelReaderGroupId(this.#cfg.groupId),
        maxBytesPerPartition: MAX_MESSAGE_BYTES,
        maxBytes: MAX_MESSAGE_BYTES,
        allowAutoTopicCreation: false,
      });
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message, partition }) => {
          const { key, value, offset } = message;
          onRecord({ key: key === null ? null : key.toString('utf8'), value: value === null ? null : new Uint8Array(value.buffer, value.byteOffset, value.byteLength), partition, offset });
        },
      });
      this.#consumer = consumer;
    }
  }

  /** Whether `publish` has a connected producer. */
  get connected(): boolean {
    return this.#producer !== undefined;
  }

  async publish(key: string, value: Uint8Array): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined) throw new StreamcastError('fatal', `cannot publish to ${this.topic}: the model channel is not started`);
    await producer.send({ topic: this.topic, messages: [{ key, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) }] });
  }

  /** Disconnects both clients (whatever happens to either). */
  async close(): Promise<void> {
    await Promise.allSettled([this.#consumer?.disconnect(), this.#producer?.disconnect()]);
  }
}
