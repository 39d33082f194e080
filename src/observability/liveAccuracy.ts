import type { Forecast, ModelKind, QuantileKey } from '../domain/forecast.js';
import type { EpochMs, SeriesId } from '../domain/point.js';
import { SeriesSlots, SlotPages, pageBitsFor } from '../domain/seriesSlots.js';
import type { ImputedStep } from '../domain/step.js';
import type { EventListener } from './events.js';

/**
 * `model` label values of the live accuracy metrics. Live scoring compares the model the
 * pipeline serves with the spec's one baseline, so the label is the role, not the baseline's
 * name (backtest reports name every baseline; live there is exactly one). Dashboards and alerts
 * compute skill as 1 − MAE{model="gru"} / MAE{model="baseline"}.
 */
export const GRU_MODEL = 'gru';
export const BASELINE_MODEL = 'baseline';

/** The `model` label for forecasts of this kind. */
export function modelLabel(kind: ModelKind): string {
  return kind === 'gru' ? GRU_MODEL : BASELINE_MODEL;
}

/** One forecast cell scored against its actual; what InfluxDB history keeps per cell. */
export interface ScoredCell {
  readonly series: SeriesId;
  readonly model: string;
  readonly h: number;
  /** The target step (the actual's timestamp). */
  readonly ts: EpochMs;
  readonly actual: number;
  readonly mean: number;
  readonly absError: number;
  /** Present when the forecast had at least two quantiles: whether the actual fell in [lowest, highest]. */
  readonly inInterval?: boolean;
  /** absError over the series' scale (see LiveAccuracy), when that scale is known and non-zero. */
  readonly scaledError?: number;
}

export interface LiveAccuracyOptions {
  readonly events: EventListener;
  /**
   * Models whose counters should exist (at 0) before anything is scored, with `horizon` and
   * `interval`: rate() and alerts then see the series, and a model that is configured but not
   * yet serving (the GRU before its first promotion) shows as "nothing scored", not as missing.
   */
  readonly models?: readonly string[];
  readonly horizon?: number;
  /** Interval label of the zero series, e.g. "0.1-0.9" (lowest-highest quantile). */
  readonly interval?: string;
}

/**
 * The outermost quantile keys and their label, "0.1-0.9" for keys {0.1, 0.5, 0.9}; undefined
 * with fewer than two quantiles.
 */
export function outerInterval(keys: readonly string[]): { lo: string; hi: string; label: string } | undefined {
  if (keys.length < 2) return undefined;
  let lo = keys[0]!;
  let hi = keys[0]!;
  for (const k of keys) {
    if (Number(k) < Number(lo)) lo = k;
    if (Number(k) > Number(hi)) hi = k;
  }
  return { lo, hi, label: `${lo}-${hi}` };
}


/** What the cells of remembered forecasts share, kept once: per horizon its h, outermost quantile keys and interval label. */
interface CellShape {
  readonly id: number;
  readonly key: string;
  readonly hs: readonly number[];
  /** Per cell its quantile keys in order, to recognise the next forecast of this shape without sorting. */
  readonly keys: readonly (readonly QuantileKey[])[];
  readonly lo: readonly (QuantileKey | undefined)[];
  readonly hi: readonly (QuantileKey | undefined)[];
  /** Undefined for a cell with fewer than two quantiles (no interval). */
  readonly labels: readonly (string | undefined)[];
  /** Records that use it; at 0 it is forgotten. */
  refs: number;
}

/** "No record" in a record link (links are stored + 1, so that a zeroed page means none). */
const NONE = -1;
/** Per series: the previous step's value (NaN when it was not observed), the sum and count of absolute changes. */
const PREV = 0;
const SUM = 1;
const COUNT = 2;
/** Per record (int32): the next record of its series + 1, its model, its shape (-1: free). */
const NEXT = 0;
const MODEL = 1;
const SHAPE = 2;
/** Per record (float64): the origin, then per cell its target ts (NaN: gone), mean, lowest and highest quantile. */
const CELL = 4;

/** One batch's scores, aggregated per model and horizon (errors) or per model and interval (coverage). */
class BatchTally {
  readonly scored: ScoredCell[] = [];
  readonly errors = new Map<string, { model: string; h: number; sum: number; count: number }>();
  readonly coverage = new Map<string, { model: string; interval: string; hits: number; total: number }>();
  readonly scaledErrors = new Map<string, { model: string; h: number; sum: number; count: number }>();

