import type { Forecast } from '../domain/forecast.js';
import { quantileKey } from '../domain/forecast.js';
import { maseScale, naive2, smape } from './fixedOriginMetrics.js';
import type { ServedModel } from './backtestSummary.js';

/**
 * Scores of one model over all series of a fixed-origin run. Per-horizon arrays are indexed by
 * h − 1 and average the series that have an observed actual there; the means average each
 * series' own mean over its scored horizons, then the series (as M4 does). null where nothing
 * could be computed (JSON has no NaN).
 */
export interface FixedOriginModelScores {
  readonly smape: (number | null)[];
  readonly smapeMean: number | null;
  readonly mase: (number | null)[];
  /** Over the series with a non-zero in-sample scale. */
  readonly maseMean: number | null;
  /** ½ (sMAPE / sMAPE(naive2) + MASE / MASE(naive2)) on the means; naive2's own is 1. */
  readonly owa: number | null;
  /** Fraction of actuals inside [q_lo, q_hi] per pair "lo-hi"; null for a model without quantiles (naive2). */
  readonly coverage: Record<string, number | null>;
  readonly coverageByHorizon: Record<string, (number | null)[]>;
}

/** One series' scores per model (sMAPE and MASE averaged over its scored horizons). */
export interface FixedOriginSeriesScores {
  readonly series: string;
  /** Steps of history before the origin (the replay's steps, imputed ones included). */
  readonly historySteps: number;
  /** Event time (ms) of the forecast origin: the series' last history step. */
  readonly origin: number;
  readonly scoredHorizons: number;
  /** MASE's in-sample scale; null when 0 (the series' MASE is then null). */
  readonly scale: number | null;
  readonly models: Record<string, { readonly smape: number | null; readonly mase: number | null }>;
}

/** The `backtest --origin end --json` shape (docs/DESIGN.md). */
export interface FixedOriginSummary {
  readonly protocol: 'fixed-origin';
  readonly input: string;
  readonly pipeline: string;
  readonly step: number;
  readonly horizon: number;
  /** m: the seasonal lag of MASE's scale, Naive2 and the seasonality test. */
  readonly seasonSteps: number;
  /** Series scored (each has a forecast at its origin and at least one observed held-out value). */
  readonly series: number;
  readonly scoredCells: number;
  readonly models: Record<string, FixedOriginModelScores>;
  /** Series Naive2 found seasonal (the 90 % ACF test), of `series`. */
  readonly naive2Seasonal: number;
  readonly served?: ServedModel;
  /** The training on the histories (null when the run did not train). */
  readonly training: FixedOriginTraining | null;
  readonly partial: boolean;
  readonly perSeries: readonly FixedOriginSeriesScores[];
  readonly warnings: readonly string[];
}

export interface FixedOriginTraining {
  readonly outcome: string;
  readonly reason: string;
  readonly version: number | null;
  readonly epochs: number | null;
  readonly durationMs: number | null;
  readonly backend: string | null;
}

export interface FixedOriginScorerOptions {
  /** The models whose forecasts are added, in table order (naive2 is computed here and appended). */
  readonly models: readonly string[];
  readonly horizon: number;
  readonly seasonSteps: number;
  readonly quantiles: readonly number[];
}

export const NAIVE2 = 'naive2';

interface SeriesCells {
  readonly id: string;
  readonly historySteps: number;
  readonly origin: number;
  readonly scale: number;
  /** Per model: absolute error, sMAPE, inside-interval per pair; per h (NaN where no actual). */
  readonly abs: Map<string, Float64Array>;
  readonly smape: Map<string, Float64Array>;
  readonly inside: Map<string, Map<string, Float64Array>>;
}

/** Central interval pairs of the quantile levels: (0.1, 0.9) → "0.1-0.9". */
function intervalPairs(quantiles: readonly number[]): [number, number][] {
  const qs = [...quantiles].sort((a, b) => a - b);
  const pairs: [number, number][] = [];
  for (let i = 0, j = qs.length - 1; i < j; i++, j--) pairs.push([qs[i]!, qs[j]!]);
  return pairs;
}

function meanOf(xs: Iterable<number>): number | null {
  let s = 0;
  let n = 0;
  for (const x of xs) {
    if (Number.isFinite(x)) {
      s += x;
      n++;
    }
  }
  return n === 0 ? null : s / n;
}

/**
 * Scores forecasts made once per series, at the end of its history, against the held-out values
 * after it. Each series comes in whole (`addSeries`): its history (for MASE's scale and Naive2),
 * the held-out actuals (null where not observed: not scored), and every model's forecast made at
 * the origin. Naive2 is computed from the history here.
 */
export class FixedOriginScorer {
  readonly #opts: FixedOriginScorerOptions;
  readonly #pairs: [number, number][];
  readonly #series: SeriesCells[] = [];
  #seasonal = 0;

  constructor(opts: FixedOriginScorerOptions) {
    this.#opts = opts;
    this.#pairs = intervalPairs(opts.quantiles);
  }

