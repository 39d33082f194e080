import type { KafkaConfig } from '../config/kafkaConfig.js';
import { KafkaModelChannel, type ModelRecord } from '../connectors/kafka/modelChannel.js';
import type { TopicSpec } from '../connectors/kafka/topics.js';
import { isStreamcastError } from '../domain/errors.js';
import type { RetrainMode } from '../training/retrainer.js';
import { decodeModelFrame, encodeModelFrame } from '../forecasting/gru/modelFrame.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import type { Logger } from '../observability/logger.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { ArtifactInfo } from '../training/artifactStore.js';

/** The input partition whose owner trains. */
export const TRAINER_PARTITION = 0;

/** What model distribution needs of the forecaster (ModelRuntime). */
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
 * start (src/connectors/kafka/modelChannel.ts) and adopts each newer version through
 * ModelRuntime's promotion path.
 * A restarted instance thus starts serving the latest published model as soon as it has read it.
 */
/** How long close() waits for the model topic's clients before giving up on them. */
const CLOSE_TIMEOUT_MS = 3_000;

export class ModelDistribution {
  readonly topic: string;
  readonly #opts: ModelDistributionOptions;
  readonly #channel: KafkaModelChannel;
  #model: DistributedModel | undefined;
  #publishing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(opts: ModelDistributionOptions) {
    this.#opts = opts;
    this.#channel = new KafkaModelChannel({ pipeline: opts.spec.name, cfg: opts.cfg, logger: opts.logger });
    this.topic = this.#channel.topic;
  }

  /** The forecaster it drives (attached after construction: the forecaster's onPromoted calls `publish`). */
  attach(model: DistributedModel): void {
    this.#model = model;
  }

  /** The model topic, created when absent with the pipeline's other topics. */
  get topicSpec(): TopicSpec {
    return this.#channel.topicSpec;
  }

  /** Connects the publisher and starts reading published models; idempotent (safe to retry). */
  async start(): Promise<void> {
    if (this.#closed) return;
    await this.#channel.start((record) => this.#received(record));
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

  /** Publishes a promotion made here (ModelRuntime's onPromoted); failures are logged, never thrown. */
  publish(weights: GruModelWeights, info: ArtifactInfo): void {
    const { spec, logger } = this.#opts;
    const frame = encodeModelFrame(weights, { pipeline: spec.name, ...info });
    this.#publishing = this.#publishing.then(async () => {
      if (!this.#channel.connected || this.#closed) {
        logger.warn({ version: weights.version }, `model v${weights.version} not published: not connected to Kafka`);
        return;
      }
      try {
        await this.#channel.publish(spec.name, frame);
        logger.info({ topic: this.topic, version: weights.version, bytes: frame.byteLength }, `published model v${weights.version} to ${this.topic}`);
      } catch (err) {
        // The next promotion publishes again; meanwhile the other instances keep their model.
        logger.error({ topic: this.topic, version: weights.version, err }, `cannot publish model v${weights.version}`);
      }
    });
  }

  #received({ key, value, partition, offset }: ModelRecord): void {
    const { spec, logger } = this.#opts;
    const model = this.#model;
    if (value === null || key !== spec.name) return; // tombstone or another pipeline's record
    try {
      const { weights } = decodeModelFrame(value);
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
      await this.#channel.close();
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
