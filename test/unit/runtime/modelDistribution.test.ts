import { Writable } from 'node:stream';
import type { EachMessagePayload } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { kafkaConfigFrom } from '../../../src/config/kafkaConfig.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import type { GruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { decodeModelFrame, encodeModelFrame } from '../../../src/forecasting/gru/modelFrame.js';
import { createLogger } from '../../../src/observability/logger.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import { modelTopic } from '../../../src/connectors/kafka/topics.js';
import { ModelDistribution, TRAINER_PARTITION, type DistributedModel } from '../../../src/runtime/modelDistribution.js';
import type { ArtifactInfo } from '../../../src/training/artifactStore.js';

/**
 * ModelDistribution's own logic over fake kafkajs clients: who trains, what is published and how,
 * what is adopted or skipped, and a bounded close. Against a real broker (two instances, one
 * trainer) it is tested in test/integration/kafka/modelDistribution.test.ts.
 */

class FakeProducer {
  readonly sent: Array<{ topic: string; messages: Array<{ key: string; value: Buffer }> }> = [];
  connected = false;
  disconnected = false;
  /** The next send fails with this (once). */
  failNext: Error | undefined;
  /** Holds sends until released (a publish in flight). */
  gate: Promise<void> | undefined;
  constructor(readonly opts: Record<string, unknown>) {}
  async connect(): Promise<void> {
    this.connected = true;
  }
  async send(req: { topic: string; messages: Array<{ key: string; value: Buffer }> }): Promise<void> {
    await this.gate;
    const fail = this.failNext;
    this.failNext = undefined;
    if (fail !== undefined) throw fail;
    this.sent.push(req);
  }
  disconnect: () => Promise<void> = async () => {
    this.disconnected = true;
  };
}

class FakeConsumer {
  subscribed: { topic: string; fromBeginning: boolean } | undefined;
  runOpts: { autoCommit: boolean; eachMessage: (p: EachMessagePayload) => Promise<void> } | undefined;
  disconnected = false;
  constructor(readonly opts: { groupId: string } & Record<string, unknown>) {}
  async connect(): Promise<void> {}
  async subscribe(s: { topic: string; fromBeginning: boolean }): Promise<void> {
    this.subscribed = s;
  }
  async run(r: { autoCommit: boolean; eachMessage: (p: EachMessagePayload) => Promise<void> }): Promise<void> {
    this.runOpts = r;
  }
  disconnect: () => Promise<void> = async () => {
    this.disconnected = true;
  };
  /** Delivers one record of the model topic as kafkajs would. */
  async deliver(key: string | null, value: Buffer | null, offset = '0'): Promise<void> {
    await this.runOpts!.eachMessage({
      topic: this.subscribed!.topic,
      partition: 0,
      message: { key: key === null ? null : Buffer.from(key), value, offset, timestamp: '0', attributes: 0, headers: {} },
      heartbeat: async () => undefined,
      pause: () => () => undefined,
    } as EachMessagePayload);
  }
}

class FakeKafka {
  readonly producers: FakeProducer[] = [];
  readonly consumers: FakeConsumer[] = [];
  producer(opts: Record<string, unknown>): FakeProducer {
    const p = new FakeProducer(opts);
    this.producers.push(p);
    return p;
  }
  consumer(opts: { groupId: string }): FakeConsumer {
    const c = new FakeConsumer(opts);
    this.consumers.push(c);
    return c;
  }
}

const fakes = vi.hoisted(() => ({ made: [] as unknown[] }));
vi.mock('../../../src/connectors/kafka/kafkaClient.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../../src/connectors/kafka/kafkaClient.js')>()),
  createKafka: () => {
    const k = new FakeKafka();
    fakes.made.push(k);
    return k;
  },
}));

