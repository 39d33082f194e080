/**
 * Kafka end to end on a local broker (KAFKA_BROKERS, else one started with deploy/kafka/kafka.sh
 * on 127.0.0.1:19192 with its own KAFKA_CACHE_DIR, stopped afterwards):
 *
 * 1. throughput: the same input (SERIES × STEPS points, 4 partitions, keyed by series), BENCH_KAFKA_REPEAT
 *    times each (interleaved; medians compared), through
 *    (a) a raw kafkajs consume→produce passthrough (eachBatch → sendBatch acks=all → commit),
 *    (b) `streamcast run`'s pipeline (KafkaPipeline, as the CLI builds it) at-least-once and
 *    (c) exactly-once. Each timed from its first record consumed to its input offsets committed
 *    at the end (streamcast commits offsets only after the forecasts and state they cover), as
 *    points/s and as a ratio to (a).
 * 2. event-to-forecast latency at half streamcast's at-least-once maximum rate (paced input from kcat,
 *    20 s after a 3 s warm-up whose p99 is reported separately): the
 *    pipeline's `latency` events, i.e. from the arrival of the record that closed a step (the
 *    series' latest record when the step was forecast) to its forecast being durable (at-least-
 *    once: acknowledged by the broker; exactly-once: its transaction committed).
 * 3. restore: 100k series' state records in the changelog (4 partitions), restored by the
 *    checkpoint coordinator exactly as on assignment (fence, read to the end, decode, restore).
 *
 *   npm run bench -- kafka          (BENCH_KAFKA_SERIES / BENCH_KAFKA_STEPS / BENCH_RESTORE_SERIES to resize;
 *                                    BENCH_KAFKA_ONLY=at-least-once,… picks phases; BENCH_KAFKA_RATE sets the
 *                                    latency rate when the at-least-once run is skipped)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { kafkaConfigFrom } from '../src/config/kafkaConfig.js';
import { ExactlyOnceCommitter } from '../src/connectors/kafka/exactlyOnceCommitter.js';
import { KafkaCheckpointReader } from '../src/connectors/kafka/kafkaCheckpointReader.js';
import { stateMessage } from '../src/connectors/kafka/kafkaSink.js';
import { inProcessProducers } from '../src/connectors/kafka/outputProducer.js';
import { changelogTopic } from '../src/connectors/kafka/topics.js';
import { createForecaster } from '../src/forecasting/createForecaster.js';
import { createBaseline } from '../src/forecasting/baseline/createBaseline.js';
import type { PipelineEvent } from '../src/observability/events.js';
import { createLogger } from '../src/observability/logger.js';
import { createPipelineCores } from '../src/pipeline/build.js';
import { parseSpec } from '../src/spec/loadSpec.js';
import type { PipelineSpec } from '../src/spec/pipelineSpec.js';
import { CheckpointCoordinator } from '../src/runtime/checkpoint/checkpointCoordinator.js';
import { KafkaPipeline } from '../src/runtime/kafkaPipeline.js';
import { SeriesStateStore } from '../src/state/seriesStateStore.js';
import { pacedProduce } from './pacedLoad.js';

const root = resolve(import.meta.dirname, '..');
const SERIES = Number(process.env['BENCH_KAFKA_SERIES'] ?? 1000);
/**
 * Steps per series of the throughput input (1,000 series: 1M points by default). A million points
 * take streamcast about 12 s here, so start-up (group join, restore, JIT) and the last checkpoint
 * interval weigh a few per cent; with 200 steps (3 s) they were a quarter of the time.
 */
const STEPS = Number(process.env['BENCH_KAFKA_STEPS'] ?? 1000);
const RESTORE_SERIES = Number(process.env['BENCH_RESTORE_SERIES'] ?? 100_000);
/** Times each throughput run is repeated (BENCH_KAFKA_REPEAT); medians are compared. */
const REPEAT = Number(process.env['BENCH_KAFKA_REPEAT'] ?? 3);
const PARTITIONS = 4;
/**
 * Seconds of steady state the latency percentiles are taken over (BENCH_LATENCY_S): at 15k
 * points/s its p99 is the slowest 3,000 forecasts, so a single slow moment cannot decide it.
 */