  score(step: ImputedStep, model: string, h: number, mean: number, lo: number, hi: number, label: string | undefined, scale: number): void {
    const absError = Math.abs(step.value - mean);
    if (!Number.isFinite(absError)) return;
    const ek = `${model}\u0000${h}`;
    const e = this.errors.get(ek);
    if (e === undefined) this.errors.set(ek, { model, h, sum: absError, count: 1 });
    else {
      e.sum += absError;
      e.count++;
    }
    // A constant series so far has no scale: its errors cannot be made unit-free yet.
    const scaledError = scale > 0 && Number.isFinite(absError / scale) ? absError / scale : undefined;
    if (scaledError !== undefined) {
      const se = this.scaledErrors.get(ek);
      if (se === undefined) this.scaledErrors.set(ek, { model, h, sum: scaledError, count: 1 });
      else {
        se.sum += scaledError;
        se.count++;
      }
    }
    const interval = label !== undefined && Number.isFinite(lo) && Number.isFinite(hi) ? label : undefined;
    let inInterval: boolean | undefined;
    if (interval !== undefined) {
      inInterval = step.value >= lo && step.value <= hi;
      const ck = `${model}\u0000${interval}`;
      const cv = this.coverage.get(ck);
      if (cv === undefined) this.coverage.set(ck, { model, interval, hits: inInterval ? 1 : 0, total: 1 });
      else {
        cv.total++;
        if (inInterval) cv.hits++;
      }
    }
    this.scored.push({
      series: step.series,
      model,
      h,
      ts: step.ts,
      actual: step.value,
      mean,
      absError,
      ...(inInterval !== undefined ? { inInterval } : {}),
      ...(scaledError !== undefined ? { scaledError } : {}),
    });
  }

  emit(events: EventListener): void {
    for (const e of this.errors.values()) events({ type: 'forecast_error', model: e.model, horizon: e.h, absErrorSum: e.sum, count: e.count });
    for (const c of this.coverage.values()) events({ type: 'interval_coverage', model: c.model, interval: c.interval, hits: c.hits, total: c.total });
    for (const e of this.scaledErrors.values()) events({ type: 'scaled_forecast_error', model: e.model, horizon: e.h, scaledErrorSum: e.sum, count: e.count });
  }
}

/**
 * Live prequential accuracy. Fed each micro-batch's steps together with the forecasts every
 * scored model made for them (the served model, and the baseline when it runs beside it), it
 * keeps each forecast cell until its target step arrives, scores it against the observed value
 * and emits `forecast_error` (per model and horizon) and `interval_coverage` (per model)
 * events, aggregated per batch.
 *
 * Only observed steps are actuals: an imputed value is the pipeline's own guess, and scoring
 * against it would reward models that agree with the imputer. A cell is forgotten once a step at
 * or after its target has been seen, so a series keeps at most about `horizon` forecasts per
 * model. Series that stop arriving keep their cells until `drop(series)`: call it whenever the
 * state store drops a series (evicted, expired, revoked), or this grows with every series seen.
 *
 * Memory: a series is a dense slot (src/domain/seriesSlots.ts) with its scale in a float64 page;
 * each pending forecast is one record of float64s (origin, then target, mean, lowest and highest
 * quantile per horizon: 392 B at horizon 12) in pages indexed by record, linked per series in
 * the order remembered; what forecasts share (h, quantile keys, interval label) is kept once per
 * shape. The Map of target steps with an array of cell objects per target that this replaced
 * cost ~3 KB for a series' one forecast of 12 horizons (boxed numbers, Map tables).
 *
 * A second forecast of the same model and origin (a replayed batch) replaces the first, cell by
 * cell; a series' cells of one target are scored in the order their forecasts were remembered.
 *
 * This file is over 400 lines because the pending-forecast records, their shared shapes and the scoring that
 * reads them are one typed-array layout (see the class comment); the helpers above are small.
 */
export class LiveAccuracy {
  readonly #series = new SeriesSlots();
  readonly #scales = new SlotPages(3, (n) => new Float64Array(n));
  /** Per series slot, its first record + 1 (0: none). */
  readonly #heads = new SlotPages(1, (n) => new Int32Array(n));
  readonly #meta = new SlotPages(3, (n) => new Int32Array(n));
  /** Cells a record has room for; grows (a copy of every record) when a forecast has more horizons. */
  #cells: number;
  #values: SlotPages<Float64Array>;
  #records = 0;
  readonly #freeRecords: number[] = [];
  readonly #models: string[] = [];
  readonly #modelIds = new Map<string, number>();
  readonly #shapes: (CellShape | undefined)[] = [];
  readonly #shapeIds = new Map<string, number>();
  readonly #freeShapes: number[] = [];
  #lastShape: CellShape | undefined;

