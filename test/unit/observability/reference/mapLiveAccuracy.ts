/**
 * The live accuracy of commit 77a1c4b (a Map per series of target steps, each an array of cell
 * objects), kept unchanged as the reference that the typed-array LiveAccuracy is tested against:
 * same input, same scores and metric events. Only the names of its exports changed.
 */
import type { Forecast } from '../../../../src/domain/forecast.js';
import type { EpochMs, SeriesId } from '../../../../src/domain/point.js';
import type { ImputedStep } from '../../../../src/domain/step.js';
import { outerInterval, type LiveAccuracyOptions, type ScoredCell } from '../../../../src/observability/liveAccuracy.js';

/**
 * A series' scale for unit-free errors: the mean absolute change between consecutive observed
 * steps seen so far (the denominator of MASE, learnt prequentially from the stream).
 */
interface SeriesScale {
  /** The previous step's value when that step was observed; undefined after an imputed step. */
  prev: number | undefined;
  sum: number;
  n: number;
}

interface PendingCell {
  readonly model: string;
  readonly h: number;
  readonly mean: number;
  /** NaN when the forecast had no interval. */
  readonly lo: number;
  readonly hi: number;
  readonly interval: string | undefined;
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
 * or after its target has been seen, so memory per series stays about horizon²/2 cells per model.
 * Series that stop arriving keep their cells until `drop(series)` (call it when the pipeline
 * idle-closes or revokes a series).
 */
export class MapLiveAccuracy {
  private readonly pending = new Map<SeriesId, Map<EpochMs, PendingCell[]>>();
  private readonly scales = new Map<SeriesId, SeriesScale>();

  constructor(private readonly opts: LiveAccuracyOptions) {
    const { events, models = [], horizon = 0, interval } = opts;
    for (const model of models) {
      for (let h = 1; h <= horizon; h++) {
        events({ type: 'forecast_error', model, horizon: h, absErrorSum: 0, count: 0 });
        events({ type: 'scaled_forecast_error', model, horizon: h, scaledErrorSum: 0, count: 0 });
      }
      if (interval !== undefined) events({ type: 'interval_coverage', model, interval, hits: 0, total: 0 });
    }
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

    const scored: ScoredCell[] = [];
    const errors = new Map<string, { model: string; h: number; sum: number; count: number }>();
    const coverage = new Map<string, { model: string; interval: string; hits: number; total: number }>();
    const scaledErrors = new Map<string, { model: string; h: number; sum: number; count: number }>();

    for (const step of steps) {
      const targets = this.pending.get(step.series);
      // The scale from the steps before this one only (prequential, like the forecasts).
      const s = this.scales.get(step.series);
      const scale = s !== undefined && s.n > 0 ? s.sum / s.n : 0;
      if (targets !== undefined) {
        const cells = targets.get(step.ts);
        if (cells !== undefined && step.observed && Number.isFinite(step.value)) {
          for (const c of cells) {
            const absError = Math.abs(step.value - c.mean);
            if (!Number.isFinite(absError)) continue;
            const ek = `${c.model}\u0000${c.h}`;
            const e = errors.get(ek);
            if (e === undefined) errors.set(ek, { model: c.model, h: c.h, sum: absError, count: 1 });
            else {
              e.sum += absError;
              e.count++;
            }
            // A constant series so far has no scale: its errors cannot be made unit-free yet.
            const scaledError = scale > 0 && Number.isFinite(absError / scale) ? absError / scale : undefined;
            if (scaledError !== undefined) {
              const se = scaledErrors.get(ek);
              if (se === undefined) scaledErrors.set(ek, { model: c.model, h: c.h, sum: scaledError, count: 1 });
              else {
                se.sum += scaledError;
                se.count++;
              }
            }
            let inInterval: boolean | undefined;
            if (c.interval !== undefined) {
              inInterval = step.value >= c.lo && step.value <= c.hi;
              const ck = `${c.model}\u0000${c.interval}`;
              const cv = coverage.get(ck);
              if (cv === undefined) coverage.set(ck, { model: c.model, interval: c.interval, hits: inInterval ? 1 : 0, total: 1 });
              else {
                cv.total++;
                if (inInterval) cv.hits++;
              }
            }
            scored.push({
              series: step.series,
              model: c.model,
              h: c.h,
              ts: step.ts,
              actual: step.value,
              mean: c.mean,
              absError,
              ...(inInterval !== undefined ? { inInterval } : {}),
              ...(scaledError !== undefined ? { scaledError } : {}),
            });
          }
        }
        // The target has passed (scored, or imputed and so never scorable): forget it.
        for (const t of targets.keys()) if (t <= step.ts) targets.delete(t);
      }
      this.learnScale(step);
      const k = originKey(step.series, step.ts);
      const made = madeAt.get(k);
      if (made !== undefined) {
        madeAt.delete(k);
        for (const m of made) this.remember(m.model, m.forecast);
      }
    }
    // Forecasts whose step was not in `steps` (a caller passing them separately) still count.
    for (const made of madeAt.values()) for (const m of made) this.remember(m.model, m.forecast);

    for (const e of errors.values()) {
      this.opts.events({ type: 'forecast_error', model: e.model, horizon: e.h, absErrorSum: e.sum, count: e.count });
    }
    for (const c of coverage.values()) {
      this.opts.events({ type: 'interval_coverage', model: c.model, interval: c.interval, hits: c.hits, total: c.total });
    }
    for (const e of scaledErrors.values()) {
      this.opts.events({ type: 'scaled_forecast_error', model: e.model, horizon: e.h, scaledErrorSum: e.sum, count: e.count });
    }
    return scored;
  }

