import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll } from 'vitest';
import { repoRoot } from '../../helpers/cli.js';
import { kafkaProblem, requireKafkaBrokers } from '../../helpers/services.js';
import { describeWhen } from '../../helpers/describeWhen.js';
import { commandProblem, hasCommand, requireCommand, runTool } from '../../helpers/tools.js';

/**
 * A suite that needs the test broker and kcat (the second, independent Kafka client of the
 * helpers below). Without either it skips with one line naming what installs it (fails under CI).
 * A test that calls the kcat helpers inside a plain describeWithKafka still skips on its own
 * where kcat is missing (see requireCommand), but only after whatever it did before the call.
 */
export function describeWithKafkaTools(name: string, fn: () => void): void {
  describeWhen(name, [kafkaProblem(), commandProblem('kcat')], fn);
}

/** Unique per test, as each test gets its own topics and group: they never collide between tests or runs, nor with leftovers of an earlier run on the same broker. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export function testKafka(brokers: string[]): Kafka {
  return new Kafka({ clientId: uniqueName('test'), brokers, logLevel: logLevel.NOTHING });
}

export interface SpecTopics {
  readonly name: string;
  readonly input: string;
  readonly output: string;
  readonly dlq: string;
}

export function specTopics(prefix: string): SpecTopics {
  const id = randomBytes(4).toString('hex');
  return { name: `${prefix}-${id}`, input: `${prefix}.in.${id}`, output: `${prefix}.out.${id}`, dlq: `${prefix}.dlq.${id}` };
}

/** A pipeline spec with a 1-minute grid and a 2-second idle close, so quiet series close fast. */
export function writeSpec(t: SpecTopics, opts: { guarantee?: 'at-least-once' | 'exactly-once' } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-kafka-'));
  const path = join(dir, `${t.name}.yaml`);
  writeFileSync(
    path,
    [
      `name: ${t.name}`,
      `input: { topic: ${t.input}, codec: json }`,
      `output: { topic: ${t.output} }`,
      `deadLetter: { topic: ${t.dlq} }`,
      'window: { step: 1m, aggregate: mean, lateness: 2m, idleClose: 2s }',
      'impute: { strategy: ffill, maxGap: 30m }',
      'normalize: { method: zscore, halfLife: 1d }',
      'model: { type: gru, hidden: 8, context: 16, horizon: 3, quantiles: [0.1, 0.5, 0.9] }',
      'baseline: { type: seasonal-naive, season: 1h }',
      `guarantee: ${opts.guarantee ?? 'at-least-once'}`,
      '',
    ].join('\n'),
  );
  return path;
}

export const T0 = Date.UTC(2024, 0, 1);
export const STEP = 60_000;

/** `n` steps of each series, one point per step, 1 s into the step. */
export function points(series: readonly string[], from: number, to: number): Array<{ series: string; ts: number; value: number }> {
  const out = [];
  for (let i = from; i < to; i++) {
    for (const s of series) out.push({ series: s, ts: T0 + i * STEP + 1000, value: Math.round(100 * Math.sin(i / 7) + s.length) / 10 });
  }
  return out;
}

/**
 * Produces `key|value` lines with Debian's kcat (a second, independent Kafka client); a `null`
 * key produces a record without a key (kcat: a line without the delimiter). `partition` pins
 * every record to one partition (default: kcat's partitioner).
 */
export function kcatProduce(brokers: string, topic: string, lines: ReadonlyArray<{ key: string | null; value: string }>, opts: { partition?: number } = {}): void {
  const input = lines.map((l) => (l.key === null ? l.value : `${l.key}|${l.value}`)).join('\n') + '\n';
  const pin = opts.partition === undefined ? [] : ['-p', String(opts.partition)];
  runTool('kcat', ['-b', brokers, '-P', '-t', topic, '-K', '|', '-z', 'none', ...pin], `kcat produce to ${topic}`, { input, timeout: 30_000 });
}

export interface KcatRecord {
  readonly key: string | null;
  readonly payload: string | null;
  readonly partition: number;
  readonly offset: number;
}

/**
 * Everything in `topic` now, read with kcat (-J: one JSON envelope per message); with
 * `readCommitted`, only records of committed transactions (isolation.level=read_committed).
 */
