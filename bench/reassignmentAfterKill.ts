/**
 * Time to reassignment after kill -9 of a `streamcast run` instance: instance A owns both
 * partitions of a fresh topic, is killed with SIGKILL (no LeaveGroup), and instance B is started
 * at once in the same group; the figure is the time from the kill to B's log line saying it was
 * assigned both partitions. The dead member holds them until its session times out (kafkajs 2.2.4
 * has no static membership), so this measures KAFKA_SESSION_TIMEOUT_MS in practice.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/reassignmentAfterKill.ts [runs=3]
 *   KAFKA_SESSION_TIMEOUT_MS=30000 KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/reassignmentAfterKill.ts
 *
 * Not part of `npm run bench`: it measures a setting, not the code's speed. Uses only its own
 * topic and group; kills only the instances it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';

const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const runs = Number(process.argv[2] ?? 3);
const id = Math.random().toString(16).slice(2, 10);
const name = `reassign-${id}`;
const topic = `reassign.in.${id}`;

const dir = mkdtempSync(join(tmpdir(), 'streamcast-reassign-'));
const spec = join(dir, `${name}.yaml`);
writeFileSync(
  spec,
  [
    `name: ${name}`,
    `input: { topic: ${topic}, codec: json }`,
    `output: { topic: reassign.out.${id} }`,
    `deadLetter: { topic: reassign.dlq.${id} }`,
    'window: { step: 1m, aggregate: mean, lateness: 2m, idleClose: 2s }',
    'model: { type: gru, hidden: 8, context: 16, horizon: 3, quantiles: [0.1, 0.5, 0.9] }',
    'baseline: { type: last-value }',
    'guarantee: at-least-once',
    '',
  ].join('\n'),
);

const kafka = new Kafka({ clientId: name, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });

interface Instance {
  readonly child: ChildProcess;
  /** Resolves with the time (Date.now) at which it logged both partitions assigned. */
  readonly ownsBoth: Promise<number>;
}

function start(): Instance {
  const child = spawn(process.execPath, ['bin/streamcast.js', 'run', spec, '--port', '0', '--no-http'], {
    env: { ...process.env, KAFKA_BROKERS: brokers },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let buf = '';
  const ownsBoth = new Promise<number>((resolve) => {
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      if (buf.includes('"partitions":[0,1]')) resolve(Date.now());
      if (buf.length > 1 << 20) buf = buf.slice(-4096);
    });
  });
  return { child, ownsBoth };
}

const rows: Array<{ run: number; killToReassignedS: string }> = [];
let current = start();
await current.ownsBoth;
for (let r = 1; r <= runs; r++) {
  await sleep(2000); // heartbeats flowing, group stable
  const killedAt = Date.now();
  current.child.kill('SIGKILL');
  const next = start();
  const at = await Promise.race([next.ownsBoth, sleep(120_000).then(() => Number.NaN)]);
  rows.push({ run: r, killToReassignedS: ((at - killedAt) / 1000).toFixed(1) });
  current = next;
}
current.child.kill('SIGTERM');
await new Promise((resolve) => current.child.on('close', resolve));
await admin.deleteTopics({ topics: [topic, `reassign.out.${id}`, `reassign.dlq.${id}`, `${name}.state`] }).catch(() => undefined);
await admin.disconnect();
process.stdout.write(`session timeout: ${process.env['KAFKA_SESSION_TIMEOUT_MS'] ?? 'default'} ms\n`);
console.table(rows);
