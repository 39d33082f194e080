import { afterAll, expect, it } from 'vitest';
import { kafkaConfigFrom } from '../../../src/config/kafkaConfig.js';
import type { Forecast } from '../../../src/domain/forecast.js';
import type { ModelRuntime } from '../../../src/forecasting/modelRuntime.js';
import { createLogger } from '../../../src/observability/logger.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import { KafkaPipeline } from '../../../src/runtime/kafkaPipeline.js';
import { modelTopic } from '../../../src/connectors/kafka/topics.js';
import { ModelDistribution, TRAINER_PARTITION } from '../../../src/runtime/modelDistribution.js';
import { createModelLifecycle } from '../../../src/training/modelLifecycle.js';
import type { Retrainer } from '../../../src/training/retrainer.js';
import type { TrainerLike } from '../../../src/training/trainer.js';
import { describeWithKafka, requireKafkaBrokers } from '../../helpers/services.js';
import { createTopic, points, specTopics, testKafka, uniqueName, waitFor } from './harness.js';

const SERIES = Array.from({ length: 8 }, (_, i) => `md-${i}`);

interface Instance {
  readonly name: string;
  readonly runtime: ModelRuntime;
  readonly retrainer: Retrainer;
  readonly pipeline: KafkaPipeline;
  readonly trainRequests: () => number;
  readonly forecasts: Forecast[];
  readonly abort: AbortController;
  readonly done: Promise<unknown>;
}

/** Trains instantly and well (so the candidate is always promoted): what is under test is who trains and who serves. */
function instantTrainer(count: () => void): () => TrainerLike {
  return () => ({
    train: async (req) => {
      count();
      return { status: 'done', weights: req.init, valLoss: 1e-6, initialValLoss: 1, currentValLoss: undefined, bestEpoch: 1, epochs: 1, history: [], durationMs: 1, backend: 'fake' };
    },
    cancel: () => undefined,
    close: async () => undefined,
  });
}

describeWithKafka('model distribution: one trainer per pipeline, every instance serves its models', () => {
  const instances: Instance[] = [];
  afterAll(async () => {
    await Promise.allSettled(
      instances.map(async (i) => {
        i.abort.abort();
        await i.pipeline.stop();
        await i.done;
        await i.pipeline.close();
      }),
    );
  });

  it('two instances: only the owner of input partition 0 trains; the other adopts the published version', async () => {
    const brokers = requireKafkaBrokers();
    const kafka = testKafka(brokers);
    const t = specTopics('models');
    await createTopic(kafka, t.input, 2);
    const spec = parseSpec({
      name: t.name,
      input: { topic: t.input, codec: 'json' },
      output: { topic: t.output },
      deadLetter: { topic: t.dlq },
      window: { step: '1m', aggregate: 'mean', lateness: '2m', idleClose: '2s' },
      impute: { strategy: 'ffill', maxGap: '30m' },
      model: { type: 'gru', hidden: 8, context: 16, horizon: 3, quantiles: [0.1, 0.5, 0.9] },
      baseline: { type: 'seasonal-naive', season: '1h' },
      retrain: { every: '10m', minHistory: 30, epochs: 1 },
      guarantee: 'at-least-once',
    });
    const groupId = uniqueName('md');
    const logger = createLogger({ level: 'warn' });
    const start = (name: string): Instance => {
      const cfg = kafkaConfigFrom({ KAFKA_SESSION_TIMEOUT_MS: '6000' }, { pipeline: spec.name, brokers, groupId, fromBeginning: true });
      const log = logger.child({ instance: name });
      const models = new ModelDistribution({ spec, cfg, logger: log });
      let trained = 0;
      const { runtime, retrainer } = createModelLifecycle(spec, { retrain: 'off', trainer: instantTrainer(() => trained++), onPromoted: (w, info) => models.publish(w, info), logger: log });
      models.attach({ adopt: (w) => runtime.adopt(w), setRetrain: (mode) => retrainer.setRetrain(mode) });
      const forecasts: Forecast[] = [];
      const pipeline = new KafkaPipeline({ spec, cfg, logger: log, events: () => undefined, forecaster: runtime, models, onForecasts: (fc) => void forecasts.push(...fc) });
      const abort = new AbortController();
      const done = pipeline.run(abort.signal);
      const inst = { name, runtime, retrainer, pipeline, trainRequests: () => trained, forecasts, abort, done };
      instances.push(inst);
      return inst;
    };
    const a = start('a');
    const b = start('b');
    await waitFor(() => a.pipeline.source.assignment().length === 1 && b.pipeline.source.assignment().length === 1, 30_000, 'one input partition each');
    const [trainer, other] = a.pipeline.source.assignment().includes(TRAINER_PARTITION) ? [a, b] : [b, a];
    expect(trainer.retrainer.retrainMode).toBe('background');
    expect(other.retrainer.retrainMode).toBe('off');

    const producer = kafka.producer();
    await producer.connect();
    const send = (from: number, to: number) =>
      producer.send({ topic: t.input, messages: points(SERIES, from, to).map((p) => ({ key: p.series, value: JSON.stringify(p) })) });
    await send(0, 45);
    const version = await waitFor(() => {
      const v = other.runtime.weights?.version;
      return v !== undefined && v === trainer.runtime.weights?.version ? v : undefined;
    }, 30_000, 'the other instance to adopt the trainer\'s model');
    expect(version).toBeGreaterThanOrEqual(1);
    expect(trainer.trainRequests()).toBeGreaterThanOrEqual(1);
    expect(other.trainRequests()).toBe(0);

    // Both serve it: their next forecasts come from the GRU, same version.
    const seen = { a: a.forecasts.length, b: b.forecasts.length };
    await send(45, 50);
    await producer.disconnect();
    const gruForecasts = (i: Instance) => i.forecasts.slice(i === a ? seen.a : seen.b).filter((f) => f.model.kind === 'gru');
    await waitFor(() => gruForecasts(a).length > 0 && gruForecasts(b).length > 0, 30_000, 'GRU forecasts from both instances');
    const versions = new Set([...gruForecasts(a), ...gruForecasts(b)].map((f) => f.model.version));
    expect(versions.size).toBe(1);
    expect([...versions][0]).toBeGreaterThanOrEqual(version);
    expect(other.trainRequests()).toBe(0);

    // The model topic holds the published frames (compacted, keyed by pipeline).
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(modelTopic(spec));
    const cfgs = await admin.describeConfigs({ resources: [{ type: 2, name: modelTopic(spec), configNames: ['cleanup.policy'] }], includeSynonyms: false });
    await admin.disconnect();
    expect(Number(offsets[0]!.high)).toBeGreaterThanOrEqual(1);
    expect(cfgs.resources[0]!.configEntries[0]!.configValue).toBe('compact');
  }, 60_000);
});