export function kcatConsume(brokers: string, topic: string, opts: { readCommitted?: boolean } = {}): KcatRecord[] {
  const iso = opts.readCommitted === true ? ['-X', 'isolation.level=read_committed'] : [];
  const r = runTool('kcat', ['-b', brokers, '-C', '-t', topic, '-J', '-e', '-q', '-o', 'beginning', ...iso], `kcat consume of ${topic}`, { timeout: 30_000, maxBuffer: 256 * 1024 * 1024 });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as KcatRecord);
}

export function hasKcat(): boolean {
  return hasCommand('kcat');
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** The HTTP port, once the server logged it. */
  port(): Promise<number>;
}

/** `streamcast produce` of a JSONL file of points, paced at `rate` records/s; resolves with its exit code and stderr. */
export function startProduce(brokers: string, topic: string, file: string, rate: number): Promise<{ code: number | null; stderr: string }> {
  const producer = spawn(process.execPath, ['bin/streamcast.js', 'produce', '--topic', topic, '--input', file, '--rate', String(rate), '-q'], {
    cwd: repoRoot,
    env: { ...process.env, KAFKA_BROKERS: brokers },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  producer.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => producer.on('close', (code) => resolve({ code, stderr })));
}

/** Writes points as a JSONL file in a fresh temporary directory. */
export function writePoints(input: ReadonlyArray<{ series: string; ts: number; value: number }>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'streamcast-points-')), 'points.jsonl');
  writeFileSync(file, input.map((p) => JSON.stringify(p)).join('\n') + '\n');
  return file;
}

/** Forecasts per `series@ts`, to count duplicates and compare runs. */
export function forecastsByStep(recs: readonly KcatRecord[], horizon: number): Map<string, ForecastMsg[]> {
  const out = new Map<string, ForecastMsg[]>();
  for (const r of recs) {
    const f = checkForecast(r, horizon);
    const k = `${f.series}@${f.ts}`;
    let list = out.get(k);
    if (list === undefined) out.set(k, (list = []));
    list.push(f);
  }
  return out;
}

/**
 * `streamcast run <spec>` as a child process (node bin/streamcast.js), logs collected. `extraArgs`
 * come last, so e.g. `['--port', '9500']` overrides the default any-free-port.
 */
