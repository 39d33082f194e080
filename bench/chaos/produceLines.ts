import { spawn } from 'node:child_process';
import { onCleanup } from './cleanup.js';

/**
 * Produces `key\tvalue\n` lines to `topic` with kcat as fast as it goes (murmur2 partitioner,
 * as streamcast's producers; acks from all replicas), chunk by chunk so that a large input is
 * never one string; resolves once kcat has delivered everything, false if it reports a failure.
 */
export async function produceLines(brokers: string, topic: string, chunks: Iterable<string>): Promise<boolean> {
  const kcat = spawn('kcat', ['-P', '-b', brokers, '-t', topic, '-K', '\t', '-X', 'partitioner=murmur2_random', '-X', 'acks=all', '-X', 'linger.ms=20'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const unregister = onCleanup(`kcat producing to ${topic}`, () => kcat.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => kcat.on('close', resolve));
  let broken = false;
  kcat.stdin.on('error', () => {
    broken = true; // kcat gone: its exit code says why
  });
  for (const chunk of chunks) {
    if (broken) break;
    if (!kcat.stdin.write(chunk)) await new Promise((r) => kcat.stdin.once('drain', r));
  }
  kcat.stdin.end();
  const code = await exited;
  unregister();
  return code === 0 && !broken;
}
