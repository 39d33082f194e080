import type { Forecast } from '../domain/forecast.js';
import { quantileKey } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';
import { symmetricPairs } from './metrics.js';

export interface ReportTraceOptions {
  /** Models whose forecasts are kept (e.g. the pipeline's model and the best baseline). */
  readonly models: readonly string[];
  readonly horizon: number;
  readonly quantiles: readonly number[];
  /** Newest steps kept per series (default 336). */
  readonly capacity?: number;
  /** Series traced at most (default 12): the target first, then the first ones seen. */
  readonly maxSeries?: number;
  /** A series to trace whatever the cap (the spec's `report.target`). */
  readonly target?: SeriesId;
}

/** One traced step of one series: the actual (null where imputed) and each model's forecast made there, all horizons. */
export interface TraceStep {
  readonly ts: number;
  readonly actual: number | null;
  /**
   * model → the forecast made here, `stride` numbers per horizon (h − 1 first): the centre
   * (median when 0.5 is a level, else the mean), then lo, hi of each symmetric pair, outermost
   * first. Absent when that model made no forecast there.
   */
  readonly forecasts: Readonly<Record<string, Float64Array | undefined>>;
}

export interface SeriesTrace {
  readonly series: SeriesId;
  readonly stepMs: number;
  readonly steps: readonly TraceStep[];
}

/**
 * Keeps, for a bounded set of series, the newest `capacity` steps: the actual and every horizon
 * of each kept model's forecast made at that step — the material of the report's traces and fan
 * charts. Memory: maxSeries × capacity × models × horizon × (1 + 2 × pairs) numbers, whatever
 * the length of the backtest or the number of series.
 */
export class ReportTrace {
  readonly centre: 'median' | 'mean';
  readonly pairs: readonly string[];
  /** Numbers per horizon in `TraceStep.forecasts`. */
  readonly stride: number;
  private readonly capacity: number;
  private readonly maxSeries: number;
  private readonly traces = new Map<SeriesId, { stepMs: number; steps: TraceStep[] }>();
  private readonly pairKeys: readonly (readonly [string, string])[];

  constructor(private readonly opts: ReportTraceOptions) {
    this.capacity = opts.capacity ?? 336;
    this.maxSeries = opts.maxSeries ?? 12;
    this.centre = opts.quantiles.includes(0.5) ? 'median' : 'mean';
    // Outermost first: the widest band is drawn underneath.
    const pairs = symmetricPairs(opts.quantiles).sort((a, b) => a.lo - b.lo);
    this.pairs = pairs.map((p) => p.key);
    this.pairKeys = pairs.map((p) => [quantileKey(p.lo), quantileKey(p.hi)] as const);
    this.stride = 1 + 2 * pairs.length;
  }

  /** One step of a series and the forecasts each model made at it (same step, same order as the runner's batch). */
  add(step: NormalizedStep, forecasts: Readonly<Record<string, Forecast | undefined>>): void {
    let t = this.traces.get(step.series);
    if (t === undefined) {
      if (!this.admit(step.series)) return;
      t = { stepMs: 0, steps: [] };
      this.traces.set(step.series, t);
    }
    const kept: Record<string, Float64Array | undefined> = {};
    const { stride } = this;
    for (const model of this.opts.models) {
      const f = forecasts[model];
      if (f === undefined) continue;
      if (t.stepMs === 0) t.stepMs = f.step;
      const out = new Float64Array(this.opts.horizon * stride).fill(Number.NaN);
      for (const hf of f.forecast) {
        if (hf.h < 1 || hf.h > this.opts.horizon) continue;
        const o = (hf.h - 1) * stride;
        out[o] = this.centre === 'median' ? (hf.q['0.5'] ?? hf.mean) : hf.mean;
        this.pairKeys.forEach(([lo, hi], p) => {
          out[o + 1 + 2 * p] = hf.q[lo] ?? hf.mean;
          out[o + 2 + 2 * p] = hf.q[hi] ?? hf.mean;
        });
      }
      kept[model] = out;
    }
    t.steps.push({ ts: step.ts, actual: step.observed && Number.isFinite(step.value) ? step.value : null, forecasts: kept });
    if (t.steps.length > this.capacity) t.steps.shift();
  }

  private admit(series: SeriesId): boolean {
    if (series === this.opts.target) {
      // The target is always traced; it takes the place of the newest admitted other series.
      if (this.traces.size >= this.maxSeries) {
        const drop = [...this.traces.keys()].pop();
        if (drop !== undefined) this.traces.delete(drop);
      }
      return true;
    }
    const reserved = this.opts.target !== undefined && !this.traces.has(this.opts.target) ? 1 : 0;
    return this.traces.size + reserved < this.maxSeries;
  }

  /** The traced series, the target first, then in order of first appearance. */
  toArray(): SeriesTrace[] {
    const out = [...this.traces].map(([series, t]) => ({ series, stepMs: t.stepMs, steps: t.steps }));
    return out.sort((a, b) => Number(b.series === this.opts.target) - Number(a.series === this.opts.target));
  }
}