const LATENCY_S = Number(process.env['BENCH_LATENCY_S'] ?? 20);
/** Seconds of paced input before latencies count (BENCH_LATENCY_WARMUP_S). */
const LATENCY_WARMUP_S = Number(process.env['BENCH_LATENCY_WARMUP_S'] ?? 3);
/** Messages per produce request in the passthrough (≈ 200 KB of points). */
const PASSTHROUGH_CHUNK = 2000;
const STEP = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const logger = createLogger({ level: 'warn' });

/** Progress on stderr: the whole benchmark takes minutes. */
function note(what: string): void {
  process.stderr.write(`kafka bench: ${what}\n`);
}

function id(): string {
  return Math.random().toString(16).slice(2, 10);
}

async function withBroker<T>(fn: (brokers: string[]) => Promise<T>): Promise<T> {
  const given = process.env['KAFKA_BROKERS'];
  if (given !== undefined && given !== '') return fn(given.split(','));
  const script = join(root, 'deploy', 'kafka', 'kafka.sh');
  const cache = mkdtempSync(join(tmpdir(), 'streamcast-bench-kafka-'));
  const libs = join(root, '.cache', 'kafka', 'libs');
  if (existsSync(libs)) symlinkSync(libs, join(cache, 'libs'));
  const env = { ...process.env, KAFKA_PORT: process.env['BENCH_KAFKA_PORT'] ?? '19192', KAFKA_CACHE_DIR: cache };
  const started = spawnSync('bash', [script, 'start'], { env, encoding: 'utf8', timeout: 300_000 });
  if (started.status !== 0) throw new Error(`kafka.sh start failed: ${started.stderr}`);
  try {
    return await fn([`127.0.0.1:${env.KAFKA_PORT}`]);
  } finally {
    spawnSync('bash', [script, 'stop'], { env, stdio: 'ignore', timeout: 60_000 });
  }
}

function specFor(name: string, input: string, guarantee: 'at-least-once' | 'exactly-once'): PipelineSpec {
  return parseSpec({
    name,
    input: { topic: input, codec: 'json' },
    output: { topic: `${name}.out` },
    deadLetter: { topic: `${name}.dlq` },
    // Idle close far away: steps close by event time only, as in a steady stream.
    window: { step: '1m', aggregate: 'mean', lateness: '2m', idleClose: '1h' },
    impute: { strategy: 'ffill', maxGap: '30m' },
    normalize: { method: 'zscore', halfLife: '1d' },
    model: { type: 'gru', hidden: 8, context: 16, horizon: 3, quantiles: [0.1, 0.5, 0.9] },
    baseline: { type: 'seasonal-naive', season: '1h' },
    guarantee,
  });
}

/** A pipeline as `streamcast run` builds it, on the bench spec, with default Kafka settings. */
function benchPipeline(brokers: string[], name: string, input: string, guarantee: 'at-least-once' | 'exactly-once', events: (e: PipelineEvent) => void) {
  const spec = specFor(name, input, guarantee);
  // Default Kafka settings, but for the checkpoint interval when KAFKA_CHECKPOINT_INTERVAL_MS is set.
  const cfg = kafkaConfigFrom({ KAFKA_CHECKPOINT_INTERVAL_MS: process.env['KAFKA_CHECKPOINT_INTERVAL_MS'] }, { pipeline: name, brokers });
  // Every topic the pipeline makes, for deleting after the run.
  const topics = [spec.output.topic, spec.deadLetter.topic, changelogTopic(spec)];
  return { cfg, topics, pipeline: new KafkaPipeline({ spec, cfg, logger, forecaster: createForecaster(spec), events }) };
}

/** The k-th input point: step k / SERIES of every series in turn. */
function pointMessageAt(k: number): Message {
  const i = Math.floor(k / SERIES);
  const s = k % SERIES;
  const series = `bench-${s}`;
  return { key: series, value: JSON.stringify({ series, ts: T0 + i * STEP + 1000, value: Math.round(100 * Math.sin(i / 7 + s)) / 10 }) };
}

function pointMessages(stepFrom: number, stepTo: number): Message[] {
  const out: Message[] = [];
  for (let k = stepFrom * SERIES; k < stepTo * SERIES; k++) out.push(pointMessageAt(k));
  return out;
}

async function produceAll(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  // Requests well below the broker's 1 MiB record-batch limit (state records are ~1 KB).
  for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
  await producer.disconnect();
}