  constructor(private readonly opts: LiveAccuracyOptions) {
    const { events, models = [], horizon = 0, interval } = opts;
    for (const model of models) {
      for (let h = 1; h <= horizon; h++) {
        events({ type: 'forecast_error', model, horizon: h, absErrorSum: 0, count: 0 });
        events({ type: 'scaled_forecast_error', model, horizon: h, scaledErrorSum: 0, count: 0 });
      }
      if (interval !== undefined) events({ type: 'interval_coverage', model, interval, hits: 0, total: 0 });
    }
    this.#cells = Math.max(1, horizon);
    this.#values = recordPages(this.#cells);
  }

  /**
   * Scores `steps` (in order) against pending forecasts, then remembers the forecasts made at
   * them. `forecastsByModel` maps a model label to that model's forecasts for this batch (any
   * order; matched to steps by series and timestamp). Returns the cells scored in this batch.
   */
  observe(steps: readonly ImputedStep[], forecastsByModel: ReadonlyMap<string, readonly Forecast[]>): ScoredCell[] {
    // Forecasts made at each (series, ts), so that a later step of the same series in this very
    // batch can score a forecast made at an earlier one.
    const madeAt = new Map<string, { model: string; forecast: Forecast }[]>();
    for (const [model, forecasts] of forecastsByModel) {
      for (const forecast of forecasts) {
        const k = originKey(forecast.series, forecast.ts);
        const list = madeAt.get(k);
        if (list === undefined) madeAt.set(k, [{ model, forecast }]);
        else list.push({ model, forecast });
      }
    }

    const tally = new BatchTally();
    for (const step of steps) {
      let slot = this.#series.get(step.series);
      if (slot === undefined) slot = this.#addSeries(step.series);
      else this.#score(slot, step, tally);
      this.#learnScale(slot, step);
      const k = originKey(step.series, step.ts);
      const made = madeAt.get(k);
      if (made !== undefined) {
        madeAt.delete(k);
        for (const m of made) this.#remember(m.model, m.forecast);
      }
    }
    // Forecasts whose step was not in `steps` (a caller passing them separately) still count.
    for (const made of madeAt.values()) for (const m of made) this.#remember(m.model, m.forecast);
    tally.emit(this.opts.events);
    return tally.scored;
  }

  /** Forgets a series' pending cells and scale. */
  drop(series: SeriesId): void {
    const slot = this.#series.get(series);
    if (slot === undefined) return;
    const heads = this.#heads.page(slot);
    const ho = this.#heads.offset(slot);
    for (let r = heads[ho]! - 1; r !== NONE; ) {
      const next = this.#meta.page(r)[this.#meta.offset(r) + NEXT]! - 1;
      this.#freeRecord(r);
      r = next;
    }
    heads[ho] = 0;
    this.#series.delete(series);
  }

  /** The scale of a series so far (mean absolute change between consecutive observed steps), or undefined. */
  scaleOf(series: SeriesId): number | undefined {
    const slot = this.#series.get(series);
    if (slot === undefined) return undefined;
    const s = this.#scales.page(slot);
    const o = this.#scales.offset(slot);
    return s[o + COUNT] === 0 ? undefined : s[o + SUM]! / s[o + COUNT]!;
  }

  /** Series with a scale or pending cells (each until `drop`). */
  get seriesCount(): number {
    return this.#series.size;
  }

  /** Cells waiting for their actual, over all series (for tests and memory accounting). */
  get pendingCells(): number {
    let n = 0;
    for (let r = 0; r < this.#records; r++) {
      const shape = this.#meta.page(r)[this.#meta.offset(r) + SHAPE]!;
      if (shape < 0) continue;
      const v = this.#values.page(r);
      const vo = this.#values.offset(r) + 1;
      for (let i = 0; i < this.#shapes[shape]!.hs.length; i++) if (!Number.isNaN(v[vo + i * CELL]!)) n++;
    }
    return n;
  }

  #addSeries(series: SeriesId): number {
    const slot = this.#series.add(series);
    this.#scales.ensure(slot);
    this.#heads.ensure(slot);
    const s = this.#scales.page(slot);
    const o = this.#scales.offset(slot);
    s[o + PREV] = Number.NaN;
    s[o + SUM] = 0;
    s[o + COUNT] = 0;
    this.#heads.page(slot)[this.#heads.offset(slot)] = 0;
    return slot;
  }

