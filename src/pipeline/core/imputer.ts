import { ConfigError, StreamcastError } from '../../domain/errors.js';
import type { EpochMs, SeriesId } from '../../domain/point.js';
import { SlotPages } from '../../domain/seriesSlots.js';
import type { ImputerSnapshot } from '../../state/coreSnapshots.js';
import { type HeldSlots, SeriesRegistry } from '../../state/seriesRegistry.js';
import type { ClosedStep, ImputedStep } from '../../domain/step.js';
import { IMPUTE_STRATEGIES, type ImputeStrategy } from '../../spec/pipelineSpec.js';

export type { ImputeStrategy };
/** The method that actually produced an imputed value (`seasonal` falls back to ffill). */
export type ImputeMethod = ImputeStrategy;

export interface ImputerOptions {
  readonly stepMs: number;
  readonly strategy: ImputeStrategy;
  /** The longest run of missing steps (in ms) that gets invented values; longer runs reset. */
  readonly maxGapMs: number;
  /** Season of `seasonal`; a whole number of steps. */
  readonly seasonMs: number;
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

// Per-series state, one Float64 record per slot (no object per series):
const LAST_TS = 0; // grid ts of the last step taken in (emitted, skipped or held back)
const OBS_TS = 1; // ts of the last real observation; NaN until the series' first non-null step
const OBS_VALUE = 2; // the last real observation
const RUN = 3; // missing grid steps since the last observation (holes + nulls, emitted or not)
const PENDING = 4; // `linear` only: explicit-null steps held back until the next observation
const STRIDE = 5;
// …plus one byte per slot: the current missing run exceeded maxGap (invent nothing more; the next
// observation resets), and for `seasonal` a Float64Array ring per slot: the value at each
// phase of the season (NaN: none yet).

/** The JSON-safe per-series state that `snapshot` returns and `restore` accepts. */
export type { ImputerSnapshot };

const zeroStats = (): { imputed: Record<ImputeMethod, number>; gapResets: number; skipped: number; stale: number } => ({
  imputed: { ffill: 0, linear: 0, seasonal: 0, zero: 0 },
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
 * a value), and `linear`.
 *
 * `linear` is NON-CAUSAL: it interpolates between the last and the next observation, so it holds
 * missing steps back until the next observation arrives (and drops them at flush). Use it to
 * prepare training data, not for live forecasting, where it delays every step after a hole.
 */
export class Imputer {
  private readonly opts: ImputerOptions;
  private readonly maxGapSteps: number;
  private readonly seasonSteps: number;
  readonly #slots: HeldSlots;
  readonly #state = new SlotPages(STRIDE, (n) => new Float64Array(n));
  readonly #broken = new SlotPages(1, (n) => new Uint8Array(n));
  /** Season rings by slot; only for `seasonal`. */
  readonly #rings: Float64Array[] | undefined;
  private stats = zeroStats();

  /** `registry`: the pipeline's series index, shared with its other per-series structures (default: its own). */
  constructor(opts: ImputerOptions, registry = new SeriesRegistry()) {
    validate(opts);
    this.#slots = registry.hold();
    registry.onDrop((series) => this.drop(series));
    this.opts = { ...opts };
    this.maxGapSteps = Math.floor(opts.maxGapMs / opts.stepMs);
    this.seasonSteps = Math.round(opts.seasonMs / opts.stepMs);
    this.#rings = opts.strategy === 'seasonal' ? [] : undefined;
  }

  get size(): number {
    return this.#slots.size;
  }

  /** Counters since the previous call (see ImputeStats); resets them. */
  takeStats(): ImputeStats {
    const s = this.stats;
    this.stats = zeroStats();
    return s;
  }

  push(step: ClosedStep): ImputedStep[] {
    const value = step.value !== null && Number.isFinite(step.value) ? step.value : null;
    let slot = this.#slots.get(step.series);
    if (step.rebase === true && slot !== undefined) {
      // The resampler moved the series back from a skewed clock: what is kept here (last step,
      // last value, season ring) lies in that clock's future. Start afresh, as a first step.
      this.drop(step.series);
      slot = undefined;
    }
    if (slot === undefined) {
      slot = this.#add(step.series, step.ts, Number.NaN, 0, 0, false, 0);
      if (this.#rings !== undefined) this.#rings[slot] = new Float64Array(this.seasonSteps).fill(Number.NaN);
    } else if (step.ts <= this.#state.page(slot)[this.#state.offset(slot) + LAST_TS]!) {
      this.stats.stale += 1;
      return [];
    }
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    const hole = Math.max(0, Math.round((step.ts - st[o + LAST_TS]!) / this.opts.stepMs) - 1);
    st[o + LAST_TS] = step.ts;
    const out: ImputedStep[] = [];
    const obsTs = st[o + OBS_TS]!;

    if (Number.isNaN(obsTs)) {
      if (value === null) {
        this.stats.skipped += 1;
        return out;
      }
      this.observe(slot, step.series, step.ts, value, true, out);
      return out;
    }

    if (this.opts.strategy === 'linear') {
      if (value === null) {
        st[o + PENDING]! += 1;
        st[o + RUN]! += hole + 1;
        return out;
      }
      const missing = Math.round((step.ts - obsTs) / this.opts.stepMs) - 1;
      if (missing <= this.maxGapSteps) {
        const x0 = st[o + OBS_VALUE]!;
        for (let i = 1; i <= missing; i += 1) {
          const v = x0 + ((value - x0) * i) / (missing + 1);
          out.push(this.invented(step.series, obsTs + i * this.opts.stepMs, v, i));
          this.stats.imputed.linear += 1;
        }
        this.observe(slot, step.series, step.ts, value, false, out);
      } else {
        this.stats.skipped += st[o + PENDING]!;
        this.stats.gapResets += 1;
        this.observe(slot, step.series, step.ts, value, true, out);
      }
      return out;
    }

    const broken = this.#broken.page(slot)[this.#broken.offset(slot)] === 1;
    if (value === null) {
      const run = st[o + RUN]! + hole + 1;
      if (!broken && run <= this.maxGapSteps) {
        this.fill(slot, step.series, step.ts - hole * this.opts.stepMs, hole + 1, out);
      } else {
        this.#broken.page(slot)[this.#broken.offset(slot)] = 1;
        this.stats.skipped += 1;
        st[o + RUN] = run;
      }
      return out;
    }
    if (!broken && st[o + RUN]! + hole <= this.maxGapSteps) {
      this.fill(slot, step.series, step.ts - hole * this.opts.stepMs, hole, out);
      this.observe(slot, step.series, step.ts, value, false, out);
    } else {
      this.stats.gapResets += 1;
      this.observe(slot, step.series, step.ts, value, true, out);
    }
    return out;
  }

  /**
   * End of a finite input. Causal strategies hold nothing back; `linear`'s held nulls have no
   * right-hand value to interpolate to and are dropped (counted as skipped).
   */
  flush(): ImputedStep[] {
    for (const slot of this.#slots.values()) {
      const st = this.#state.page(slot);
      const o = this.#state.offset(slot);
      this.stats.skipped += st[o + PENDING]!;
      st[o + PENDING] = 0;
    }
    return [];
  }

  snapshot(series: SeriesId): ImputerSnapshot | undefined {
    const slot = this.#slots.get(series);
    if (slot === undefined) return undefined;
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    const obsTs = st[o + OBS_TS]!;
    const ring = this.#rings?.[slot];
    return {
      v: 1,
      lastTs: st[o + LAST_TS]!,
      obsTs: Number.isNaN(obsTs) ? null : obsTs,
      obsValue: st[o + OBS_VALUE]!,
      run: st[o + RUN]!,
      broken: this.#broken.page(slot)[this.#broken.offset(slot)] === 1,
      pendingNulls: st[o + PENDING]!,
      ring: ring === undefined ? null : Array.from(ring, (x) => (Number.isNaN(x) ? null : x)),
    };
  }

  restore(series: SeriesId, snap: unknown): void {
    const s = parseSnapshot(snap);
    let ring: Float64Array | undefined;
    if (this.#rings !== undefined) {
      ring = new Float64Array(this.seasonSteps).fill(Number.NaN);
      // A ring from a different season length is meaningless per phase: start it empty.
      if (s.ring !== null && s.ring.length === this.seasonSteps) {
        s.ring.forEach((x, i) => {
          if (x !== null) ring![i] = x;
        });
      }
    }
    this.#slots.delete(series);
    const slot = this.#add(series, s.lastTs, s.obsTs ?? Number.NaN, s.obsValue, s.run, s.broken, s.pendingNulls);
    if (this.#rings !== undefined) this.#rings[slot] = ring!;
  }

  drop(series: SeriesId): void {
    const slot = this.#slots.delete(series);
    // The ring goes with the series (the slot is reused with a fresh one).
    if (slot !== undefined && this.#rings !== undefined) this.#rings[slot] = EMPTY_RING;
  }

  #add(series: SeriesId, lastTs: EpochMs, obsTs: number, obsValue: number, run: number, broken: boolean, pendingNulls: number): number {
    const slot = this.#slots.add(series);
    this.#state.ensure(slot);
    this.#broken.ensure(slot);
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    st[o + LAST_TS] = lastTs;
    st[o + OBS_TS] = obsTs;
    st[o + OBS_VALUE] = obsValue;
    st[o + RUN] = run;
    st[o + PENDING] = pendingNulls;
    this.#broken.page(slot)[this.#broken.offset(slot)] = broken ? 1 : 0;
    return slot;
  }

  private phase(ts: EpochMs): number {
    const g = Math.floor(ts / this.opts.stepMs);
    return ((g % this.seasonSteps) + this.seasonSteps) % this.seasonSteps;
  }

  /** Imputes `n` consecutive grid steps starting at `fromTs` (causal strategies). */
  private fill(slot: number, series: SeriesId, fromTs: EpochMs, n: number, out: ImputedStep[]): void {
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    const ring = this.#rings?.[slot];
    for (let i = 0; i < n; i += 1) {
      const ts = fromTs + i * this.opts.stepMs;
      const { value, method } = this.causalValue(st[o + OBS_VALUE]!, ring, ts);
      const run = st[o + RUN]! + 1;
      st[o + RUN] = run;
      if (ring !== undefined) ring[this.phase(ts)] = value;
      out.push(this.invented(series, ts, value, run));
      this.stats.imputed[method] += 1;
    }
  }

  private causalValue(obsValue: number, ring: Float64Array | undefined, ts: EpochMs): { value: number; method: ImputeMethod } {
    switch (this.opts.strategy) {
      case 'zero':
        return { value: 0, method: 'zero' };
      case 'seasonal':
        return this.seasonalValue(obsValue, ring, ts);
      default:
        return { value: obsValue, method: 'ffill' };
    }
  }

  private seasonalValue(obsValue: number, ring: Float64Array | undefined, ts: EpochMs): { value: number; method: ImputeMethod } {
    const v = ring?.[this.phase(ts)];
    if (v !== undefined && !Number.isNaN(v)) return { value: v, method: 'seasonal' };
    return { value: obsValue, method: 'ffill' };
  }

  private observe(slot: number, series: SeriesId, ts: EpochMs, value: number, reset: boolean, out: ImputedStep[]): void {
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    st[o + OBS_TS] = ts;
    st[o + OBS_VALUE] = value;
    st[o + RUN] = 0;
    st[o + PENDING] = 0;
    this.#broken.page(slot)[this.#broken.offset(slot)] = 0;
    const ring = this.#rings?.[slot];
    if (ring !== undefined) ring[this.phase(ts)] = value;
    out.push({ series, ts, value, observed: true, imputed: false, sinceObserved: 0, reset });
  }

  private invented(series: SeriesId, ts: EpochMs, value: number, sinceObserved: number): ImputedStep {
    return { series, ts, value, observed: false, imputed: true, sinceObserved, reset: false };
  }
}

const EMPTY_RING = new Float64Array(0);

function validate(o: ImputerOptions): void {
  const fail = (msg: string): never => {
    throw new ConfigError(`impute: ${msg}`);
  };
  if (!Number.isInteger(o.stepMs) || o.stepMs <= 0) fail(`step must be a positive whole number of ms (got ${o.stepMs})`);
  if (!IMPUTE_STRATEGIES.includes(o.strategy)) fail(`strategy must be one of ${IMPUTE_STRATEGIES.join(', ')} (got ${String(o.strategy)})`);
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
