import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from './freePort.js';

/**
 * A Kafka broker of a test's or benchmark's own, for what kills or restarts one (never the shared
 * broker): deploy/kafka/kafka.sh on a free port with its own KAFKA_CACHE_DIR, whose libs/ links to
 * the jars the global setup (or `npm run kafka:start`) fetched into .cache/kafka/libs. Plain Node,
 * no vitest: the integration tests and the chaos benchmark (bench/chaos.ts) share it.
 *
 * `kafka.sh start` formats fresh storage, so `relaunch` starts the killed JVM's own command line
 * again on the same data directory, and rewrites the pid file so that `kafka.sh stop` (`stop`)
 * still finds the live JVM.
 */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const script = join(repoRoot, 'deploy', 'kafka', 'kafka.sh');
const libs = join(repoRoot, '.cache', 'kafka', 'libs');

/** Why no broker of its own can start here (no jars, no java), with the fix; undefined when one can. */
export function ownBrokerProblem(): string | undefined {
  if (!existsSync(libs)) return `no Kafka jars in ${libs}; fetch them with \`npm run kafka:start\` once (or: bash deploy/kafka/kafka.sh fetch)`;
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) return 'java not found on PATH; install it with `npm run setup:services` (or: apt-get install -y --no-install-recommends openjdk-17-jre-headless)';
  return undefined;
}

export class OwnBroker {
  #argv: string[] | undefined;
  #stopped = false;

  private constructor(
    readonly port: number,
    private readonly controllerPort: number,
    private readonly cacheDir: string,
  ) {}

  /**
   * Starts a broker on `port` (default: a free one); resolves once it serves (kafka.sh waits).
   * Both its ports are ones the OS found free, and a start on ports chosen here is tried again on
   * new ones when it fails: between the probe and the JVM's bind, a client socket of a test
   * running beside it can take either port as its own (ephemeral) one.
   */
  static async start(opts: { port?: number; timeoutMs?: number } = {}): Promise<OwnBroker> {
    if (!existsSync(libs)) throw new Error(ownBrokerProblem());
    const attempts = opts.port === undefined ? 3 : 1;
    let failure = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const cacheDir = mkdtempSync(join(tmpdir(), 'streamcast-kafka-own-'));
      symlinkSync(libs, join(cacheDir, 'libs'));
      const port = opts.port ?? (await freePort());
      let controllerPort = await freePort();
      while (controllerPort === port) controllerPort = await freePort();
      const broker = new OwnBroker(port, controllerPort, cacheDir);
      const started = spawnSync('bash', [script, 'start'], { env: { ...broker.#env(), KAFKA_WARMUP: '1' }, encoding: 'utf8', timeout: opts.timeoutMs ?? 300_000 });
      if (started.status === 0) return broker;
      broker.stop();
      failure = `kafka.sh start failed (${String(started.status ?? started.signal)}; attempt ${attempt} of ${attempts}): ${started.stderr}`;
    }
    throw new Error(failure);
  }

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Whether its JVM is alive (false after `kill` until `relaunch`). */
  get running(): boolean {
    return existsSync(this.#pidFile()) && alive(this.#pid());
  }

  /**
   * Signals the broker's JVM and resolves once it is gone. SIGKILL (default): kill -9, no
   * controlled shutdown, clients see connections refused; SIGTERM: a clean shutdown.
   */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL', timeoutMs = 60_000): Promise<void> {
    const pid = this.#pid();
    this.#argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    process.kill(pid, signal);
    const deadline = performance.now() + timeoutMs;
    while (alive(pid)) {
      if (performance.now() > deadline) throw new Error(`the broker (pid ${pid}) did not exit within ${timeoutMs} ms of ${signal}`);
      await sleep(50);
    }
  }

  /** Starts the killed JVM's command line again on the same data; does not wait for it (see waitServing). */
  relaunch(): void {
    if (this.#argv === undefined) throw new Error('relaunch() before kill(): there is no command line to start again');
    const argv = this.#argv;
    const log = openSync(join(this.cacheDir, `kafka-${this.port}.log`), 'a');
    const jvm = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    jvm.unref();
    closeSync(log);
    writeFileSync(this.#pidFile(), `${String(jvm.pid)}\n`);
  }

  /**
   * Seconds until the broker serves metadata for `topic` (every topic when absent) and, with
   * `partitions`, that many partitions have a leader (it is unfenced); undefined after `timeoutMs`.
   */
  async waitServing(topic: string | undefined, opts: { partitions?: number; timeoutMs: number }): Promise<number | undefined> {
    const t0 = performance.now();
    while (performance.now() - t0 < opts.timeoutMs) {
      const r = spawnSync('kcat', ['-b', this.brokers, '-L', ...(topic !== undefined ? ['-t', topic] : []), '-m', '2'], { encoding: 'utf8', timeout: 10_000 });
      const leaders = (r.stdout ?? '').match(/partition \d+, leader 1,/g)?.length ?? 0;
      if (r.status === 0 && (opts.partitions === undefined || leaders === opts.partitions)) return (performance.now() - t0) / 1000;
      await sleep(250);
    }
    return undefined;
  }

  /** `kafka.sh stop` (TERM, then KILL; removes the data), then its folder. Idempotent; synchronous, for signal handlers. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    spawnSync('bash', [script, 'stop'], { env: this.#env(), stdio: 'ignore', timeout: 60_000 });
    rmSync(this.cacheDir, { recursive: true, force: true });
  }

  #env(): NodeJS.ProcessEnv {
    return { ...process.env, KAFKA_PORT: String(this.port), KAFKA_CONTROLLER_PORT: String(this.controllerPort), KAFKA_CACHE_DIR: this.cacheDir };
  }

  #pidFile(): string {
    return join(this.cacheDir, `kafka-${this.port}.pid`);
  }

  #pid(): number {
    return Number(readFileSync(this.#pidFile(), 'utf8').trim());
  }
}

/** Alive and not a zombie (a killed child of this process stays a zombie until reaped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    void err; // no such process
    return false;
  }
}
