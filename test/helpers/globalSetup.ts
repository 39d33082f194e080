import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { onCi } from './ci.js';
import { freePort } from './freePort.js';
import { nativeInstalled } from './nativeInstalled.js';

/**
 * vitest global setup: real servers for the integration tests.
 *
 * For each of Kafka, Prometheus and InfluxDB: an address in the environment (KAFKA_BROKERS,
 * PROMETHEUS_URL, INFLUX_URL) is used as is; else one already started by `npm run kafka:start` /
 * `npm run services:start` on the default port is reused; else, unless STREAMCAST_START_SERVICES=0,
 * one is started on a free loopback port with deploy/kafka/kafka.sh or deploy/services/services.sh
 * and stopped again at teardown. Addresses reach the tests both through `provide` (see
 * test/helpers/services.ts) and process.env (so that child processes a test spawns see them too).
 * A server that cannot be had fails the run when CI is set; elsewhere the tests needing it skip.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const kafkaScript = join(repoRoot, 'deploy', 'kafka', 'kafka.sh');
const servicesScript = join(repoRoot, 'deploy', 'services', 'services.sh');

// A cold Maven fetch of the Kafka jars comes first on a fresh machine.
const KAFKA_START_TIMEOUT_MS = 300_000;
const SERVICE_START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

type Key = 'kafkaBrokers' | 'prometheusUrl' | 'influxUrl';

interface Outcome {
  readonly key: Key;
  readonly envVar: string;
  readonly address: string | undefined;
  /** Why there is no address (undefined when there is one). */
  readonly problem: string | undefined;
  /** STREAMCAST_START_SERVICES=0: not a failure here even on CI; tests that need the server still fail there. */
  readonly optedOut: boolean;
  /** Stops the server when this setup started it. */
  readonly stop: (() => Promise<void>) | undefined;
  readonly stopSync: (() => void) | undefined;
}

function log(message: string): void {
  console.log(`[globalSetup] ${message}`);
}

function onPath(cmd: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === undefined) throw err;
      // Not in this directory (ENOENT) or not executable (EACCES): keep looking.
    }
  }
  return false;
}

function hasJava(): boolean {
  const home = process.env['JAVA_HOME'];
  if (home !== undefined && home !== '') {
    try {
      accessSync(join(home, 'bin', 'java'), constants.X_OK);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === undefined) throw err;
      // JAVA_HOME points nowhere useful; fall back to PATH as kafka.sh does.
    }
  }
  return onPath('java');
}

interface ScriptResult {
  readonly code: number | null;
  readonly vars: ReadonlyMap<string, string>;
}

/** Runs one of the deploy scripts; its stderr (progress, errors) goes to ours, KEY=VALUE lines on stdout are collected. */
function runScript(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  stderr: 'inherit' | 'ignore' = 'inherit',
): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', stderr],
    });
    let stdout = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const vars = new Map<string, string>();
      for (const line of stdout.split('\n')) {
        const m = /^([A-Z_]+)=(\S+)$/.exec(line.trim());
        if (m?.[1] !== undefined && m[2] !== undefined) vars.set(m[1], m[2]);
      }
      resolve({ code, vars });
    });
  });
}

interface Stopper {
  readonly stop: () => Promise<void>;
  readonly stopSync: () => void;
}

function stopper(script: string, args: readonly string[], env: NodeJS.ProcessEnv): Stopper {
  return {
    stop: async () => {
      await runScript(script, ['stop', ...args], env, STOP_TIMEOUT_MS);
    },
    // Only for process exit without teardown (e.g. Ctrl-C): no event loop left for the async one.
    stopSync: () => {
      spawnSync('bash', [script, 'stop', ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: 'ignore', timeout: STOP_TIMEOUT_MS });
    },
  };
}

function none(key: Key, envVar: string, problem: string): Outcome {
  return { key, envVar, address: undefined, problem, optedOut: false, stop: undefined, stopSync: undefined };
}

function optedOut(key: Key, envVar: string): Outcome {
  return { ...none(key, envVar, `${envVar} unset and STREAMCAST_START_SERVICES=0`), optedOut: true };
}

function reused(key: Key, envVar: string, address: string, why: string): Outcome {
  log(`${envVar}=${address} (${why})`);
  return { key, envVar, address, problem: undefined, optedOut: false, stop: undefined, stopSync: undefined };
}

