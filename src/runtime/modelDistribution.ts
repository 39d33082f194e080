import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { KafkaConfig } from '../config/kafkaConfig.js';
import { createKafka } from '../connectors/kafka/kafkaClient.js';
import { ensureTopics } from '../connectors/kafka/topics.js';
import { isStreamcastError } from '../domain/errors.js';
import { decodeModelFrame, encodeModelFrame } from '../forecasting/gru/modelFrame.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import type { Logger } from '../observability/logger.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { ArtifactInfo } from '../training/artifactStore.js';
import type { RetrainMode } from '../training/retrainer.js';

/** The compacted topic that carries a pipeline's promoted models (key = pipeline name). */
export function modelTopic(spec: PipelineSpec): string {
  return `${spec.name}.models`;
}

/** The input partition whose owner trains. */
export const TRAINER_PARTITION = 0;
/** A frame is ~80 KB at H = 64; headroom for larger models without touching broker defaults elsewhere. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** What model distribution needs of the pipeline's model: its Retrainer's switch and its ModelRuntime's `adopt`. */
export interface DistributedModel {
  setRetrain(mode: RetrainMode): void;
  adopt(weights: GruModelWeights): boolean;
}

export interface ModelDistributionOptions {
  readonly spec: PipelineSpec;
  readonly cfg: KafkaConfig;
  readonly logger: Logger;
}

/**
 * One trainer per pipeline across instances, every instance serving its models: retraining is
 * on only while this instance owns input partition 0 (`onAssignment`); a model promoted here is
 * published to `<pipeline>.models` (compacted, one partition, key = pipeline, value = a model
 * frame, see modelFrame.ts); and every instance, the trainer included, reads that topic from its
 * start (a consumer in a group of its own that commits nothing, so it always starts from the
 * oldest retained record) and adopts each newer version through ModelRuntime's swap path.
 * A restarted instance thus starts serving the latest published model as soon as it has read it.
 */
/** How long close() waits for the model topic's clients before giving up on them. */
const CLOSE_TIMEOUT_MS = 3_000;

export class ModelDistribution {
  readonly topic: string;
  readonly #opts: ModelDistributionOptions;
  readonly #kafka: Kafka;
  #model: DistributedModel | undefined;
  #producer: Producer | undefined;
  #consumer: Consumer | undefined;
  #publishing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(opts: ModelDistributionOptions) {
    this.#opts = opts;
    this.topic = modelTopic(opts.spec);
    this.#kafka = createKafka(opts.cfg, opts.logger, { clientIdSuffix: 'models' });
  }

  /** The model it drives (attached after construction: the retrainer's onPromoted calls `publish`). */
  attach(model: DistributedModel): void {
    this.#model = model;
  }

  /** Creates the model topic when absent (called with the pipeline's other topics). */
  async prepare(admin: Admin): Promise<string[]> {
    return ensureTopics(admin, [
      { topic: this.topic, partitions: 1, replication: this.#opts.cfg.topicReplication, compacted: true, configs: { 'max.message.bytes': String(MAX_MESSAGE_BYTES) } },
    ]);
  }

  /** Connects the publisher and starts reading published models; idempotent (safe to retry). */
  async start(): Promise<void> {
    if (this.#closed) return;
    if (this.#producer === undefined) {
      const producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await producer.connect();
      this.#producer = producer;
    }
    if (this.#consumer === undefined) {
      const consumer = this.#kafka.consumer({
        groupId: `${this.#opts.cfg.groupId}.models.${randomUUID()}`,
        maxBytesPerPartition: MAX_MESSAGE_BYTES,
        maxBytes: MAX_MESSAGE_BYTES,
        allowAutoTopicCreation: false,
      });
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({ autoCommit: false, eachMessage: async ({ message, partition }) => this.#received(message.key, message.value, partition, message.offset) });
      this.#consumer = consumer;
    }
  }

  /** From the input source: train while this instance owns the trainer partition. */
  onAssignment(assigned: readonly number[], revoked: readonly number[]): void {
    const model = this.#model;
    if (model === undefined) return;
    if (assigned.includes(TRAINER_PARTITION)) {
      model.setRetrain('background');
      this.#opts.logger.info({ topic: this.topic }, `this instance owns input partition ${TRAINER_PARTITION}: it trains and publishes models`);
    } else if (revoked.includes(TRAINER_PARTITION)) {
      model.setRetrain('off');
      this.#opts.logger.info({ topic: this.topic }, `input partition ${TRAINER_PARTITION} moved away: training stops here`);
    }
  }

  /** Publishes a promotion made here (the Retrainer's onPromoted); failures are logged, never thrown. */
  publish(weights: GruModelWeights, info: ArtifactInfo): void {
    const { spec, logger } = this.#opts;
    const frame = encodeModelFrame(weights, { pipeline: spec.name, ...info });
    this.#publishing = this.#publishing.then(async () => {
      const producer = this.#producer;
      if (producer === undefined || this.#closed) {
        logger.warn({ version: weights.version }, `model v${weights.version} not published: not connected to Kafka`);
        return;
      }
      try {
        await producer.send({ topic: this.topic, messages: [{ key: spec.name, value: Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength) }] });
        logger.info({ topic: this.topic, version: weights.version, bytes: frame.byteLength }, `published model v${weights.version} to ${this.topic}`);
      } catch (err) {
        // The next promotion publishes again; meanwhile the other instances keep their model.
        logger.error({ topic: this.topic, version: weights.version, err }, `cannot publish model v${weights.version}`);
      }
    });
  }

  #received(key: Buffer | null, value: Buffer | null, partition: number, offset: string): void {
    const { spec, logger } = this.#opts;
    const model = this.#model;
    if (value === null || key === null || key.toString('utf8') !== spec.name) return; // tombstone or another pipeline's record
    try {
      const { weights } = decodeModelFrame(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      model?.adopt(weights);
    } catch (err) {
      if (!isStreamcastError(err)) throw err;
      logger.warn({ topic: this.topic, partition, offset, err: err.message }, 'skipped an unusable model record; the model in service stays');
    }
  }

  /**
   * Lets a publish in flight finish, then disconnects. Bounded: after a broker outage kafkajs may
   * still be reconnecting these clients, and a model side channel must never hold up shutdown
   * (a lost publish is repeated by the next promotion; `models/` keeps the artifact).
   */
  async close(): Promise<void> {
    const closing = (async () => {
      await this.#publishing;
      this.#closed = true;
      await Promise.allSettled([this.#consumer?.disconnect(), this.#producer?.disconnect()]);
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      timer.unref();
    });
    await Promise.race([closing, timeout]);
    clearTimeout(timer);
    this.#closed = true;
  }
}