  get models(): string[] {
    return [...this.#opts.models, NAIVE2];
  }

  addSeries(id: string, history: ArrayLike<number>, actuals: readonly (number | null)[], forecasts: ReadonlyMap<string, Forecast>, origin: number): void {
    const { horizon, seasonSteps } = this.#opts;
    const n2 = naive2(history, seasonSteps, horizon);
    if (n2.seasonal) this.#seasonal++;
    const cells: SeriesCells = { id, historySteps: history.length, origin, scale: maseScale(history, seasonSteps), abs: new Map(), smape: new Map(), inside: new Map() };
    const means = new Map<string, (h: number) => number | undefined>();
    for (const name of this.#opts.models) {
      const f = forecasts.get(name);
      means.set(name, (h) => f?.forecast[h]?.mean);
    }
    means.set(NAIVE2, (h) => n2.forecast[h]);
    for (const [name, meanAt] of means) {
      const abs = new Float64Array(horizon).fill(Number.NaN);
      const sm = new Float64Array(horizon).fill(Number.NaN);
      for (let h = 0; h < horizon; h++) {
        const y = actuals[h];
        const yhat = meanAt(h);
        if (y === null || y === undefined || yhat === undefined) continue;
        abs[h] = Math.abs(y - yhat);
        sm[h] = smape(y, yhat);
      }
      cells.abs.set(name, abs);
      cells.smape.set(name, sm);
      const f = forecasts.get(name);
      if (f === undefined) continue;
      const inside = new Map<string, Float64Array>();
      for (const [lo, hi] of this.#pairs) {
        const hits = new Float64Array(horizon).fill(Number.NaN);
        for (let h = 0; h < horizon; h++) {
          const y = actuals[h];
          const q = f.forecast[h]?.q;
          const a = q?.[quantileKey(lo)];
          const b = q?.[quantileKey(hi)];
          if (y === null || y === undefined || a === undefined || b === undefined) continue;
          hits[h] = y >= a && y <= b ? 1 : 0;
        }
        inside.set(`${lo}-${hi}`, hits);
      }
      cells.inside.set(name, inside);
    }
    this.#series.push(cells);
  }

  summary(meta: { input: string; pipeline: string; step: number; partial: boolean; served?: ServedModel; training: FixedOriginTraining | null; warnings: readonly string[] }): FixedOriginSummary {
    const { horizon, seasonSteps } = this.#opts;
    const scored = this.#series.filter((s) => s.smape.get(NAIVE2)!.some((x) => Number.isFinite(x)));
    const scaled = (s: SeriesCells, name: string, h: number): number => (s.scale > 0 ? s.abs.get(name)![h]! / s.scale : Number.NaN);
    const perSeries: FixedOriginSeriesScores[] = scored.map((s) => ({
      series: s.id,
      historySteps: s.historySteps,
      origin: s.origin,
      scoredHorizons: s.smape.get(NAIVE2)!.filter((x) => Number.isFinite(x)).length,
      scale: s.scale > 0 ? s.scale : null,
      models: Object.fromEntries(
        this.models.map((name) => [name, { smape: meanOf(s.smape.get(name)!), mase: s.scale > 0 ? meanOf(Array.from({ length: horizon }, (_, h) => scaled(s, name, h))) : null }]),
      ),
    }));
    const models: Record<string, FixedOriginModelScores> = {};
    for (const name of this.models) {
      const smapeH = Array.from({ length: horizon }, (_, h) => meanOf(scored.map((s) => s.smape.get(name)![h]!)));
      const maseH = Array.from({ length: horizon }, (_, h) => meanOf(scored.map((s) => scaled(s, name, h))));
      const coverage: Record<string, number | null> = {};
      const coverageByHorizon: Record<string, (number | null)[]> = {};
      for (const [lo, hi] of this.#pairs) {
        const key = `${lo}-${hi}`;
        const rows = scored.map((s) => s.inside.get(name)?.get(key));
        const has = rows.some((r) => r !== undefined);
        coverageByHorizon[key] = Array.from({ length: horizon }, (_, h) => (has ? meanOf(rows.map((r) => r?.[h] ?? Number.NaN)) : null));
        coverage[key] = has ? meanOf(rows.flatMap((r) => (r === undefined ? [] : [...r]))) : null;
      }
      models[name] = {
        smape: smapeH,
        smapeMean: meanOf(perSeries.map((p) => p.models[name]!.smape ?? Number.NaN)),
        mase: maseH,
        maseMean: meanOf(perSeries.map((p) => p.models[name]!.mase ?? Number.NaN)),
        owa: null,
        coverage,
        coverageByHorizon,
      };
    }
    const ref = models[NAIVE2]!;
    for (const name of this.models) {
      const m = models[name]!;
      const owa =
        m.smapeMean !== null && m.maseMean !== null && ref.smapeMean !== null && ref.maseMean !== null && ref.smapeMean > 0 && ref.maseMean > 0
          ? 0.5 * (m.smapeMean / ref.smapeMean + m.maseMean / ref.maseMean)
          : null;
      models[name] = { ...m, owa };
    }
    const scoredCells = scored.reduce((n, s) => n + s.smape.get(NAIVE2)!.filter((x) => Number.isFinite(x)).length, 0);
    return {
      protocol: 'fixed-origin',
      input: meta.input,
      pipeline: meta.pipeline,
      step: meta.step,
      horizon,
      seasonSteps,
      series: scored.length,
      scoredCells,
      models,
      naive2Seasonal: this.#seasonal,
      ...(meta.served !== undefined ? { served: meta.served } : {}),
      training: meta.training,
      partial: meta.partial,
      perSeries,
      warnings: meta.warnings,
    };
  }
}
