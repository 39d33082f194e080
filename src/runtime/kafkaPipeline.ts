import { randomUUID } from 'node:crypto';
import { interval } from 'rxjs';
import { decoderFor } from '../codecs/codec.js';
import type { KafkaConfig } from '../config/kafkaConfig.js';
import { createKafka, isRetriableKafkaError } from '../connectors/kafka/kafkaClient.js';
import { type KafkaDelivery, kafkaDelivery } from '../connectors/kafka/kafkaDelivery.js';
import { KafkaSource } from '../connectors/kafka/kafkaSource.js';
import { inProcessProducers, type ProducerFactory } from '../connectors/kafka/outputProducer.js';
import { ProducerThread } from '../connectors/kafka/producerThread.js';
import { ensurePipelineTopics, pipelineTopics } from '../connectors/kafka/topics.js';
import { wallClock } from '../domain/clock.js';
import type { Forecast } from '../domain/forecast.js';
import type { NormalizedStep } from '../domain/step.js';
import type { Forecaster } from '../forecasting/forecaster.js';
import type { EventListener } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import { createPipelineCores } from '../pipeline/build.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import { SeriesStateStore } from '../state/seriesStateStore.js';
import { stateShapeOf } from '../state/stateShape.js';
import { CheckpointCoordinator, type PipelineStateStore } from './checkpoint/checkpointCoordinator.js';
import type { SeriesRegistry } from '../state/seriesRegistry.js';
import { PipelineRunner, type RunSummary } from './pipelineRunner.js';
import type { ModelDistribution } from './modelDistribution.js';
import { retry } from '../platform/retry.js';
import { type Liveness, StallDetector } from './stallDetector.js';
import { countedProducers } from '../connectors/kafka/countedProducers.js';

export interface KafkaPipelineOptions {
  readonly spec: PipelineSpec;
  readonly cfg: KafkaConfig;
  readonly logger: Logger;
  readonly events: EventListener;
  readonly forecaster: Forecaster;
  /** Every batch's forecasts as they are made (e.g. for GET /series/:id). */
  readonly onForecasts?: (forecasts: readonly Forecast[]) => void;
  /**
   * Every batch's steps (observed and imputed actuals) with its forecasts, after onForecasts
   * (e.g. live accuracy and InfluxDB history, src/runtime/liveObservers.ts). Must not block.
   */
  readonly onBatch?: (steps: readonly NormalizedStep[], forecasts: readonly Forecast[]) => void;
  /** A series' state was dropped (evicted, expired, revoked): forget what is kept about it elsewhere. */
  readonly onSeriesDropped?: (series: string) => void;
  /**
   * The pipeline's series index, shared with the forecaster's per-series parts (give the forecaster
   * the same one): the store drops a series once and every part forgets it. Default: the store's own.
   */
  readonly registry?: SeriesRegistry;
  /** Names this process in checkpoint metadata; default a random UUID. */
  readonly instanceId?: string;
  /** Model distribution across instances (src/runtime/modelDistribution.ts): one trainer, every instance serving its models. */
  readonly models?: ModelDistribution;
}

/**
 * One pipeline on Kafka, as `streamcast run` runs it: consumer-group source, step pipeline whose
 * per-series cores live in a state store, forecaster, and the checkpoint coordinator whose
 * committer (kafkaDelivery: one per guarantee) writes forecasts, the state changelog and offsets
 * in that order (one transaction per input partition under exactly-once). Topics are created when
 * absent; the changelog gets the input's partition count.
 */
export class KafkaPipeline {
  readonly spec: PipelineSpec;
  readonly source: KafkaSource;
  readonly runner: PipelineRunner;
  readonly coordinator: CheckpointCoordinator;
  readonly store: PipelineStateStore;
  private readonly delivery: KafkaDelivery;
  private readonly producers: ProducerFactory;
  private readonly abort = new AbortController();
  private readonly stall: StallDetector;
  private connected = false;

