import { ConfigError, StreamcastError } from '../../domain/errors.js';
import type { EpochMs, SeriesId } from '../../domain/point.js';
import type { ClosedStep, ImputedStep } from '../../domain/step.js';

export type ImputeStrategy = 'model' | 'ffill' | 'linear' | 'seasonal' | 'zero';
/** The method that actually produced an imputed value (`model` falls back to seasonal, then ffill). */
export type ImputeMethod = ImputeStrategy;

export interface ImputerOptions {
  readonly stepMs: number;
  readonly strategy: ImputeStrategy;
  /** The longest run of missing steps (in ms) that gets invented values; longer runs reset. */
  readonly maxGapMs: number;
  /** Season of `seasonal` (and of `model`'s fallback); a whole number of steps. */
  readonly seasonMs: number;
  /** `model` strategy: a forecast for (series, ts), or undefined when the model has none. */
  readonly modelHook?: (series: SeriesId, ts: EpochMs) => number | undefined;
}

/** Counters since the last `takeStats()`; the caller maps them to metrics. */
export interface ImputeStats {
  /** Imputed steps emitted, by the method that produced the value. */
  readonly imputed: Record<ImputeMethod, number>;
  /** Steps emitted with `reset: true` because a missing run exceeded maxGap (not first steps). */
  readonly gapResets: number;
  /** Explicit-null steps that were not emitted: before a series' first value, past maxGap, or held by `linear` at flush. */
  readonly skipped: number;
  /** Steps at or before the series' last step (out of order or duplicate), ignored. */
  readonly stale: number;
}

interface SeriesState {
  /** Grid ts of the last step taken in (emitted, skipped or held back). */
  lastTs: EpochMs;
  /** Last real observation; undefined until the series' first non-null step. */
  obsTs: EpochMs | undefined;
  obsValue: number;
  /** Missing grid steps since the last observation (holes + nulls, emitted or not). */
  run: number;
  /** The current missing run exceeded maxGap: invent nothing more; the next observation resets. */
  broken: boolean;
  /** `linear` only: explicit-null steps held back until the next observation. */
  pendingNulls: number;
  /** Value at each phase of the season (NaN: none yet); only for `seasonal` and `model`. */
  ring: Float64Array | undefined;
}

/** The JSON-safe per-series state that `snapshot` returns and `restore` accepts. */
export interface ImputerSnapshot {
  readonly v: 1;
  readonly lastTs: number;
  readonly obsTs: number | null;
  readonly obsValue: number;
  readonly run: number;
  readonly broken: boolean;
  readonly pendingNulls: number;
  /** Season ring; `null` entries are empty phases. */
  readonly ring: ReadonlyArray<number | null> | null;
}

const STRATEGIES: readonly ImputeStrategy[] = ['model', 'ffill', 'linear', 'seasonal', 'zero'];

const zeroStats = (): { imputed: Record<ImputeMethod, number>; gapResets: number; skipped: number; stale: number } => ({
  imputed: { model: 0, ffill: 0, linear: 0, seasonal: 0, zero: 0 },
  gapResets: 0,
  skipped: 0,
  stale: 0,
});

/**
 * Fills the holes of each series' step grid and marks what was invented.
 *
 * Between two steps of a series, the missing grid steps (holes, and steps whose value is null)
 * form a missing run. A run of at most maxGap is filled (`observed: false`); beyond that no value
 * is invented and the next observed step carries `reset: true` (so does a series' first step):
 * downstream per-series state should start afresh rather than trust a day of made-up values.
 * Causal strategies decide step by step, so a null run that outgrows maxGap keeps the values
 * already emitted for its first maxGap steps. A series that starts with nulls has nothing to fill
 * from: those steps are skipped (counted), never emitted as NaN.
 *
 * Strategies: `ffill` (last observation), `zero`, `seasonal` (the value — observed or imputed —
 * at the same phase one season ago, from a per-series Float64Array ring of season length; after
 * a reset gap that may be an older season, which still beats nothing; ffill until the phase has
 * a value), `model` (modelHook, else seasonal, else ffill), and `linear`.
 *
 * `linear` is NON-CAUSAL: it interpolates between the last and the next observation, so it holds
 * missing steps back until the next observation arrives (and drops them at flush). Use it to
 * prepare training data, not for live forecasting, where it delays every step after a hole.
 */
export class Imputer {
  private readonly opts: ImputerOptions;
  private readonly maxGapSteps: number;
  private readonly seasonSteps: number;
  private readonly states = new Map<SeriesId, SeriesState>();
  private stats = zeroStats();

