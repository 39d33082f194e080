import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { onCleanup } from './cleanup.js';

/**
 * Every record now in `topic`, one payload per line, read with kcat (librdkafka: a second,
 * independent Kafka client) and streamed to `onLine` (a few hundred thousand forecasts would not
 * fit one spawnSync buffer comfortably). `readCommitted`: records of committed transactions only.
 * Resolves with false when kcat failed (e.g. no such topic) or ran past `timeoutS`.
 */
export function readTopic(brokers: string, topic: string, opts: { readCommitted: boolean; timeoutS?: number }, onLine: (line: string) => void): Promise<boolean> {
  const iso = opts.readCommitted ? ['-X', 'isolation.level=read_committed'] : [];
  const kcat = spawn('kcat', ['-b', brokers, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\\n', ...iso], { stdio: ['ignore', 'pipe', 'ignore'] });
  const unregister = onCleanup(`kcat reading ${topic}`, () => kcat.kill('SIGKILL'));
  const timer = setTimeout(() => kcat.kill('SIGKILL'), (opts.timeoutS ?? 300) * 1000);
  createInterface({ input: kcat.stdout }).on('line', (l) => {
    if (l !== '') onLine(l);
  });
  return new Promise((resolve) => {
    kcat.on('close', (code) => {
      clearTimeout(timer);
      unregister();
      resolve(code === 0);
    });
  });
}

/**
 * librdkafka backs off reconnects up to 10 s by default: after a broker restart that would be
 * measured as streamcast's recovery time.
 */
const QUICK_RECONNECT = ['-X', 'reconnect.backoff.ms=100', '-X', 'reconnect.backoff.max.ms=250'];

/**
 * Follows `topic` from its beginning with kcat (read_committed) for as long as it runs, noting
 * when each record arrived here; recovery times are read from it. kcat exits when every broker
 * connection is down (a broker outage), so it is started again, from the beginning, and the
 * records already counted are skipped (the topic only grows, so the first `seen` are old ones).
 */
export class TopicTail {
  #kcat: ChildProcess | undefined;
  #unregister: () => void = () => undefined;
  #stopped = false;
  /** Times kcat was started again after exiting. */
  restarts = 0;
  /** Arrival time (performance.now()) of every record, in order. */
  readonly #arrivals: number[] = [];

  constructor(
    private readonly brokers: string,
    private readonly topic: string,
  ) {
    this.#follow();
  }

  #follow(): void {
    let skip = this.#arrivals.length;
    const kcat = spawn('kcat', ['-b', this.brokers, '-C', '-t', this.topic, '-o', 'beginning', '-q', '-u', '-f', '%p\\n', '-X', 'isolation.level=read_committed', '-X', 'fetch.wait.max.ms=50', ...QUICK_RECONNECT], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.#kcat = kcat;
    this.#unregister = onCleanup(`kcat following ${this.topic}`, () => kcat.kill('SIGKILL'));
    createInterface({ input: kcat.stdout }).on('line', () => {
      if (skip > 0) skip--;
      else this.#arrivals.push(performance.now());
    });
    kcat.on('close', () => {
      this.#unregister();
      if (this.#stopped) return;
      this.restarts++;
      setTimeout(() => {
        if (!this.#stopped) this.#follow();
      }, 250);
    });
  }

  count(): number {
    return this.#arrivals.length;
  }

  /** When the first record after `t` arrived, or undefined if none has. */
  firstAfter(t: number): number | undefined {
    // Binary search: arrivals are in order.
    let lo = 0;
    let hi = this.#arrivals.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#arrivals[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return this.#arrivals[lo];
  }

  /** When the latest record arrived (undefined before the first). */
  last(): number | undefined {
    return this.#arrivals.at(-1);
  }

  stop(): void {
    this.#stopped = true;
    this.#kcat?.kill('SIGKILL');
    this.#unregister();
  }
}