async function createTopics(kafka: Kafka, topics: Array<{ topic: string; partitions: number; compacted?: boolean }>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: topics.map((t) => ({
      topic: t.topic,
      numPartitions: t.partitions,
      replicationFactor: 1,
      configEntries: t.compacted === true ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
    })),
    waitForLeaders: true,
  });
  await admin.disconnect();
}

/** Deletes topics a run made: a million forecasts are half a gigabyte, and a fuller broker is a slower one. */
async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const gone = topics.filter((t) => existing.has(t));
    if (gone.length > 0) await admin.deleteTopics({ topics: gone });
  } finally {
    await admin.disconnect();
  }
}

/** Resolves once the group's committed offsets reach the topic's end on every partition. */
async function committedToEnd(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
    for (;;) {
      const [c] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const done = [...ends].every(([p, high]) => high === '0' || c?.partitions.find((x) => x.partition === p)?.offset === high);
      if (done) return performance.now();
      await sleep(20);
    }
  } finally {
    await admin.disconnect();
  }
}

async function passthrough(kafka: Kafka, input: string): Promise<{ ms: number }> {
  const out = `pass.out.${id()}`;
  const groupId = `pass-${id()}`;
  await createTopics(kafka, [{ topic: out, partitions: PARTITIONS }]);
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 1024 * 1024 });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [input], fromBeginning: true });
  let first = 0;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
      if (first === 0) first = performance.now();
      // A whole fetch (up to 1 MB per partition) in one request can exceed the broker's
      // message.max.bytes, as any real passthrough has to handle: chunk it.
      for (let i = 0; i < batch.messages.length; i += PASSTHROUGH_CHUNK) {
        const messages = batch.messages.slice(i, i + PASSTHROUGH_CHUNK).map((m) => ({ key: m.key, value: m.value }));
        await producer.sendBatch({ acks: -1, topicMessages: [{ topic: out, messages }] });
      }
      resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary();
      await consumer.commitOffsets([{ topic: input, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }]);
    },
  });
  // A consumer that crashes (not retriable) would leave committedToEnd waiting forever.
  const crashed = new Promise<never>((_, reject) => consumer.on(consumer.events.CRASH, (e) => reject(new Error(`passthrough consumer crashed: ${String(e.payload.error)}`))));
  const end = await Promise.race([committedToEnd(kafka, groupId, input), crashed]);
  await consumer.disconnect();
  await producer.disconnect();
  await deleteTopics(kafka, [out]);
  return { ms: end - first };
}

async function streamcast(
  brokers: string[],
  input: string,
  guarantee: 'at-least-once' | 'exactly-once',
  events: (e: PipelineEvent) => void = () => {},
): Promise<{ ms: number; forecasts: number; stop: () => Promise<void> }> {
  let first = 0;
  let forecasts = 0;
  const { pipeline, cfg, topics } = benchPipeline(brokers, `bench-${guarantee === 'exactly-once' ? 'eos' : 'alo'}-${id()}`, input, guarantee, (e) => {
    if (e.type === 'records_in' && first === 0) first = performance.now();
    if (e.type === 'forecasts_out') forecasts += e.count;
    events(e);
  });
  const abort = new AbortController();
  const running = pipeline.run(abort.signal);
  const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });
  // A pipeline that fails would leave committedToEnd waiting forever: report it instead.
  const failed = running.then((r) => Promise.reject(new Error(`streamcast ${guarantee} stopped before the end of the input (${JSON.stringify(r)})`)));
  const end = await Promise.race([committedToEnd(kafka, cfg.groupId, input), failed]);
  failed.catch(() => undefined);
  return {
    ms: end - first,
    forecasts,
    stop: async () => {
      await pipeline.stop();
      await running;
      await pipeline.close();
      await deleteTopics(kafka, topics);
    },
  };
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

/** The median (the mean of the middle two for an even count); NaN for none. */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  if (s.length === 0) return Number.NaN;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Paced input for `warmup + seconds`; percentiles are over the forecasts completed after the
 * warm-up (steady state: JIT, connections and first checkpoints settled), the warm-up's own p99
 * is reported beside them.
 */
