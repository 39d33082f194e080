import { spawn, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Message } from 'kafkajs';

const root = resolve(import.meta.dirname, '..');

/** `count` messages (the i-th is `messageAt(i)`) to `topic`, `perTick` of them every `tickMs`. */
export interface PacedLoad {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly count: number;
  readonly messageAt: (i: number) => Message;
  readonly perTick: number;
  readonly tickMs: number;
}

/**
 * The paced load generator of the latency benchmark: a real producer runs outside the
 * forecaster, and on this 2-core machine a kafkajs producer at 15k points/s takes a third of a
 * core (on the pipeline's event loop it would also delay the pipeline it measures). kcat
 * (librdkafka, the C client) does the same for a few per cent; without kcat (or with
 * BENCH_LOAD=kafkajs), kafkajs on a thread of its own. Resolves with the points/s achieved.
 */
export function pacedProduce(load: PacedLoad, onStart: () => void): Promise<number> {
  return process.env['BENCH_LOAD'] !== 'kafkajs' && hasKcat() ? kcatPaced(load, onStart) : workerPaced(load, onStart);
}

function hasKcat(): boolean {
  return spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
}

async function kcatPaced({ brokers, topic, count, messageAt, perTick, tickMs }: PacedLoad, onStart: () => void): Promise<number> {
  // Java's partitioner (murmur2), as kafkajs and streamcast use; key and value split at the tab.
  const kcat = spawn('kcat', ['-P', '-b', brokers.join(','), '-t', topic, '-K', '\t', '-X', 'partitioner=murmur2_random', '-X', 'acks=1', '-X', 'linger.ms=1'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((resolveExit) => kcat.on('close', (code) => resolveExit(code)));
  onStart();
  const t0 = performance.now();
  for (let i = 0; i < count; i += perTick) {
    let lines = '';
    for (let k = i; k < Math.min(count, i + perTick); k++) {
      const m = messageAt(k);
      lines += `${String(m.key)}\t${String(m.value)}\n`;
    }
    if (!kcat.stdin.write(lines)) await new Promise((r) => kcat.stdin.once('drain', r));
    const wait = t0 + ((i + perTick) / perTick) * tickMs - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const achieved = count / ((performance.now() - t0) / 1000);
  kcat.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`kcat (load generator) exited with code ${code}`);
  return achieved;
}

function workerPaced({ brokers, topic, count, messageAt, perTick, tickMs }: PacedLoad, onStart: () => void): Promise<number> {
  // Cloned into the worker's heap; this process holds it only while the worker starts.
  const messages = Array.from({ length: count }, (_, i) => messageAt(i));
  const code = `
    const { parentPort, workerData: w } = require('node:worker_threads');
    const { setTimeout: sleep } = require('node:timers/promises');
    const { Kafka, logLevel } = require('node:module').createRequire(w.base)('kafkajs');
    (async () => {
      const producer = new Kafka({ clientId: 'bench-load', brokers: w.brokers, logLevel: logLevel.NOTHING }).producer({ allowAutoTopicCreation: false });
      await producer.connect();
      parentPort.postMessage({ started: true });
      const t0 = performance.now();
      for (let i = 0; i < w.messages.length; i += w.perTick) {
        await producer.send({ topic: w.topic, acks: 1, messages: w.messages.slice(i, i + w.perTick) });
        const wait = t0 + ((i + w.perTick) / w.perTick) * w.tickMs - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const achieved = w.messages.length / ((performance.now() - t0) / 1000);
      await producer.disconnect();
      parentPort.postMessage({ achieved });
    })();`;
  const worker = new Worker(code, { eval: true, workerData: { brokers, topic, messages, perTick, tickMs, base: join(root, 'package.json') } });
  return new Promise((resolveRun, reject) => {
    worker.on('message', (m: { started?: true; achieved?: number }) => {
      if (m.started === true) onStart();
      if (m.achieved !== undefined) resolveRun(m.achieved);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`load generator exited with code ${code}`)));
  });
}