  /** Scores the series' cells whose target is this step, and forgets every cell whose target has passed. */
  #score(slot: number, step: ImputedStep, tally: BatchTally): void {
    // The scale from the steps before this one only (prequential, like the forecasts).
    const s = this.#scales.page(slot);
    const so = this.#scales.offset(slot);
    const scale = s[so + COUNT]! > 0 ? s[so + SUM]! / s[so + COUNT]! : 0;
    const scorable = step.observed && Number.isFinite(step.value);
    const ts = step.ts;
    const heads = this.#heads.page(slot);
    const ho = this.#heads.offset(slot);
    let prev = NONE;
    for (let r = heads[ho]! - 1; r !== NONE; ) {
      const meta = this.#meta.page(r);
      const mo = this.#meta.offset(r);
      const next = meta[mo + NEXT]! - 1;
      const shape = this.#shapes[meta[mo + SHAPE]!]!;
      const v = this.#values.page(r);
      let live = 0;
      for (let i = 0, o = this.#values.offset(r) + 1; i < shape.hs.length; i++, o += CELL) {
        const target = v[o]!;
        if (!(target <= ts)) {
          if (!Number.isNaN(target)) live++;
          continue;
        }
        if (target === ts && scorable) tally.score(step, this.#models[meta[mo + MODEL]!]!, shape.hs[i]!, v[o + 1]!, v[o + 2]!, v[o + 3]!, shape.labels[i], scale);
        // The target has passed (scored, or imputed and so never scorable): forget it.
        v[o] = Number.NaN;
      }
      if (live === 0) {
        this.#unlink(slot, prev, next);
        this.#freeRecord(r);
      } else prev = r;
      r = next;
    }
  }