const spec = parseSpec({
  name: 'md-unit',
  input: { topic: 'in' },
  output: { topic: 'out' },
  window: { step: '1m' },
  impute: { strategy: 'ffill', maxGap: '30m' },
  model: { type: 'gru', hidden: 4, context: 8, horizon: 2, quantiles: [0.1, 0.5, 0.9] },
  baseline: { type: 'last-value' },
});
const cfg = kafkaConfigFrom({}, { pipeline: spec.name, brokers: ['127.0.0.1:1'], groupId: 'g-md' });
const weights = (version: number): GruModelWeights => initGruModelWeights({ layout: featureLayout([], 6), units: 4, horizon: 2, quantiles: [0.1, 0.5, 0.9] }, 11, version);
const info: ArtifactInfo = { specHash: 'abc', training: { steps: 10 } as ArtifactInfo['training'], validation: { loss: 0.5 } as ArtifactInfo['validation'], backend: 'wasm' };

interface Made {
  readonly md: ModelDistribution;
  readonly kafka: FakeKafka;
  readonly model: DistributedModel & { retrain: string[]; adopted: GruModelWeights[] };
  readonly logs: () => Array<{ level: number; msg: string }>;
}

function make(): Made {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', format: 'json', destination });
  const md = new ModelDistribution({ spec, cfg, logger });
  const kafka = fakes.made.at(-1) as FakeKafka;
  const retrain: string[] = [];
  const adopted: GruModelWeights[] = [];
  const model = {
    retrain,
    adopted,
    setRetrain: (mode: string) => void retrain.push(mode),
    adopt: (w: GruModelWeights) => (adopted.push(w), true),
  } as Made['model'];
  md.attach(model);
  const logs = () =>
    lines
      .join('')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { level: number; msg: string });
  return { md, kafka, model, logs };
}

const frame = (w: GruModelWeights, pipeline = spec.name): Buffer => Buffer.from(encodeModelFrame(w, { pipeline }));

afterEach(() => {
  vi.useRealTimers();
});