  constructor(private readonly opts: KafkaPipelineOptions) {
    const { spec, cfg, forecaster } = opts;
    this.spec = spec;
    this.stall = new StallDetector({ timeoutMs: cfg.stallTimeoutMs, now: Date.now });
    // The stall detector hears what the metrics hear: records taken in, consumer lag.
    const events: EventListener = (e) => {
      this.stall.observe(e);
      opts.events(e);
    };
    const log = opts.logger;
    const kafka = createKafka(cfg, log);
    this.store = new SeriesStateStore({
      cores: { ...createPipelineCores(spec, opts.registry), forecaster },
      ...(opts.registry !== undefined ? { registry: opts.registry } : {}),
      shape: stateShapeOf(spec),
      bounds: { maxSeries: spec.state.maxSeries, ttlMs: spec.state.ttl },
    });
    if (opts.onSeriesDropped !== undefined) this.store.onDrop(opts.onSeriesDropped);
    const producers = countedProducers(
      cfg.producerThread
        ? new ProducerThread({ cfg, logger: log, debug: log.isLevelEnabled('debug') })
        : inProcessProducers(kafka, ({ attempt, delayMs, error }) =>
            log.warn({ attempt: attempt + 1, delayMs, err: error }, `Kafka producer: send failed while the broker is away; sending it again in ${(delayMs / 1000).toFixed(1)} s`),
          ),
      events,
    );
    this.producers = producers;
    let coordinator: CheckpointCoordinator | undefined;
    this.source = new KafkaSource({
      kafka,
      topic: spec.input.topic,
      groupId: cfg.groupId,
      decoder: decoderFor(spec.input.codec),
      fromBeginning: cfg.fromBeginning,
      sessionTimeoutMs: cfg.sessionTimeoutMs,
      logger: log,
      events,
      onAssignment: (assigned, revoked) => {
        coordinator!.onAssignment(assigned, revoked);
        opts.models?.onAssignment(assigned, revoked);
      },
      partitionReady: (p) => coordinator!.partitionReady(p),
    });
    this.delivery = kafkaDelivery({
      guarantee: spec.guarantee,
      kafka,
      producers,
      logger: log,
      groupId: cfg.groupId,
      topics: pipelineTopics(spec),
      source: this.source,
      instanceId: opts.instanceId ?? randomUUID(),
      signal: this.abort.signal,
    });
    coordinator = new CheckpointCoordinator({
      store: this.store,
      committer: this.delivery.committer,
      reader: this.delivery.reader,
      events,
      logger: log,
      intervalMs: cfg.checkpointIntervalMs ?? this.delivery.checkpointIntervalMs,
    });
    this.coordinator = coordinator;
    // Idle close runs on the wall clock in live mode: a series that stops reporting still gets its
    // last steps closed and forecast.
    const idleEveryMs = Math.max(1000, Math.min(60_000, Math.floor(spec.window.idleClose / 4)));
    this.runner = new PipelineRunner({
      spec,
      source: this.source,
      forecaster,
      clock: wallClock,
      events,
      checkpoints: coordinator,
      pipeline: { flushOnComplete: false, idleTicks: interval(idleEveryMs), logger: log },
      ...(opts.onForecasts || opts.onBatch
        ? {
            onBatch: (steps: readonly NormalizedStep[], forecasts: readonly Forecast[]) => {
              opts.onForecasts?.(forecasts);
              opts.onBatch?.(steps, forecasts);
            },
          }
        : {}),
    });
  }

  readiness(): { ready: boolean; reason?: string } {
    if (!this.connected) return { ready: false, reason: 'creating topics / connecting to Kafka' };
    const s = this.source.readiness();
    if (!s.ready) return s;
    return this.coordinator.readiness();
  }

  /** /healthz: false when records wait and none has been processed for the stall timeout. */
  liveness(): Liveness {
    return this.stall.check(this.readiness().ready);
  }

  /** Creates topics, connects, runs until stopped (or the input fails); resolves undefined when stopped before Kafka was reachable. */
  async run(signal: AbortSignal): Promise<RunSummary | undefined> {
    const { cfg, logger: log } = this.opts;
    signal.addEventListener(
      'abort',
      () => {
        this.coordinator.stop();
        this.abort.abort(signal.reason);
      },
      { once: true },
    );
    try {
      await retry(() => this.prepare(), {
        retries: Number.MAX_SAFE_INTEGER,
        initialMs: 500,
        maxMs: 15_000,
        signal,
        isRetriable: isRetriableKafkaError,
        onRetry: ({ attempt, delayMs, error }) =>
          log.warn({ attempt: attempt + 1, delayMs, err: error }, `cannot reach Kafka at ${cfg.brokers.join(',')} (${(error as Error).message}); retrying in ${(delayMs / 1000).toFixed(1)} s`),
      });
    } catch (err) {
      if (signal.aborted) return undefined; // shut down before Kafka was reachable
      throw err;
    }
    this.connected = true;
    this.coordinator.start();
    return this.runner.run();
  }

  private async prepare(): Promise<void> {
    const { spec, cfg, logger: log, models } = this.opts;
    const created = await ensurePipelineTopics({ spec, cfg, logger: log, extra: models === undefined ? [] : [models.topicSpec] });
    if (created.length > 0) log.info({ topics: created }, `created topics ${created.join(', ')}`);
    await this.delivery.connect();
    await models?.start();
  }

  stop(): Promise<void> {
    this.coordinator.stop();
    return this.runner.stop();
  }

  async close(): Promise<void> {
    // The forecaster's close() cancels background training and ends its worker thread.
    await Promise.allSettled([this.delivery.close(), this.opts.forecaster.close?.(), this.opts.models?.close()]);
    // After the producers on it are flushed and disconnected above.
    await this.producers.close();
  }
}