async function kafka(): Promise<Outcome> {
  const key = 'kafkaBrokers';
  const envVar = 'KAFKA_BROKERS';
  const given = process.env[envVar];
  if (given !== undefined && given !== '') return reused(key, envVar, given, 'from the environment');
  if (process.env['STREAMCAST_START_SERVICES'] === '0') return optedOut(key, envVar);
  if (!hasJava()) {
    return none(key, envVar, 'java not found on PATH; install it with `npm run setup:services` (or: apt-get install -y --no-install-recommends openjdk-17-jre-headless maven)');
  }
  // A broker from `npm run kafka:start` (KAFKA_PORT or 9092) is reused and left running.
  const status = await runScript(kafkaScript, ['status'], {}, STOP_TIMEOUT_MS, 'ignore');
  const running = status.code === 0 ? status.vars.get(envVar) : undefined;
  if (running !== undefined) return reused(key, envVar, running, 'broker started by kafka:start');

  const env = { KAFKA_PORT: String(await freePort()) };
  log(`starting Kafka on 127.0.0.1:${env.KAFKA_PORT}`);
  const t0 = performance.now();
  const started = await runScript(kafkaScript, ['start'], env, KAFKA_START_TIMEOUT_MS);
  const brokers = started.vars.get(envVar);
  const stop = stopper(kafkaScript, [], env);
  if (started.code !== 0 || brokers === undefined) {
    await stop.stop();
    return none(key, envVar, `deploy/kafka/kafka.sh start failed (exit ${String(started.code)}); see the messages above`);
  }
  log(`${envVar}=${brokers} (started in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return { key, envVar, address: brokers, problem: undefined, optedOut: false, ...stop };
}

async function service(name: 'prometheus' | 'influxdb'): Promise<Outcome> {
  const key = name === 'prometheus' ? 'prometheusUrl' : 'influxUrl';
  const envVar = name === 'prometheus' ? 'PROMETHEUS_URL' : 'INFLUX_URL';
  const portVar = name === 'prometheus' ? 'PROMETHEUS_PORT' : 'INFLUX_PORT';
  const binary = name === 'prometheus' ? 'prometheus' : 'influxd';
  const given = process.env[envVar];
  if (given !== undefined && given !== '') return reused(key, envVar, given, 'from the environment');
  if (process.env['STREAMCAST_START_SERVICES'] === '0') return optedOut(key, envVar);
  if (!onPath(binary)) return none(key, envVar, `${binary} not found on PATH; install it with \`npm run setup:services\` (or: apt-get install -y --no-install-recommends ${name})`);

  const status = await runScript(servicesScript, ['status', name], {}, STOP_TIMEOUT_MS, 'ignore');
  const running = status.code === 0 ? status.vars.get(envVar) : undefined;
  if (running !== undefined) return reused(key, envVar, running, `${name} started by services:start`);

  const env = { [portVar]: String(await freePort()) };
  log(`starting ${name} on 127.0.0.1:${env[portVar] ?? ''}`);
  const t0 = performance.now();
  const started = await runScript(servicesScript, ['start', name], env, SERVICE_START_TIMEOUT_MS);
  const url = started.vars.get(envVar);
  const stop = stopper(servicesScript, [name], env);
  if (started.code !== 0 || url === undefined) {
    await stop.stop();
    return none(key, envVar, `deploy/services/services.sh start ${name} failed (exit ${String(started.code)}); see the messages above`);
  }
  log(`${envVar}=${url} (started in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return { key, envVar, address: url, problem: undefined, optedOut: false, ...stop };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!nativeInstalled() && !onCi()) {
    log('native TensorFlow backend not installed: the GRU contract and training tests run on wasm only (skipped on tensorflow); `npm run native:install` adds it');
  }
  // In parallel: Kafka's JVM start-up dominates, the other two take about a second.
  const outcomes = await Promise.all([kafka(), service('prometheus'), service('influxdb')]);

  const ours = outcomes.filter((o) => o.stop !== undefined);
  let stopped = false;
  const stopAllSync = (): void => {
    if (stopped) return;
    stopped = true;
    for (const o of ours) o.stopSync?.();
  };
  process.once('exit', stopAllSync);
  const stopAll = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopAllSync);
    await Promise.all(ours.map((o) => o.stop?.()));
  };

  const problems = outcomes.filter((o) => o.problem !== undefined);
  const failures = problems.filter((o) => !o.optedOut);
  if (failures.length > 0 && onCi()) {
    await stopAll();
    throw new Error(
      `integration servers are required on CI but could not be had:\n${failures.map((o) => `  ${o.envVar}: ${o.problem ?? ''}`).join('\n')}`,
    );
  }
  const consequence = onCi() ? 'fail (CI is set)' : 'skip';
  for (const o of problems) log(`no ${o.envVar}: ${o.problem ?? ''}; integration tests that need it will ${consequence}`);

  const setEnv: string[] = [];
  for (const o of outcomes) {
    project.provide(o.key, o.address);
    if (o.address !== undefined && process.env[o.envVar] !== o.address) {
      process.env[o.envVar] = o.address;
      setEnv.push(o.envVar);
    }
  }

  return async () => {
    for (const v of setEnv) Reflect.deleteProperty(process.env, v);
    await stopAll();
  };
}