describe('ModelDistribution', () => {
  it('names the compacted model topic after the pipeline; the owner of input partition 0 trains', () => {
    expect(modelTopic(spec)).toBe('md-unit.models');
    expect(TRAINER_PARTITION).toBe(0);
  });

  it('asks for the model topic: one partition, compacted, room for a large frame', () => {
    const { md } = make();
    const t = md.topicSpec;
    expect(t).toMatchObject({ topic: 'md-unit.models', partitions: 1, compacted: true });
    expect(Number(t.configs?.['max.message.bytes'])).toBeGreaterThanOrEqual(1024 * 1024);
  });

  it('start connects an idempotent producer and a consumer that reads the topic from its start in a group of its own, committing nothing; again: no new clients', async () => {
    const a = make();
    const b = make();
    await a.md.start();
    await a.md.start();
    await b.md.start();
    expect(a.kafka.producers).toHaveLength(1);
    expect(a.kafka.consumers).toHaveLength(1);
    expect(a.kafka.producers[0]!.opts).toMatchObject({ idempotent: true });
    expect(a.kafka.producers[0]!.connected).toBe(true);
    const c = a.kafka.consumers[0]!;
    expect(c.subscribed).toEqual({ topic: 'md-unit.models', fromBeginning: true });
    expect(c.runOpts?.autoCommit).toBe(false);
    expect(c.opts.groupId.startsWith('g-md.models.')).toBe(true);
    // Each instance reads every model: never a group shared with another instance.
    expect(b.kafka.consumers[0]!.opts.groupId).not.toBe(c.opts.groupId);
  });

  it('retrains only while this instance owns input partition 0', () => {
    const { md, model } = make();
    md.onAssignment([1, 2], []);
    expect(model.retrain).toEqual([]);
    md.onAssignment([0, 1], []);
    expect(model.retrain).toEqual(['background']);
    md.onAssignment([], [1]);
    expect(model.retrain).toEqual(['background']);
    md.onAssignment([], [0]);
    expect(model.retrain).toEqual(['background', 'off']);
  });

  it('publishes a promotion as one frame keyed by the pipeline, which every instance (this one too) adopts when it reads it', async () => {
    const { md, kafka, model } = make();
    await md.start();
    const w = weights(3);
    md.publish(w, info);
    await md.close();
    const sent = kafka.producers[0]!.sent;
    expect(sent).toHaveLength(1);
    expect(sent[0]!.topic).toBe('md-unit.models');
    expect(sent[0]!.messages).toHaveLength(1);
    const { key, value } = sent[0]!.messages[0]!;
    expect(key).toBe('md-unit');
    const decoded = decodeModelFrame(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    expect(decoded.weights.version).toBe(3);
    expect(decoded.weights.cell.kernel).toEqual(w.cell.kernel);
    expect(decoded.meta).toMatchObject({ pipeline: 'md-unit', specHash: 'abc', backend: 'wasm' });

    await kafka.consumers[0]!.deliver('md-unit', value);
    expect(model.adopted.map((a) => a.version)).toEqual([3]);
    expect(model.adopted[0]!.head.bias).toEqual(w.head.bias);
  });

  it('skips tombstones and other pipelines\' records silently, and an unusable frame with a warning, keeping the model in service', async () => {
    const { md, kafka, model, logs } = make();
    await md.start();
    const c = kafka.consumers[0]!;
    await c.deliver('md-unit', null);
    await c.deliver('another-pipeline', frame(weights(9), 'another-pipeline'));
    await c.deliver(null, frame(weights(9)));
    expect(model.adopted).toEqual([]);
    expect(logs().filter((l) => l.level >= 40)).toEqual([]);
    await c.deliver('md-unit', Buffer.from('not a model frame at all'), '7');
    expect(model.adopted).toEqual([]);
    expect(logs().filter((l) => l.level === 40).map((l) => l.msg)).toEqual(['skipped an unusable model record; the model in service stays']);
  });

  it('a publish before start warns and sends nothing; a failed send is logged, not thrown, and the next one still goes', async () => {
    const { md, kafka, logs } = make();
    md.publish(weights(1), info);
    await md.start();
    const producer = kafka.producers[0]!;
    producer.failNext = new Error('broker says no');
    md.publish(weights(2), info);
    // Sends are chained: v3 waits for v2's failure, then goes.
    md.publish(weights(3), info);
    await md.close();
    expect(producer.sent.map((s) => decodeModelFrame(new Uint8Array(s.messages[0]!.value)).weights.version)).toEqual([3]);
    const msgs = logs().map((l) => [l.level, l.msg]);
    expect(msgs).toContainEqual([40, 'model v1 not published: not connected to Kafka']);
    expect(msgs).toContainEqual([50, 'cannot publish model v2']);
  });

  it('close lets a publish in flight finish, then disconnects both clients', async () => {
    const { md, kafka } = make();
    await md.start();
    const producer = kafka.producers[0]!;
    let release!: () => void;
    producer.gate = new Promise<void>((r) => (release = r));
    md.publish(weights(4), info);
    const closing = md.close();
    await Promise.resolve();
    expect(producer.disconnected).toBe(false);
    release();
    await closing;
    expect(producer.sent).toHaveLength(1);
    expect(producer.disconnected).toBe(true);
    expect(kafka.consumers[0]!.disconnected).toBe(true);
    // Closed: a later promotion is not sent.
    md.publish(weights(5), info);
    await md.close();
    expect(producer.sent).toHaveLength(1);
  });

  it('close is bounded: clients that never disconnect (a broker outage) hold shutdown up for at most 3 s', async () => {
    vi.useFakeTimers();
    const { md, kafka } = make();
    await md.start();
    kafka.producers[0]!.disconnect = () => new Promise<void>(() => undefined);
    let closed = false;
    void md.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(2_900);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(closed).toBe(true);
  });
});
