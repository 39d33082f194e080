import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.js';

/**
 * A private Prometheus (Debian's `prometheus` binary) with 1 s scrapes of the given targets, on a
 * free loopback port and a temporary data dir. The shared one from the global setup scrapes a
 * fixed 127.0.0.1:9464; tests that run streamcast on a port of their own start this instead.
 */
export interface PrivatePrometheus {
  readonly url: string;
  query(expr: string): Promise<PromResponse>;
  /** The last few KiB of its stderr, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value?: [number, string];
}

export interface PromResponse {
  readonly status: string;
  readonly error?: string;
  readonly data: { resultType: string; result: PromSample[] } | string[];
}

/** The instant vector of a query response ([] for errors and non-vector answers). */
export function samples(r: PromResponse): PromSample[] {
  return Array.isArray(r.data) ? [] : r.data.result;
}

export async function stopChild(p: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

export async function startPrometheus(opts: { targets: readonly string[]; ruleFiles?: readonly string[]; readyTimeoutMs?: number }): Promise<PrivatePrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-prom-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      ...(opts.ruleFiles && opts.ruleFiles.length > 0 ? [`rule_files: [${opts.ruleFiles.map((f) => `'${f}'`).join(', ')}]`] : []),
      'scrape_configs:',
      '  - job_name: streamcast',
      `    static_configs: [{ targets: [${opts.targets.map((t) => `'${t}'`).join(', ')}] }]`,
      '',
    ].join('\n'),
  );
  const child = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    log = (log + c).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    const ok = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      (err: unknown) => (void err, false), // not listening yet
    );
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`Prometheus did not become ready on ${url}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    query: async (expr) => (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as PromResponse,
    log: () => log,
    stop,
  };
}