export function startRun(specPath: string, brokers: string, extraEnv: NodeJS.ProcessEnv = {}, extraArgs: readonly string[] = []): RunningCli {
  const child = spawn(process.execPath, ['bin/streamcast.js', 'run', specPath, '--port', '0', '--shutdown-timeout', '20000', ...extraArgs], {
    cwd: repoRoot,
    env: { ...process.env, KAFKA_BROKERS: brokers, KAFKA_SESSION_TIMEOUT_MS: '6000', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    exited,
    stderr: () => err,
    port: async () => {
      const m = await waitFor(() => /HTTP endpoints on http:\/\/127\.0\.0\.1:(\d+)/.exec(err) ?? undefined, 30_000, 'the HTTP port in the logs');
      return Number(m[1]);
    },
  };
}

/** `streamcast run` children of a suite, SIGKILLed after it whatever happened. */
export function trackedRuns(): RunningCli[] {
  const runs: RunningCli[] = [];
  afterAll(() => {
    for (const r of runs) r.child.kill('SIGKILL');
  });
  return runs;
}

/** Inside a test: skips it (fails under CI) where kcat, the second, independent Kafka client, is missing. */
export function requireKcat(): void {
  requireCommand('kcat');
}

/** The `series@stepStart` key of every point, as forecastsByStep keys forecasts. */
export function stepKeys(input: ReadonlyArray<{ series: string; ts: number }>): Set<string> {
  return new Set(input.map((p) => `${p.series}@${Math.floor(p.ts / STEP) * STEP}`));
}

/**
 * Waits until `topic` holds a forecast (horizon 3) for every key of `want` and returns them by
 * step; on time-out the error names some missing keys and ends with `logs()` (the instances' stderr).
 */
export async function waitForEveryStep(
  brokers: string,
  topic: string,
  want: ReadonlySet<string>,
  opts: { what: string; timeoutMs?: number; readCommitted?: boolean; logs?: () => string },
): Promise<Map<string, ForecastMsg[]>> {
  const read = (): Map<string, ForecastMsg[]> => forecastsByStep(kcatConsume(brokers, topic, { readCommitted: opts.readCommitted === true }), 3);
  try {
    return await waitFor(
      () => {
        const have = read();
        return [...want].every((k) => have.has(k)) ? have : undefined;
      },
      opts.timeoutMs ?? 60_000,
      opts.what,
    );
  } catch (err) {
    const have = read();
    const missing = [...want].filter((k) => !have.has(k));
    throw new Error(`${String(err)}; missing ${missing.slice(0, 20).join(', ')}\n${opts.logs?.() ?? ''}`);
  }
}

/**
 * What most end-to-end tests start with: the test broker, fresh topics (`partitions` input
 * partitions), a spec file for them, and `series` × `steps` input points with their step keys.
 */
export async function kafkaCase(prefix: string, opts: { partitions: number; series: readonly string[]; steps: number; guarantee?: 'at-least-once' | 'exactly-once' }) {
  const brokerList = requireKafkaBrokers();
  const kafka = testKafka(brokerList);
  const t = specTopics(prefix);
  await createTopic(kafka, t.input, opts.partitions);
  const spec = writeSpec(t, opts.guarantee !== undefined ? { guarantee: opts.guarantee } : {});
  const input = points(opts.series, 0, opts.steps);
  return { brokers: brokerList.join(','), kafka, t, spec, input, want: stepKeys(input) };
}

/** Polls `probe` until it returns a value other than undefined/false. */
export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

export async function readyz(port: number): Promise<number> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/readyz`);
    return r.status;
  } catch (err) {
    void err; // not listening yet (or any more): not ready
    return 0;
  }
}

/** Committed offsets of `groupId` on `topic` and the topic's end offsets, per partition. */
export async function offsets(kafka: Kafka, groupId: string, topic: string): Promise<{ committed: Map<number, string>; end: Map<number, string> }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [c] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    return {
      committed: new Map((c?.partitions ?? []).map((p) => [p.partition, p.offset])),
      end: new Map(ends.map((p) => [p.partition, p.high])),
    };
  } finally {
    await admin.disconnect();
  }
}

export async function createTopic(kafka: Kafka, topic: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

export interface ForecastMsg {
  series: string;
  ts: number;
  step: number;
  forecast: Array<{ h: number; ts: number; mean: number; q: Record<string, number> }>;
  model: { name: string; version: number; kind: string };
  imputed: boolean;
}

/** Asserts the DESIGN.md forecast contract on one message; returns the parsed forecast. */
export function checkForecast(rec: KcatRecord, horizon: number): ForecastMsg {
  const f = JSON.parse(rec.payload ?? 'null') as ForecastMsg;
  const problems: string[] = [];
  if (rec.key !== f.series) problems.push(`key ${String(rec.key)} is not the series ${f.series}`);
  if (f.step !== STEP) problems.push(`step ${f.step}`);
  if (f.forecast.length !== horizon) problems.push(`${f.forecast.length} horizons`);
  f.forecast.forEach((h, i) => {
    if (h.h !== i + 1 || h.ts !== f.ts + (i + 1) * STEP) problems.push(`horizon ${i}: h=${h.h} ts=${h.ts}`);
    const qs = ['0.1', '0.5', '0.9'].map((k) => h.q[k]);
    if (qs.some((q) => typeof q !== 'number' || !Number.isFinite(q)) || !Number.isFinite(h.mean)) problems.push(`horizon ${h.h}: non-finite`);
    else if (!(qs[0]! <= qs[1]! && qs[1]! <= qs[2]!)) problems.push(`horizon ${h.h}: crossed quantiles ${qs.join(',')}`);
  });
  if (typeof f.model?.kind !== 'string' || typeof f.imputed !== 'boolean') problems.push('model/imputed missing');
  if (problems.length > 0) throw new Error(`forecast violates the contract: ${problems.join('; ')}: ${rec.payload ?? ''}`);
  return f;
}