async function latencyAtRate(brokers: string[], kafka: Kafka, rate: number, guarantee: 'at-least-once' | 'exactly-once', seconds: number, warmup = LATENCY_WARMUP_S): Promise<Record<string, unknown>> {
  const input = `lat.in.${id()}`;
  await createTopics(kafka, [{ topic: input, partitions: PARTITIONS }]);
  const lat: number[] = [];
  const warm: number[] = [];
  let steadyFrom = Number.POSITIVE_INFINITY;
  const { pipeline, topics } = benchPipeline(brokers, `lat-${id()}`, input, guarantee, (e) => {
    if (e.type === 'latency') (performance.now() < steadyFrom ? warm : lat).push(e.seconds * 1000);
  });
  const abort = new AbortController();
  const running = pipeline.run(abort.signal);
  while (!pipeline.readiness().ready) await sleep(50);
  // One step of every series per tick; ticks paced so that points/s ≈ rate.
  const tickMs = 50;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const steps = Math.ceil((rate * (warmup + seconds)) / SERIES);
  // Made tick by tick: the whole input held in this heap would slow this process' garbage collection.
  const achieved = await pacedProduce({ brokers, topic: input, count: steps * SERIES, messageAt: pointMessageAt, perTick, tickMs }, () => {
    steadyFrom = performance.now() + warmup * 1000;
  });
  await sleep(1500);
  await pipeline.stop();
  await running;
  await pipeline.close();
  await deleteTopics(kafka, [input, ...topics]);
  return {
    guarantee,
    'target points/s': Math.round(rate),
    'produced points/s': Math.round(achieved),
    forecasts: lat.length,
    'p50 ms': +pct(lat, 0.5).toFixed(1),
    'p99 ms': +pct(lat, 0.99).toFixed(1),
    'max ms': +pct(lat, 1).toFixed(1),
    [`first ${warmup} s p99 ms`]: +pct(warm, 0.99).toFixed(1),
  };
}

async function restoreBench(brokers: string[], kafka: Kafka): Promise<Record<string, unknown>> {
  const name = `restore-${id()}`;
  const spec = specFor(name, `restore.in.${id()}`, 'exactly-once');
  const changelog = `${name}.state`;
  await createTopics(kafka, [{ topic: spec.input.topic, partitions: PARTITIONS }, { topic: changelog, partitions: PARTITIONS, compacted: true }]);
  // Realistic records: a series run through the real cores and baseline for 100 steps, encoded
  // once per series key.
  const forecaster = createBaseline({ type: 'seasonal-naive', seasonMs: 3_600_000 }, { name, stepMs: STEP, horizon: 3, quantiles: [0.1, 0.5, 0.9] });
  const src = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster } });
  src.own([0, 1, 2, 3]);
  const { resampler, imputer, normalizer } = src.cores;
  for (let i = 0; i < 100; i++) {
    src.touch('template', 0);
    const { steps } = resampler.push({ series: 'template', ts: T0 + i * STEP + 1000, value: Math.sin(i / 5) }, i);
    const n = steps.flatMap((c) => imputer.push(c)).map((x) => normalizer.push(x));
    forecaster.step(n);
    src.stepped(n);
  }
  const value = src.finish(src.captureUpstream())[0]!.value!;
  const messages: Message[] = [];
  for (let s = 0; s < RESTORE_SERIES; s++) messages.push(stateMessage({ series: `restore-${s}`, partition: s % PARTITIONS, value }));
  const bytes = value.byteLength * RESTORE_SERIES;
  await produceAll(kafka, changelog, messages);

  const store = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster: createBaseline({ type: 'seasonal-naive', seasonMs: 3_600_000 }, { name, stepMs: STEP, horizon: 3, quantiles: [0.1, 0.5, 0.9] }) } });
  const abort = new AbortController();
  const restoreKafka = new Kafka({ clientId: 'bench-restore', brokers, logLevel: logLevel.NOTHING });
  const groupId = `streamcast-${name}`;
  const topics = { input: spec.input.topic, output: spec.output.topic, deadLetter: spec.deadLetter.topic, changelog };
  const reader = new KafkaCheckpointReader({ kafka: restoreKafka, logger, groupId, topics, signal: abort.signal });
  const committer = new ExactlyOnceCommitter({ producers: inProcessProducers(restoreKafka), reader, logger, groupId, topics, signal: abort.signal, instanceId: 'bench' });
  const coordinator = new CheckpointCoordinator({ store, committer, reader, events: () => {}, logger, intervalMs: 1000 });
  const t0 = performance.now();
  await Promise.all([0, 1, 2, 3].map((p) => coordinator.partitionReady(p)));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all([committer.close(), reader.close()]);
  await deleteTopics(kafka, [spec.input.topic, changelog]);
  return { series: RESTORE_SERIES, restored: store.size, 'bytes/series': Math.round(bytes / RESTORE_SERIES), 'restore s': +seconds.toFixed(2), 'series/s': Math.round(RESTORE_SERIES / seconds) };
}

