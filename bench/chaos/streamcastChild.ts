import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** How a SIGTERM ended: exit status, seconds it took, and whether SIGKILL had to finish it. */
export interface Termination extends Exit {
  readonly seconds: number;
  readonly killed: boolean;
  /** It had exited by itself before the SIGTERM (`seconds` is then 0). */
  readonly alreadyExited: boolean;
}

/** Keeps the last this many characters of a child's stderr, for the JSON report. */
const STDERR_KEEP = 64 * 1024;

/**
 * One `streamcast run <spec>` child process (node bin/streamcast.js, as users run it) against the
 * benchmark's broker, HTTP on a free port. Counts the error-level log lines (pino level ≥ 50) it
 * writes; SIGKILLed by the cleanup if the benchmark stops early.
 */
export class StreamcastChild {
  readonly child: ChildProcess;
  readonly startedAt = performance.now();
  readonly exited: Promise<Exit & { at: number }>;
  #stderr = '';
  #partial = '';
  #errors = 0;
  #port: number | undefined;
  #exit: (Exit & { at: number }) | undefined;

  constructor(root: string, specPath: string, brokers: string, env: NodeJS.ProcessEnv = {}) {
    // KAFKA_BROKERS overridden: the caller's environment may name the shared broker.
    this.child = spawn(process.execPath, ['bin/streamcast.js', 'run', specPath, '--port', '0', '--brokers', brokers], {
      cwd: root,
      env: { ...process.env, ...env, KAFKA_BROKERS: brokers },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const unregister = onCleanup(`streamcast pid ${String(this.child.pid)}`, () => this.child.kill('SIGKILL'));
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => this.#onStderr(c));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        unregister();
        this.#exit = { code, signal, at: performance.now() };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  alive(): boolean {
    return this.#exit === undefined;
  }

  exit(): (Exit & { at: number }) | undefined {
    return this.#exit;
  }

  errorsLogged(): number {
    return this.#errors;
  }

  stderrTail(chars = 4000): string {
    return this.#stderr.slice(-chars);
  }

  /** The HTTP port once logged, or undefined after `timeoutS` or when the process exits first. */
  async port(timeoutS = 60): Promise<number | undefined> {
    const deadline = performance.now() + timeoutS * 1000;
    while (this.#port === undefined && this.alive() && performance.now() < deadline) await sleep(100);
    return this.#port;
  }

  /** HTTP status of `path` (/healthz, /readyz), 0 when nothing answers within `timeoutMs`. */
  async http(path: string, timeoutMs = 2000): Promise<number> {
    if (this.#port === undefined) return 0;
    try {
      const r = await fetch(`http://127.0.0.1:${this.#port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      await r.arrayBuffer();
      return r.status;
    } catch (err) {
      void err; // refused, reset or timed out: no answer
      return 0;
    }
  }

  /** Seconds until /readyz answers 200, or undefined after `timeoutS` or on exit. */
  async ready(timeoutS: number): Promise<number | undefined> {
    const deadline = performance.now() + timeoutS * 1000;
    await this.port(timeoutS);
    while (this.alive() && performance.now() < deadline) {
      if ((await this.http('/readyz')) === 200) return (performance.now() - this.startedAt) / 1000;
      await sleep(200);
    }
    return undefined;
  }

  /** Resident set size in KiB (VmRSS of /proc/<pid>/status: the process and all its threads). */
  rssKiB(): number | undefined {
    try {
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m === null ? undefined : Number(m[1]);
    } catch (err) {
      void err; // gone
      return undefined;
    }
  }

  /** SIGKILL; resolves once it is gone. */
  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `timeoutS`. */
  async terminate(timeoutS: number): Promise<Termination> {
    if (this.#exit !== undefined) return { code: this.#exit.code, signal: this.#exit.signal, seconds: 0, killed: false, alreadyExited: true };
    const t0 = performance.now();
    this.child.kill('SIGTERM');
    const timer = sleep(timeoutS * 1000).then(() => undefined);
    const done = await Promise.race([this.exited, timer]);
    if (done !== undefined) return { code: done.code, signal: done.signal, seconds: (done.at - t0) / 1000, killed: false, alreadyExited: false };
    this.child.kill('SIGKILL');
    const forced = await this.exited;
    return { code: forced.code, signal: forced.signal, seconds: (forced.at - t0) / 1000, killed: true, alreadyExited: false };
  }

  #onStderr(chunk: string): void {
    this.#stderr = (this.#stderr + chunk).slice(-STDERR_KEEP);
    const lines = (this.#partial + chunk).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      let rec: { level?: unknown; msg?: unknown; port?: unknown };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch (err) {
        void err; // a log line cut by the process dying: not a log record
        continue;
      }
      if (typeof rec.level === 'number' && rec.level >= 50) this.#errors++;
      if (this.#port === undefined && typeof rec.msg === 'string') {
        const m = /HTTP endpoints on http:\/\/127\.0\.0\.1:(\d+)/.exec(rec.msg);
        if (m !== null) this.#port = Number(m[1]);
      }
    }
  }
}