  #learnScale(slot: number, step: ImputedStep): void {
    const s = this.#scales.page(slot);
    const o = this.#scales.offset(slot);
    // Only changes between two observed neighbours: an imputed value is the pipeline's own guess.
    if (!step.observed || !Number.isFinite(step.value)) {
      s[o + PREV] = Number.NaN;
      return;
    }
    const prev = s[o + PREV]!;
    if (!Number.isNaN(prev)) {
      const d = Math.abs(step.value - prev);
      if (Number.isFinite(d)) {
        s[o + SUM] = s[o + SUM]! + d;
        s[o + COUNT] = s[o + COUNT]! + 1;
      }
    }
    s[o + PREV] = step.value;
  }

  #remember(model: string, f: Forecast): void {
    let modelId = this.#modelIds.get(model);
    if (modelId === undefined) {
      modelId = this.#models.push(model) - 1;
      this.#modelIds.set(model, modelId);
    }
    const shape = this.#shapeOf(f);
    if (f.forecast.length > this.#cells) this.#widen(f.forecast.length);
    const slot = this.#series.get(f.series) ?? this.#addSeries(f.series);
    const heads = this.#heads.page(slot);
    const ho = this.#heads.offset(slot);
    // Records of this model and origin are a replayed batch's predecessors: a record of the same
    // shape takes the finite cells in place; from any other the cells this forecast has again are
    // removed (and added with a new record below).
    let prev = NONE;
    let last = NONE;
    let replaced = false;
    for (let r = heads[ho]! - 1; r !== NONE; ) {
      const meta = this.#meta.page(r);
      const mo = this.#meta.offset(r);
      const next = meta[mo + NEXT]! - 1;
      if (meta[mo + MODEL] === modelId && this.#values.page(r)[this.#values.offset(r)] === f.ts) {
        if (meta[mo + SHAPE] === shape.id && !replaced) {
          this.#write(r, shape, f, true);
          replaced = true;
        } else if (this.#removeReplaced(r, f)) {
          this.#unlink(slot, prev, next);
          this.#freeRecord(r);
          r = next;
          continue;
        }
      }
      prev = r;
      last = r;
      r = next;
    }
    if (replaced) return;
    const r = this.#freeRecords.pop() ?? this.#records++;
    this.#meta.ensure(r);
    this.#values.ensure(r);
    const meta = this.#meta.page(r);
    const mo = this.#meta.offset(r);
    meta[mo + NEXT] = 0;
    meta[mo + MODEL] = modelId;
    meta[mo + SHAPE] = shape.id;
    shape.refs++;
    this.#values.page(r)[this.#values.offset(r)] = f.ts;
    this.#write(r, shape, f, false);
    if (last === NONE) heads[ho] = r + 1;
    else this.#meta.page(last)[this.#meta.offset(last) + NEXT] = r + 1;
  }

  /** Writes `f`'s cells into record `r`; a cell with a non-finite mean is never scored (kept as it was when `replace`). */
  #write(r: number, shape: CellShape, f: Forecast, replace: boolean): void {
    const v = this.#values.page(r);
    const hs = f.forecast;
    for (let i = 0, o = this.#values.offset(r) + 1; i < hs.length; i++, o += CELL) {
      const cell = hs[i]!;
      if (!Number.isFinite(cell.mean)) {
        if (!replace) v[o] = Number.NaN;
        continue;
      }
      const lo = shape.lo[i];
      const hi = shape.hi[i];
      v[o] = cell.ts;
      v[o + 1] = cell.mean;
      v[o + 2] = lo === undefined ? Number.NaN : (cell.q[lo] ?? Number.NaN);
      v[o + 3] = hi === undefined ? Number.NaN : (cell.q[hi] ?? Number.NaN);
    }
  }

  /** Removes from record `r` the cells that `f` has again (same h and target, finite mean); true when none is left. */
  #removeReplaced(r: number, f: Forecast): boolean {
    const shape = this.#shapes[this.#meta.page(r)[this.#meta.offset(r) + SHAPE]!]!;
    const v = this.#values.page(r);
    let live = 0;
    for (let i = 0, o = this.#values.offset(r) + 1; i < shape.hs.length; i++, o += CELL) {
      if (Number.isNaN(v[o]!)) continue;
      if (f.forecast.some((c) => c.h === shape.hs[i] && c.ts === v[o] && Number.isFinite(c.mean))) v[o] = Number.NaN;
      else live++;
    }
    return live === 0;
  }

  /** Unlinks the record after `prev` (NONE: the series' first), whose successor is `next`. */
  #unlink(slot: number, prev: number, next: number): void {
    if (prev === NONE) this.#heads.page(slot)[this.#heads.offset(slot)] = next + 1;
    else this.#meta.page(prev)[this.#meta.offset(prev) + NEXT] = next + 1;
  }

  #freeRecord(r: number): void {
    const meta = this.#meta.page(r);
    const mo = this.#meta.offset(r);
    const shape = this.#shapes[meta[mo + SHAPE]!]!;
    meta[mo + SHAPE] = -1;
    meta[mo + NEXT] = 0;
    this.#freeRecords.push(r);
    if (--shape.refs > 0) return;
    this.#shapes[shape.id] = undefined;
    this.#shapeIds.delete(shape.key);
    this.#freeShapes.push(shape.id);
    if (this.#lastShape === shape) this.#lastShape = undefined;
  }

  /** Room for `cells` cells per record: every record is copied into pages of the new stride. */
  #widen(cells: number): void {
    const old = this.#values;
    const values = recordPages(cells);
    for (let r = 0; r < this.#records; r++) {
      values.ensure(r);
      const from = old.offset(r);
      values.page(r).set(old.page(r).subarray(from, from + old.stride), values.offset(r));
    }
    this.#values = values;
    this.#cells = cells;
  }

  #shapeOf(f: Forecast): CellShape {
    const last = this.#lastShape;
    if (last !== undefined && fits(last, f)) return last;
    const hs: number[] = [];
    const keys: QuantileKey[][] = [];
    for (const c of f.forecast) {
      const ks: QuantileKey[] = [];
      for (const k in c.q) ks.push(k);
      hs.push(c.h);
      keys.push(ks);
    }
    const key = `${hs.join(',')}|${keys.map((ks) => ks.join('\u0001')).join('\u0002')}`;
    const known = this.#shapeIds.get(key);
    if (known !== undefined) return (this.#lastShape = this.#shapes[known]!);
    const id = this.#freeShapes.pop() ?? this.#shapes.length;
    const outer = keys.map((ks) => outerInterval(ks));
    const shape: CellShape = {
      id,
      key,
      hs,
      keys,
      lo: outer.map((x) => x?.lo),
      hi: outer.map((x) => x?.hi),
      labels: outer.map((x) => x?.label),
      refs: 0,
    };
    this.#shapes[id] = shape;
    this.#shapeIds.set(key, id);
    return (this.#lastShape = shape);
  }
}

/** Whether `f`'s cells have `shape`'s h and quantile keys, in order. */
function fits(shape: CellShape, f: Forecast): boolean {
  const hs = f.forecast;
  if (hs.length !== shape.hs.length) return false;
  for (let i = 0; i < hs.length; i++) {
    const c = hs[i]!;
    if (c.h !== shape.hs[i]) return false;
    const keys = shape.keys[i]!;
    let j = 0;
    for (const k in c.q) if (k !== keys[j++]) return false;
    if (j !== keys.length) return false;
  }
  return true;
}

/** Record pages for `cells` cells per record (pages near 1 MiB). */
function recordPages(cells: number): SlotPages<Float64Array> {
  const stride = 1 + CELL * cells;
  return new SlotPages(stride, (n) => new Float64Array(n), 16, pageBitsFor(stride * 8));
}

function originKey(series: SeriesId, ts: EpochMs): string {
  return `${series}\u0000${ts}`;
}