  /** Forgets a series' pending cells and scale. */
  drop(series: SeriesId): void {
    this.pending.delete(series);
    this.scales.delete(series);
  }

  /** The scale of a series so far (mean absolute change between consecutive observed steps), or undefined. */
  scaleOf(series: SeriesId): number | undefined {
    const s = this.scales.get(series);
    return s === undefined || s.n === 0 ? undefined : s.sum / s.n;
  }

  private learnScale(step: ImputedStep): void {
    let s = this.scales.get(step.series);
    if (s === undefined) {
      s = { prev: undefined, sum: 0, n: 0 };
      this.scales.set(step.series, s);
    }
    // Only changes between two observed neighbours: an imputed value is the pipeline's own guess.
    if (!step.observed || !Number.isFinite(step.value)) {
      s.prev = undefined;
      return;
    }
    if (s.prev !== undefined) {
      const d = Math.abs(step.value - s.prev);
      if (Number.isFinite(d)) {
        s.sum += d;
        s.n++;
      }
    }
    s.prev = step.value;
  }

  /** Cells waiting for their actual, over all series (for tests and memory accounting). */
  get pendingCells(): number {
    let n = 0;
    for (const targets of this.pending.values()) for (const cells of targets.values()) n += cells.length;
    return n;
  }

  private remember(model: string, f: Forecast): void {
    let targets = this.pending.get(f.series);
    if (targets === undefined) {
      targets = new Map();
      this.pending.set(f.series, targets);
    }
    for (const cell of f.forecast) {
      if (!Number.isFinite(cell.mean)) continue;
      const outer = outerInterval(Object.keys(cell.q));
      const lo = outer === undefined ? Number.NaN : (cell.q[outer.lo] ?? Number.NaN);
      const hi = outer === undefined ? Number.NaN : (cell.q[outer.hi] ?? Number.NaN);
      const usable = outer !== undefined && Number.isFinite(lo) && Number.isFinite(hi);
      const p: PendingCell = { model, h: cell.h, mean: cell.mean, lo, hi, interval: usable ? outer.label : undefined };
      const list = targets.get(cell.ts);
      if (list === undefined) targets.set(cell.ts, [p]);
      else {
        // A second forecast of the same model for the same cell (a replayed batch) replaces the first.
        const i = list.findIndex((x) => x.model === model && x.h === cell.h);
        if (i === -1) list.push(p);
        else list[i] = p;
      }
    }
  }
}

function originKey(series: SeriesId, ts: EpochMs): string {
  return `${series}\u0000${ts}`;
}