  constructor(opts: ImputerOptions) {
    validate(opts);
    this.opts = { ...opts };
    this.maxGapSteps = Math.floor(opts.maxGapMs / opts.stepMs);
    this.seasonSteps = Math.round(opts.seasonMs / opts.stepMs);
  }

  get size(): number {
    return this.states.size;
  }

  /** Counters since the previous call (see ImputeStats); resets them. */
  takeStats(): ImputeStats {
    const s = this.stats;
    this.stats = zeroStats();
    return s;
  }

  push(step: ClosedStep): ImputedStep[] {
    const value = step.value !== null && Number.isFinite(step.value) ? step.value : null;
    let st = this.states.get(step.series);
    if (st === undefined) {
      st = {
        lastTs: step.ts,
        obsTs: undefined,
        obsValue: 0,
        run: 0,
        broken: false,
        pendingNulls: 0,
        ring: this.usesRing() ? new Float64Array(this.seasonSteps).fill(Number.NaN) : undefined,
      };
      this.states.set(step.series, st);
    } else if (step.ts <= st.lastTs) {
      this.stats.stale += 1;
      return [];
    }
    const hole = Math.max(0, Math.round((step.ts - st.lastTs) / this.opts.stepMs) - 1);
    st.lastTs = step.ts;
    const out: ImputedStep[] = [];

    if (st.obsTs === undefined) {
      if (value === null) {
        this.stats.skipped += 1;
        return out;
      }
      this.observe(st, step.series, step.ts, value, true, out);
      return out;
    }

    if (this.opts.strategy === 'linear') {
      if (value === null) {
        st.pendingNulls += 1;
        st.run += hole + 1;
        return out;
      }
      const missing = Math.round((step.ts - st.obsTs) / this.opts.stepMs) - 1;
      if (missing <= this.maxGapSteps) {
        const x0 = st.obsValue;
        for (let i = 1; i <= missing; i += 1) {
          const v = x0 + ((value - x0) * i) / (missing + 1);
          out.push(this.invented(step.series, st.obsTs + i * this.opts.stepMs, v, i));
          this.stats.imputed.linear += 1;
        }
        this.observe(st, step.series, step.ts, value, false, out);
      } else {
        this.stats.skipped += st.pendingNulls;
        this.stats.gapResets += 1;
        this.observe(st, step.series, step.ts, value, true, out);
      }
      return out;
    }

    if (value === null) {
      const run = st.run + hole + 1;
      if (!st.broken && run <= this.maxGapSteps) {
        this.fill(st, step.series, step.ts - hole * this.opts.stepMs, hole + 1, out);
      } else {
        st.broken = true;
        this.stats.skipped += 1;
        st.run = run;
      }
      return out;
    }
    if (!st.broken && st.run + hole <= this.maxGapSteps) {
      this.fill(st, step.series, step.ts - hole * this.opts.stepMs, hole, out);
      this.observe(st, step.series, step.ts, value, false, out);
    } else {
      this.stats.gapResets += 1;
      this.observe(st, step.series, step.ts, value, true, out);
    }
    return out;
  }

  /**
   * End of a finite input. Causal strategies hold nothing back; `linear`'s held nulls have no
   * right-hand value to interpolate to and are dropped (counted as skipped).
   */
  flush(): ImputedStep[] {
    for (const st of this.states.values()) {
      this.stats.skipped += st.pendingNulls;
      st.pendingNulls = 0;
    }
    return [];
  }

  snapshot(series: SeriesId): ImputerSnapshot | undefined {
    const st = this.states.get(series);
    if (st === undefined) return undefined;
    return {
      v: 1,
      lastTs: st.lastTs,
      obsTs: st.obsTs ?? null,
      obsValue: st.obsValue,
      run: st.run,
      broken: st.broken,
      pendingNulls: st.pendingNulls,
      ring: st.ring === undefined ? null : Array.from(st.ring, (x) => (Number.isNaN(x) ? null : x)),
    };
  }

  restore(series: SeriesId, snap: unknown): void {
    const s = parseSnapshot(snap);
    let ring: Float64Array | undefined;
    if (this.usesRing()) {
      ring = new Float64Array(this.seasonSteps).fill(Number.NaN);
      // A ring from a different season length is meaningless per phase: start it empty.
      if (s.ring !== null && s.ring.length === this.seasonSteps) {
        s.ring.forEach((x, i) => {
          if (x !== null) ring![i] = x;
        });
      }
    }
    this.states.set(series, {
      lastTs: s.lastTs,
      obsTs: s.obsTs ?? undefined,
      obsValue: s.obsValue,
      run: s.run,
      broken: s.broken,
      pendingNulls: s.pendingNulls,
      ring,
    });
  }

