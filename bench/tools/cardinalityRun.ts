/**
 * Per-series memory and shutdown of a real `streamcast run` on a real broker, at high cardinality:
 * N series with one point each and N/10 of them with 5 more (the reliability issue's load), all
 * produced before the run starts; the run drains them (every series idle-closed and forecast),
 * then gets SIGTERM. Reported: RSS per series at the drain (with /proc/<pid>/smaps_rollup, and the
 * process' own heap figures before and after a forced GC from bench/tools/memoryProbe.cjs), the
 * shutdown's seconds and exit code, and the state changelog's bytes per series.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 CARDINALITY_SERIES=200000 npx tsx bench/tools/cardinalityRun.ts
 *
 * Options (env): CARDINALITY_GUARANTEE (at-least-once | exactly-once, default at-least-once),
 * CARDINALITY_PARTITIONS (default 4), CARDINALITY_KEEP=1 keeps the topics,
 * CARDINALITY_TERM_AT=<forecasts>: SIGTERM as soon as that many forecasts are out (e.g. in the
 * middle of the idle close of every series, the worst case for the shutdown's last checkpoint)
 * instead of after the drain.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

const N = Number(process.env['CARDINALITY_SERIES'] ?? 200_000);
const PARTITIONS = Number(process.env['CARDINALITY_PARTITIONS'] ?? 4);
const GUARANTEE = process.env['CARDINALITY_GUARANTEE'] ?? 'at-least-once';
const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const STEP = 60_000;
const id = randomBytes(4).toString('hex');
const name = `cardinality-${id}`;
const topic = `${name}.in`;
const port = 20_000 + Math.floor(Math.random() * 20_000);
const dir = mkdtempSync(join(tmpdir(), 'cardinality-'));
const specPath = join(dir, 'spec.yaml');
writeFileSync(
  specPath,
  [
    `name: ${name}`,
    `input: { topic: ${topic} }`,
    `output: { topic: ${name}.out }`,
    `deadLetter: { topic: ${name}.dlq }`,
    'window: { step: 1m, idleClose: 10s }',
    'impute: { strategy: ffill, maxGap: 1h }',
    'model: { type: gru, horizon: 12, quantiles: [0.1, 0.5, 0.9] }',
    'baseline: { type: seasonal-naive, season: 1d }',
    `guarantee: ${GUARANTEE}`,
    '',
  ].join('\n'),
);

const kafka = new Kafka({ clientId: `cardinality-${id}`, brokers, logLevel: logLevel.NOTHING });
const log = (s: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

async function produce(): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const base = Math.floor(Date.now() / STEP) * STEP - 60 * STEP;
  let sent = 0;
  let batch: { key: string; value: string }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await producer.send({ topic, acks: 1, messages: batch });
    sent += batch.length;
    batch = [];
  };
  const point = async (i: number, k: number) => {
    const series = `host-${i}.cpu`;
    batch.push({ key: series, value: JSON.stringify({ series, ts: base + k * STEP, value: (i + k) % 100 }) });
    if (batch.length >= 5000) await flush();
  };
  for (let i = 0; i < N; i++) await point(i, 0);
  for (let k = 1; k <= 5; k++) for (let i = 0; i < N; i += 10) await point(i, k);
  await flush();
  await producer.disconnect();
  return sent;
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Sums of /metrics samples by name; histogram buckets by `name{le}`. */
async function metrics(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line === '') continue;
      const m = /^([a-zA-Z_:]+)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const le = /le="([^"]+)"/.exec(m[2] ?? '');
      const key = le ? `${m[1]!}{${le[1]!}}` : m[1]!;
      out.set(key, (out.get(key) ?? 0) + Number(m[3]));
    }
  } catch {
    // not serving yet
  }
  return out;
}

/** Count, mean, and the bucket bound under which the slowest checkpoint fell. */
function checkpoints(m: Map<string, number>): string {
  const n = m.get('streamcast_checkpoint_duration_seconds_count') ?? 0;
  const sum = m.get('streamcast_checkpoint_duration_seconds_sum') ?? 0;
  let slowest = '+Inf';
  const bounds = [...m.keys()].filter((k) => k.startsWith('streamcast_checkpoint_duration_seconds_bucket{')).map((k) => k.slice(k.indexOf('{') + 1, -1));
  for (const le of bounds.filter((b) => b !== '+Inf').sort((a, b) => Number(a) - Number(b))) {
    if ((m.get(`streamcast_checkpoint_duration_seconds_bucket{${le}}`) ?? 0) >= n) {
      slowest = `≤ ${le} s`;
      break;
    }
  }
  return `${n} checkpoints, mean ${(sum / Math.max(1, n)).toFixed(2)} s, slowest ${slowest}`;
}

async function changelogBytes(): Promise<{ records: number; bytes: number; series: number }> {
  const consumer = kafka.consumer({ groupId: `cardinality-read-${id}` });
  await consumer.connect();
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(`${name}.state`);
  await admin.disconnect();
  const target = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  const total = [...target.values()].reduce((a, b) => a + b, 0);
  const latest = new Map<string, number>();
  let records = 0;
  await consumer.subscribe({ topic: `${name}.state`, fromBeginning: true });
  await new Promise<void>((resolve) => {
    // Exactly-once changelogs hold transaction markers, which count in the high watermarks but
    // are never delivered: done when nothing more has come for a while.
    let quiet = setTimeout(resolve, 10_000);
    void consumer.run({
      eachBatch: async ({ batch }) => {
        clearTimeout(quiet);
        quiet = setTimeout(resolve, 5000);
        for (const m of batch.messages) {
          records++;
          const k = m.key!.toString();
          if (m.value === null) latest.delete(k);
          else latest.set(k, m.value.byteLength);
        }
        if (records >= total) resolve();
      },
    });
    if (total === 0) resolve();
  });
  await consumer.disconnect();
  let bytes = 0;
  for (const b of latest.values()) bytes += b;
  return { records, bytes, series: latest.size };
}

