import { join, resolve } from 'node:path';

export const SCENARIOS = ['kill9', 'broker', 'poison', 'cardinality'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * What the chaos benchmark runs and at what size: parsed once from its arguments and the
 * environment (BENCH_CHAOS_*), frozen. Defaults are the full run (about 15 minutes on the 2-core
 * machine); small values give a quick check, e.g.
 * `BENCH_CHAOS_SERIES=2000 BENCH_CHAOS_KILLS=1 BENCH_CHAOS_OUTAGES=5 npm run bench -- chaos`.
 */
export interface ChaosConfig {
  readonly scenarios: readonly ScenarioName[];
  /** Where the JSON of the table goes (`--out <path>`, BENCH_CHAOS_OUT). */
  readonly out: string;
  /** Seeds the moments of the kills (BENCH_CHAOS_SEED). */
  readonly seed: number;
  /** Broker port (BENCH_CHAOS_PORT); a free one when unset. Never the shared 9092. */
  readonly port: number | undefined;
  /**
   * Seconds any one wait may last (recovery, catch-up, drain) before the benchmark reports what
   * it saw and moves on (BENCH_CHAOS_WAIT_S), so a hung process never hangs the benchmark.
   */
  readonly waitS: number;
  readonly kill9: {
    /** Series of the steady input, one point per series and step (BENCH_CHAOS_KILL_SERIES). */
    readonly series: number;
    /** Points per second of the steady input (BENCH_CHAOS_RATE). */
    readonly rate: number;
    /** kill -9s per guarantee (BENCH_CHAOS_KILLS). */
    readonly kills: number;
    /** Seconds of processing after a recovery before the next kill: uniform in [min, max]. */
    readonly gapS: readonly [number, number];
  };
  readonly broker: {
    /** Broker outages to measure, in seconds (BENCH_CHAOS_OUTAGES, e.g. "15,60"). */
    readonly outagesS: readonly number[];
    readonly series: number;
    readonly rate: number;
    /** Seconds of steady input before the broker is killed and again after it is back. */
    readonly phaseS: number;
  };
  readonly poison: {
    /** Nesting depth of the poison element (BENCH_CHAOS_POISON_DEPTH). */
    readonly depth: number;
    readonly series: number;
    readonly steps: number;
    /** Times a streamcast process that exits is started again (BENCH_CHAOS_POISON_RESTARTS). */
    readonly restarts: number;
  };
  readonly cardinality: {
    /** Distinct series, one point each (BENCH_CHAOS_SERIES). */
    readonly series: number;
    /** Share of them that get `extraPoints` more points (one per following step). */
    readonly extraShare: number;
    readonly extraPoints: number;
    /** Seconds the input may take to drain before it is reported as not drained (BENCH_CHAOS_DRAIN_S). */
    readonly drainS: number;
  };
}

export class ChaosConfigError extends Error {}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new ChaosConfigError(`${name}=${raw}: expected a number ≥ ${min}`);
  return n;
}

/** `args`: scenario names and `--out <path>` / `--out=<path>`, as given after `chaos`. */
export function chaosConfigFrom(args: readonly string[], env: NodeJS.ProcessEnv, root: string): ChaosConfig {
  const scenarios: ScenarioName[] = [];
  let out = env['BENCH_CHAOS_OUT'] ?? join(root, '.cache', 'bench-chaos.json');
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--out') {
      const v = args[++i];
      if (v === undefined) throw new ChaosConfigError('--out needs a path, e.g. --out .cache/chaos.json');
      out = resolve(v);
    } else if (a.startsWith('--out=')) out = resolve(a.slice('--out='.length));
    else if ((SCENARIOS as readonly string[]).includes(a)) scenarios.push(a as ScenarioName);
    else throw new ChaosConfigError(`unknown chaos argument "${a}"; scenarios: ${SCENARIOS.join(', ')}; option: --out <path>`);
  }
  const outages = (env['BENCH_CHAOS_OUTAGES'] ?? '15,60').split(',').map((s) => Number(s.trim()));
  if (outages.some((s) => !Number.isFinite(s) || s <= 0)) throw new ChaosConfigError(`BENCH_CHAOS_OUTAGES=${env['BENCH_CHAOS_OUTAGES']}: expected seconds, e.g. 15,60`);
  const port = env['BENCH_CHAOS_PORT'];
  if (port === '9092') throw new ChaosConfigError('BENCH_CHAOS_PORT=9092 is the shared broker; the chaos benchmark kills its broker, so it needs one of its own');
  return Object.freeze({
    scenarios: scenarios.length > 0 ? scenarios : [...SCENARIOS],
    out,
    seed: num(env, 'BENCH_CHAOS_SEED', 42),
    port: port === undefined || port === '' ? undefined : num(env, 'BENCH_CHAOS_PORT', 0, 1024),
    waitS: num(env, 'BENCH_CHAOS_WAIT_S', 60, 5),
    kill9: Object.freeze({
      series: num(env, 'BENCH_CHAOS_KILL_SERIES', 100, 1),
      rate: num(env, 'BENCH_CHAOS_RATE', 500, 1),
      kills: num(env, 'BENCH_CHAOS_KILLS', 3, 1),
      gapS: [3, 10] as const,
    }),
    broker: Object.freeze({ outagesS: outages, series: num(env, 'BENCH_CHAOS_KILL_SERIES', 100, 1), rate: num(env, 'BENCH_CHAOS_RATE', 500, 1), phaseS: 10 }),
    poison: Object.freeze({ depth: num(env, 'BENCH_CHAOS_POISON_DEPTH', 5000, 1), series: 20, steps: 40, restarts: num(env, 'BENCH_CHAOS_POISON_RESTARTS', 3, 0) }),
    cardinality: Object.freeze({ series: num(env, 'BENCH_CHAOS_SERIES', 200_000, 1), extraShare: 0.1, extraPoints: 5, drainS: num(env, 'BENCH_CHAOS_DRAIN_S', 240, 5) }),
  });
}