  drop(series: SeriesId): void {
    this.states.delete(series);
  }

  private usesRing(): boolean {
    return this.opts.strategy === 'seasonal' || this.opts.strategy === 'model';
  }

  private phase(ts: EpochMs): number {
    const g = Math.floor(ts / this.opts.stepMs);
    return ((g % this.seasonSteps) + this.seasonSteps) % this.seasonSteps;
  }

  /** Imputes `n` consecutive grid steps starting at `fromTs` (causal strategies). */
  private fill(st: SeriesState, series: SeriesId, fromTs: EpochMs, n: number, out: ImputedStep[]): void {
    for (let i = 0; i < n; i += 1) {
      const ts = fromTs + i * this.opts.stepMs;
      const { value, method } = this.causalValue(st, series, ts);
      st.run += 1;
      if (st.ring !== undefined) st.ring[this.phase(ts)] = value;
      out.push(this.invented(series, ts, value, st.run));
      this.stats.imputed[method] += 1;
    }
  }

  private causalValue(st: SeriesState, series: SeriesId, ts: EpochMs): { value: number; method: ImputeMethod } {
    switch (this.opts.strategy) {
      case 'zero':
        return { value: 0, method: 'zero' };
      case 'model': {
        const v = this.opts.modelHook?.(series, ts);
        if (v !== undefined && Number.isFinite(v)) return { value: v, method: 'model' };
        return this.seasonalValue(st, ts);
      }
      case 'seasonal':
        return this.seasonalValue(st, ts);
      default:
        return { value: st.obsValue, method: 'ffill' };
    }
  }

  private seasonalValue(st: SeriesState, ts: EpochMs): { value: number; method: ImputeMethod } {
    const v = st.ring?.[this.phase(ts)];
    if (v !== undefined && !Number.isNaN(v)) return { value: v, method: 'seasonal' };
    return { value: st.obsValue, method: 'ffill' };
  }

  private observe(st: SeriesState, series: SeriesId, ts: EpochMs, value: number, reset: boolean, out: ImputedStep[]): void {
    st.obsTs = ts;
    st.obsValue = value;
    st.run = 0;
    st.broken = false;
    st.pendingNulls = 0;
    if (st.ring !== undefined) st.ring[this.phase(ts)] = value;
    out.push({ series, ts, value, observed: true, imputed: false, sinceObserved: 0, reset });
  }

  private invented(series: SeriesId, ts: EpochMs, value: number, sinceObserved: number): ImputedStep {
    return { series, ts, value, observed: false, imputed: true, sinceObserved, reset: false };
  }
}

function validate(o: ImputerOptions): void {
  const fail = (msg: string): never => {
    throw new ConfigError(`impute: ${msg}`);
  };
  if (!Number.isInteger(o.stepMs) || o.stepMs <= 0) fail(`step must be a positive whole number of ms (got ${o.stepMs})`);
  if (!STRATEGIES.includes(o.strategy)) fail(`strategy must be one of ${STRATEGIES.join(', ')} (got ${String(o.strategy)})`);
  if (!Number.isFinite(o.maxGapMs) || o.maxGapMs < 0) fail(`maxGap must be ≥ 0 ms (got ${o.maxGapMs})`);
  if (!Number.isInteger(o.seasonMs) || o.seasonMs < o.stepMs || o.seasonMs % o.stepMs !== 0) {
    fail(`season must be a whole number of steps (step = ${o.stepMs} ms, got ${o.seasonMs})`);
  }
}

function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function parseSnapshot(x: unknown): ImputerSnapshot {
  const bad = (what: string): never => {
    // Operator action: the stored state is from an incompatible version or corrupt; drop the
    // series' changelog entry and let it rebuild from new steps.
    throw new StreamcastError('fatal', `imputer snapshot is invalid: ${what}`);
  };
  if (typeof x !== 'object' || x === null) return bad('not an object');
  const o = x as Record<string, unknown>;
  if (o['v'] !== 1) bad(`unknown version ${String(o['v'])}`);
  for (const k of ['lastTs', 'obsValue', 'run', 'pendingNulls'] as const) if (!isNum(o[k])) bad(k);
  if (!(o['obsTs'] === null || isNum(o['obsTs']))) bad('obsTs');
  if (typeof o['broken'] !== 'boolean') bad('broken');
  const ring = o['ring'];
  if (ring !== null && !(Array.isArray(ring) && ring.every((e) => e === null || isNum(e)))) bad('ring');
  return x as ImputerSnapshot;
}
