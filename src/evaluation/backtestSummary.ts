/**
 * The `backtest --json` / `summary.json` shape of DESIGN.md. Per-horizon arrays are indexed by
 * h − 1. A metric that nothing could be computed for is `null` (JSON has no NaN): e.g. MASE of a
 * run whose series are all constant, or every metric when no cell was scored.
 */
export interface ModelScores {
  /** Mean absolute error per horizon. */
  readonly mae: (number | null)[];
  /** Mean of `mae` over the horizons (each horizon weighs the same). */
  readonly maeMean: number | null;
  /** Per horizon: per-series MAE / per-series naive scale, averaged over series. */
  readonly mase: (number | null)[];
  /** sMAPE in percent per horizon. */
  readonly smape: (number | null)[];
  /** Fraction of scored actuals inside each central interval, keyed "lo-hi" (e.g. "0.1-0.9"). */
  readonly coverage: Record<string, number | null>;
}

export interface BacktestSummary {
  readonly input: string;
  readonly pipeline: string;
  /** Step length in ms. */
  readonly step: number;
  readonly horizon: number;
  /** Distinct series seen. */
  readonly series: number;
  /** Scored (series, target ts, h) cells; every model was scored on each of them. */
  readonly scoredCells: number;
  readonly warmupSteps: number;
  readonly models: Record<string, ModelScores>;
  /** The baseline (a model named last-value… or seasonal-naive…) with the lowest maeMean. */
  readonly best_baseline: string | null;
  /** 1 − maeMean(gru) / maeMean(best_baseline); null without a "gru" model or a positive baseline MAE. */
  readonly skill: number | null;
}
