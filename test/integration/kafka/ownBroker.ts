import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/cli.js';
import { waitFor } from './harness.js';

/**
 * A broker of a test's own, for tests that kill or restart it (never the shared one): deploy/kafka/kafka.sh
 * on a free port with its own KAFKA_CACHE_DIR (libs/ a symlink to the fetched jars), as
 * brokerRestart.test.ts does. `kafka.sh start` formats fresh storage, so a restart re-launches the
 * JVM with its original command line on the same data directory instead.
 */
const script = join(repoRoot, 'deploy', 'kafka', 'kafka.sh');
const libs = join(repoRoot, '.cache', 'kafka', 'libs');

/** The jars the global setup fetched (or `npm run kafka:start`) and java are there. */
export const canRunOwnBroker = existsSync(libs) && spawnSync('java', ['-version']).status === 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr !== null && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export class OwnBroker {
  private env: NodeJS.ProcessEnv | undefined;
  private argv: string[] = [];
  /** Set while killed: the topic whose metadata tells that a restart is serving. */
  private killed: string | undefined;

  /**
   * Starts it once and returns `127.0.0.1:<port>`; a later call returns the same address, after
   * restarting the broker if an earlier test left it killed.
   */
  async start(): Promise<string> {
    if (this.env !== undefined) {
      if (this.killed !== undefined) await this.restart(this.killed);
      return this.brokers;
    }
    const cache = mkdtempSync(join(tmpdir(), 'streamcast-kafka-own-'));
    symlinkSync(libs, join(cache, 'libs'));
    this.env = { KAFKA_CACHE_DIR: cache, KAFKA_PORT: String(await freePort()) };
    const r = spawnSync('bash', [script, 'start'], { env: { ...process.env, ...this.env, KAFKA_WARMUP: '1' }, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`kafka.sh start failed (${String(r.status)}): ${r.stderr}`);
    this.argv = readFileSync(`/proc/${this.pid()}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    return this.brokers;
  }

  get brokers(): string {
    return `127.0.0.1:${this.env?.['KAFKA_PORT'] ?? '?'}`;
  }

  private get pidFile(): string {
    return join(this.env!['KAFKA_CACHE_DIR']!, `kafka-${this.env!['KAFKA_PORT']!}.pid`);
  }

  private pid(): number {
    return Number(readFileSync(this.pidFile, 'utf8').trim());
  }

  /** kill -9 of the broker's JVM: no controlled shutdown, clients see connections refused. */
  async kill9(probeTopic: string): Promise<void> {
    const pid = this.pid();
    this.killed = probeTopic;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid) || undefined, 30_000, 'the killed broker to be gone');
  }

  /** The same command line on the same data; resolves once it serves metadata for `topic`. */
  async restart(topic: string): Promise<void> {
    const log = openSync(join(this.env!['KAFKA_CACHE_DIR']!, `kafka-${this.env!['KAFKA_PORT']!}.log`), 'a');
    const broker = spawn(this.argv[0]!, this.argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    broker.unref();
    writeFileSync(this.pidFile, `${String(broker.pid)}\n`);
    this.killed = undefined;
    await waitFor(
      () => spawnSync('kcat', ['-b', this.brokers, '-L', '-t', topic, '-m', '2'], { encoding: 'utf8', timeout: 10_000 }).status === 0 || undefined,
      90_000,
      'the restarted broker',
    );
  }

  stop(): void {
    if (this.env !== undefined) spawnSync('bash', [script, 'stop'], { env: { ...process.env, ...this.env }, stdio: 'ignore', timeout: 60_000 });
  }
}

/** Alive and not a zombie (a killed child of ours stays a zombie until reaped). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
