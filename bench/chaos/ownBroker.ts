import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';

/**
 * The chaos benchmark's own broker: deploy/kafka/kafka.sh on a free port with its own
 * KAFKA_CACHE_DIR (libs/ linked to .cache/kafka/libs), as test/integration/kafka/brokerRestart.test.ts
 * does. The benchmark kills it, so it never uses the shared broker. `kafka.sh start` formats
 * fresh storage, so a restart relaunches the JVM's own command line on the same data directory
 * and rewrites the pid file, which keeps `kafka.sh stop` (cleanup) pointed at the live JVM.
 */
export class OwnBroker {
  readonly #unregister: () => void;
  #stopped = false;

  private constructor(
    private readonly root: string,
    private readonly env: NodeJS.ProcessEnv,
    readonly port: number,
  ) {
    this.#unregister = onCleanup(`broker on 127.0.0.1:${port}`, () => this.stop());
  }

  static async start(root: string, port?: number): Promise<OwnBroker> {
    const libs = join(root, '.cache', 'kafka', 'libs');
    if (!existsSync(libs)) throw new Error(`no Kafka jars in ${libs}: run npm run kafka:start once (it fetches them)`);
    const cache = mkdtempSync(join(tmpdir(), 'streamcast-bench-chaos-'));
    symlinkSync(libs, join(cache, 'libs'));
    const p = port ?? (await freePort());
    const env = { ...process.env, KAFKA_PORT: String(p), KAFKA_CACHE_DIR: cache, KAFKA_WARMUP: '1' };
    const broker = new OwnBroker(root, env, p);
    const started = spawnSync('bash', [broker.#script(), 'start'], { env, encoding: 'utf8', timeout: 300_000 });
    if (started.status !== 0) {
      broker.stop();
      throw new Error(`kafka.sh start failed: ${started.stderr}`);
    }
    return broker;
  }

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** kill -9 of the broker's JVM; resolves once it is gone. Returns what `relaunch` needs. */
  async killHard(): Promise<{ argv: string[] }> {
    const pid = this.#pid();
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(50);
    return { argv };
  }

  /** Starts `argv` (the killed JVM's command line) again on the same data; does not wait for it. */
  relaunch(argv: readonly string[]): void {
    const log = openSync(join(this.env['KAFKA_CACHE_DIR']!, `kafka-${this.port}.log`), 'a');
    const jvm = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    jvm.unref();
    closeSync(log);
    writeFileSync(this.#pidFile(), `${String(jvm.pid)}\n`);
  }

  /**
   * Seconds until `topic`'s `partitions` partitions all have a leader again (the broker serves
   * metadata and is unfenced), or undefined after `timeoutS`.
   */
  async waitServing(topic: string, partitions: number, timeoutS: number): Promise<number | undefined> {
    const t0 = performance.now();
    while (performance.now() - t0 < timeoutS * 1000) {
      const r = spawnSync('kcat', ['-b', this.brokers, '-L', '-t', topic, '-m', '2'], { encoding: 'utf8', timeout: 5000 });
      const leaders = (r.stdout ?? '').match(/partition \d+, leader 1,/g)?.length ?? 0;
      if (r.status === 0 && leaders === partitions) return (performance.now() - t0) / 1000;
      await sleep(250);
    }
    return undefined;
  }

  /** `kafka.sh stop` (TERM, then KILL; removes the data). Idempotent; synchronous for signal handlers. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    spawnSync('bash', [this.#script(), 'stop'], { env: this.env, stdio: 'ignore', timeout: 60_000 });
    // kafka.sh removed the data; the rest is its log and the libs link.
    rmSync(this.env['KAFKA_CACHE_DIR']!, { recursive: true, force: true });
    this.#unregister();
  }

  #script(): string {
    return join(this.root, 'deploy', 'kafka', 'kafka.sh');
  }

  #pidFile(): string {
    return join(this.env['KAFKA_CACHE_DIR']!, `kafka-${this.port}.pid`);
  }

  #pid(): number {
    return Number(readFileSync(this.#pidFile(), 'utf8').trim());
  }
}

/** Alive and not a zombie (a killed child of this process stays a zombie until reaped). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    void err; // no such process
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr !== null && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no free port'))));
    });
  });
}