export async function benchKafka(): Promise<Record<string, unknown>[]> {
  // BENCH_KAFKA_ONLY=passthrough,at-least-once,exactly-once,latency,restore picks phases (profiling).
  const only = new Set((process.env['BENCH_KAFKA_ONLY'] ?? '').split(',').filter((x) => x !== ''));
  const want = (phase: string): boolean => only.size === 0 || only.has(phase);
  return withBroker(async (brokers) => {
    const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });
    const input = `bench.in.${id()}`;
    await createTopics(kafka, [{ topic: input, partitions: PARTITIONS }]);
    const n = SERIES * STEPS;
    note(`writing ${n} input points`);
    // In slices: a million messages at once would be a few hundred MB of this process' heap.
    for (let s = 0; s < STEPS; s += 50) await produceAll(kafka, input, pointMessages(s, Math.min(STEPS, s + 50)));

    // Each run REPEAT times, interleaved (passthrough, at-least-once, exactly-once, passthrough, …),
    // and compared by medians: one slow moment of a shared 2-core machine can cost a single run a
    // fifth of its rate (docs/benchmarks.md, session 5).
    const runs = new Map<string, number[]>();
    const forecastsOf = new Map<string, number>();
    const record = (run: string, rate: number): void => {
      const rates = runs.get(run);
      if (rates === undefined) runs.set(run, [rate]);
      else rates.push(rate);
    };
    for (let r = 1; r <= REPEAT; r++) {
      if (want('passthrough')) {
        note(`${n} points in ${input}; raw kafkajs passthrough (${r}/${REPEAT})`);
        const raw = await passthrough(kafka, input);
        record('raw kafkajs passthrough', n / (raw.ms / 1000));
      }
      for (const g of ['at-least-once', 'exactly-once'] as const) {
        if (!want(g)) continue;
        note(`streamcast run, ${g} (${r}/${REPEAT})`);
        const res = await streamcast(brokers, input, g);
        await res.stop();
        record(`streamcast run (${g})`, n / (res.ms / 1000));
        forecastsOf.set(`streamcast run (${g})`, res.forecasts);
      }
    }
    const rawRate = median(runs.get('raw kafkajs passthrough') ?? []);
    const rows: Record<string, unknown>[] = [...runs].map(([run, rates]) => ({
      run,
      points: n,
      'median points/s': Math.round(median(rates)),
      'runs points/s': rates.map((x) => Math.round(x)).join(' '),
      'median ratio': Number.isNaN(rawRate) ? '' : +(median(rates) / rawRate).toFixed(2),
      'ratio range': Number.isNaN(rawRate) ? '' : `${(Math.min(...rates) / rawRate).toFixed(2)}–${(Math.max(...rates) / rawRate).toFixed(2)}`,
      forecasts: forecastsOf.get(run) ?? '',
    }));
    const aloRate = runs.has('streamcast run (at-least-once)') ? median(runs.get('streamcast run (at-least-once)')!) : Number(process.env['BENCH_KAFKA_RATE'] ?? 0);
    if (rows.length > 0) console.table(rows);
    await deleteTopics(kafka, [input]);

    if (want('latency') && aloRate > 0) {
      const lat: Record<string, unknown>[] = [];
      for (const g of ['at-least-once', 'exactly-once'] as const) {
        note(`latency at ${Math.round(aloRate / 2)} points/s, ${g}`);
        lat.push(await latencyAtRate(brokers, kafka, aloRate / 2, g, LATENCY_S));
      }
      console.table(lat);
    }

    if (!want('restore')) return [];
    note(`restore of ${RESTORE_SERIES} series`);
    return [await restoreBench(brokers, kafka)];
  });
}
