import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';

export const STEP_MS = 60_000;
export const T0 = Date.UTC(2024, 0, 1);

/** Point `step` of series `s`: 1 s into its step, a smooth deterministic value. */
export function pointLine(prefix: string, s: number, step: number): string {
  const series = `${prefix}-${s}`;
  return `${series}\t${JSON.stringify({ series, ts: T0 + step * STEP_MS + 1000, value: Math.round(100 * Math.sin(step / 7 + s)) / 10 })}\n`;
}

/**
 * Open-ended steady input: one step of every series per tick, ticks paced so that the points/s
 * are `rate`, until `stop()`. Produced by kcat (librdkafka; keyed by series with Java's murmur2
 * partitioner, as streamcast's own producers; idempotent, so a broker outage neither loses nor
 * doubles input). What to expect is read back from the topic afterwards, not assumed from here.
 */
export class SteadyInput {
  readonly #kcat: ChildProcess;
  readonly #exited: Promise<number | null>;
  readonly #unregister: () => void;
  readonly #running: Promise<void>;
  #stopping = false;
  #steps: number;

  constructor(
    brokers: string,
    topic: string,
    private readonly prefix: string,
    private readonly series: number,
    rate: number,
    fromStep = 0,
  ) {
    this.#steps = fromStep;
    this.#kcat = spawn('kcat', ['-P', '-b', brokers, '-t', topic, '-K', '\t', '-X', 'partitioner=murmur2_random', '-X', 'enable.idempotence=true', '-X', 'linger.ms=5'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.#unregister = onCleanup(`kcat producing to ${topic}`, () => this.#kcat.kill('SIGKILL'));
    // kcat gone (EPIPE): stop generating; stop() then reports the failure through its exit code.
    this.#kcat.stdin!.on('error', () => {
      this.#stopping = true;
    });
    this.#exited = new Promise((resolve) => this.#kcat.on('close', (code) => resolve(code)));
    this.#running = this.#run((series / rate) * 1000);
  }

  /** Steps produced so far (the next step to produce). */
  get steps(): number {
    return this.#steps;
  }

  /** Stops after the current step; resolves once kcat has delivered everything (false if it failed). */
  async stop(): Promise<boolean> {
    this.#stopping = true;
    await this.#running;
    this.#kcat.stdin!.end();
    const code = await this.#exited;
    this.#unregister();
    return code === 0;
  }

  async #run(tickMs: number): Promise<void> {
    const t0 = performance.now();
    let ticks = 0;
    while (!this.#stopping) {
      let lines = '';
      for (let s = 0; s < this.series; s++) lines += pointLine(this.prefix, s, this.#steps);
      this.#steps++;
      ticks++;
      if (!this.#kcat.stdin!.write(lines)) await new Promise((r) => this.#kcat.stdin!.once('drain', r));
      const wait = t0 + ticks * tickMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
  }
}