const sent = await produce();
const expected = N - N / 10 + (N / 10) * 6; // one forecast per step: idle close closes the last step of every series
const termAt = Number(process.env['CARDINALITY_TERM_AT'] ?? expected);
log(`produced ${sent} records of ${N} series to ${topic} (${PARTITIONS} partitions); expecting ${expected} forecasts`);
const logPath = join(dir, 'run.log');
const probePath = join(dir, 'probe.json');
const child = spawn(process.execPath, ['--expose-gc', '--require', './bench/tools/memoryProbe.cjs', 'bin/streamcast.js', 'run', specPath, '--port', String(port), '--from-beginning', '--log-level', 'info'], {
  env: { ...process.env, KAFKA_BROKERS: brokers.join(','), MEMORY_PROBE_OUT: probePath },
  stdio: ['ignore', openSync(logPath, 'w'), openSync(logPath, 'a')],
});
const pid = child.pid!;
// The driver failing must not leave the run behind.
process.on('exit', () => {
  if (child.exitCode === null) child.kill('SIGKILL');
});
const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: performance.now() })));
const t0 = performance.now();
let rssStart = Number.NaN;
let rssMax = 0;
let forecasts = 0;
const samples: string[] = [];
for (;;) {
  await new Promise((r) => setTimeout(r, 1000));
  const m = await metrics();
  const rss = rssOf(pid);
  rssMax = Math.max(rssMax, rss);
  if (Number.isNaN(rssStart) && m.size > 0) rssStart = rss;
  forecasts = m.get('streamcast_forecasts_out_total') ?? 0;
  const s = (performance.now() - t0) / 1000;
  if (Math.round(s) % 10 === 0) samples.push(`${s.toFixed(0)} s: ${forecasts} forecasts, RSS ${(rss / 2 ** 20).toFixed(0)} MiB`);
  if (forecasts >= termAt) break;
  if (s > 1200) throw new Error(`not drained after 20 min: ${forecasts} forecasts`);
}
const drainSeconds = (performance.now() - t0) / 1000;
// Until the checkpoint covering the last forecasts landed (the offsets are then all committed).
if (termAt >= expected) await new Promise((r) => setTimeout(r, 3000));
const atDrain = await metrics();
const rss = rssOf(pid);
const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
if (termAt < expected) {
  // Straight to the shutdown: no probe, whose two full GCs would delay the SIGTERM.
  writeFileSync(probePath, JSON.stringify({ before: {}, after: {}, heap: {} }));
} else process.kill(pid, 'SIGUSR2');
// Two full GCs of a heap of gigabytes take seconds on a busy machine.
for (let i = 0; i < 120 && !existsSync(probePath); i++) await new Promise((r) => setTimeout(r, 500));
const rssAfterGc = rssOf(pid);
interface Usage {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}
const probe = JSON.parse(readFileSync(probePath, 'utf8')) as { before: Usage; after: Usage; heap: Record<string, number> };
log(`drained in ${drainSeconds.toFixed(1)} s; ${samples.join('; ')}`);
const s0 = performance.now();
process.kill(pid, 'SIGTERM');
const { code, at } = await exited;
const shutdownSeconds = (at - s0) / 1000;
const cl = await changelogBytes();
// Input records whose offsets the shutdown left uncommitted (re-read on restart): 0 after a clean one.
const admin = kafka.admin();
await admin.connect();
const ends = await admin.fetchTopicOffsets(topic);
const [committed] = await admin.fetchOffsets({ groupId: `streamcast-${name}`, topics: [topic] });
await admin.disconnect();
let uncommitted = 0;
for (const e of ends) {
  const c = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
  uncommitted += Number(e.high) - Math.max(0, Number(c));
}
const per = (b: number) => Math.round(b / N);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const rows = {
  series: N,
  guarantee: GUARANTEE,
  'forecasts at SIGTERM': forecasts,
  'drain seconds': Number(drainSeconds.toFixed(1)),
  'RSS at start': mib(rssStart),
  'RSS at drain': mib(rss),
  'RSS max': mib(rssMax),
  'RSS growth/series': per(rss - rssStart),
  'RSS/series': per(rss),
  'RSS after a forced GC': mib(rssAfterGc),
  'heap used/series (before GC)': per(probe.before.heapUsed),
  'heap used/series (after GC)': per(probe.after.heapUsed),
  'heap total/series (after GC)': per(probe.after.heapTotal),
  'array buffers/series (after GC)': per(probe.after.arrayBuffers),
  'external/series (after GC)': per(probe.after.external),
  'malloced/series (V8)': per(probe.heap['malloced_memory'] ?? Number.NaN),
  'shutdown seconds': Number(shutdownSeconds.toFixed(1)),
  'exit code': code,
  'input records left uncommitted': uncommitted,
  'checkpoints until the drain': checkpoints(atDrain),
  'changelog records': cl.records,
  'changelog series': cl.series,
  'checkpointed bytes/series': Math.round(cl.bytes / Math.max(1, cl.series)),
};
console.table(Object.entries(rows).map(([measure, value]) => ({ measure, value })));
process.stdout.write(`smaps_rollup at drain:\n${smaps}\nlog: ${logPath}\n`);
if (process.env['CARDINALITY_KEEP'] !== '1') {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic, `${name}.out`, `${name}.dlq`, `${name}.state`, `${name}.models`] }).catch(() => undefined);
  await admin.deleteGroups([`streamcast-${name}`, `cardinality-read-${id}`]).catch(() => undefined);
  await admin.disconnect();
}
