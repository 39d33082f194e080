/**
 * Chaos benchmark: streamcast under the failures of the reliability issue, against a broker of
 * its own (deploy/kafka/kafka.sh on a free port, own data dir; never the shared 127.0.0.1:9092),
 * each `streamcast run` a child process on generated specs and topics:
 *
 * - kill9: kill -9 of streamcast at random moments of a steady input, restarted each time (both
 *   guarantees); lost / duplicated (series, step) forecasts, values against an uninterrupted
 *   reference run, recovery (restart → first new forecast, → caught up).
 * - broker: kill -9 of the broker for each of BENCH_CHAOS_OUTAGES seconds, restarted on the same
 *   data; lost / duplicated, recovery after the broker is back, liveness and /healthz.
 * - poison: a JSON array record with one element nested BENCH_CHAOS_POISON_DEPTH deep amid valid
 *   records; survival, dead letter, committed vs end offsets, lost valid forecasts.
 * - cardinality: BENCH_CHAOS_SERIES series (1 point each, 5 more for 10%); RSS over time, per
 *   series, drain time, SIGTERM shutdown, forecasts vs expected.
 *
 *   npm run bench -- chaos [kill9|broker|poison|cardinality…] [--out <file.json>]
 *
 * Prints a table at the end and writes it as JSON (.cache/bench-chaos.json by default). Every
 * wait is bounded (BENCH_CHAOS_WAIT_S), so a process that hangs is reported, not waited for.
 * SIGINT/SIGTERM kill its children and stop its broker. Sizes: see bench/chaos/chaosConfig.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { mulberry32 } from '../src/domain/random.js';
import { brokerRestartScenario } from './chaos/brokerRestart.js';
import { cardinalityScenario } from './chaos/cardinality.js';
import { ChaosConfigError, chaosConfigFrom, type ChaosConfig, type ScenarioName } from './chaos/chaosConfig.js';
import { failedRow, renderTable, type ChaosRow } from './chaos/chaosTable.js';
import { cleanupOnSignals, onCleanup, runCleanups } from './chaos/cleanup.js';
import { kill9Scenario } from './chaos/kill9.js';
import { poisonPillScenario } from './chaos/poisonPill.js';
import { Progress } from './chaos/progress.js';
import type { ScenarioContext } from './chaos/scenarioContext.js';
import { OwnBroker } from '../test/helpers/ownBroker.js';

const root = resolve(import.meta.dirname, '..');

const SCENARIO_RUNS: Record<ScenarioName, (ctx: ScenarioContext) => Promise<ChaosRow[]>> = {
  kill9: kill9Scenario,
  broker: brokerRestartScenario,
  poison: poisonPillScenario,
  cardinality: cardinalityScenario,
};

export async function benchChaos(args: readonly string[]): Promise<Record<string, unknown>[]> {
  let cfg: ChaosConfig;
  try {
    cfg = chaosConfigFrom(args, process.env, root);
  } catch (err) {
    if (!(err instanceof ChaosConfigError)) throw err;
    process.stderr.write(`chaos: ${err.message}\n`);
    process.exit(2);
  }
  const removeHandlers = cleanupOnSignals();
  const progress = new Progress();
  const rows: ChaosRow[] = [];
  const t0 = performance.now();
  try {
    progress.scenario('starting its own broker');
    // Its own broker (the one the integration tests kill too): the benchmark kills it, so never the shared one.
    const broker = await OwnBroker.start({ port: cfg.port });
    onCleanup(`broker on ${broker.brokers}`, () => broker.stop());
    progress.phase('broker', `${broker.brokers} ready`);
    const ctx: ScenarioContext = { root, broker, cfg, progress, random: mulberry32(cfg.seed) };
    for (const name of cfg.scenarios) {
      progress.scenario(`${name} (${cfg.scenarios.indexOf(name) + 1}/${cfg.scenarios.length})`);
      let got: ChaosRow[];
      try {
        got = await SCENARIO_RUNS[name](ctx);
      } catch (err) {
        // One scenario failing to run (not streamcast failing: that is measured) leaves the others to run.
        got = [failedRow('—', `benchmark error: ${err instanceof Error ? err.message : String(err)}`, err instanceof Error ? (err.stack ?? '') : '', name)];
      }
      rows.push(...got);
      process.stderr.write(`\n${renderTable(got)}\n\n`);
      writeReport(cfg, rows, t0);
    }
  } finally {
    progress.stop();
    // Children left over (a scenario that threw) and the broker.
    runCleanups();
    removeHandlers();
  }
  process.stdout.write(`\n${renderTable(rows)}\n\n(JSON with details: ${cfg.out}; ${((performance.now() - t0) / 60_000).toFixed(1)} min)\n`);
  return [];
}

function writeReport(cfg: ChaosConfig, rows: readonly ChaosRow[], t0: number): void {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
  mkdirSync(dirname(cfg.out), { recursive: true });
  const report = { at: new Date().toISOString(), node: process.version, commit, minutes: (performance.now() - t0) / 60_000, config: cfg, rows };
  // Offsets are bigints; JSON has no such type.
  writeFileSync(cfg.out, `${JSON.stringify(report, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}
