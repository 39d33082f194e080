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
  /** The same per horizon (index h − 1): the report plots it against the nominal level. */
  readonly coverageByHorizon?: Record<string, (number | null)[]>;
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
  /** True when the run was interrupted (SIGINT/SIGTERM): the scores cover the data up to that point. */
  readonly partial?: boolean;
  /** What actually made the `gru` column's forecasts (the key stays `gru` for tools that compare runs). */
  readonly served?: ServedModel;
  /** Forecasts of the `gru` column made inside the served model's training range; null when none. */
  readonly inSample?: InSample | null;
  /** What the user should know about this run, each with its fix (also printed on stderr). */
  readonly warnings?: readonly string[];
}

export interface ServedModel {
  /** `baseline`: no GRU made any forecast (none was loaded or promoted); `gru` otherwise. */
  readonly kind: 'gru' | 'baseline';
  /** The pipeline's baseline, named as in `models` (e.g. `seasonal-naive-1d`): what `gru` holds until a GRU serves. */
  readonly baseline: string;
  /** GRU versions that made forecasts, ascending. */
  readonly versions: readonly number[];
  /** Event time (ms) of the first forecast a GRU made; null if none. */
  readonly gruFrom: number | null;
}

export interface InSample {
  /** Forecasts of the `gru` column made at a step inside the serving model's training range. */
  readonly forecasts: number;
  /** Their share of all its forecasts. */
  readonly fraction: number;
  /** The training ranges (meta.json `training.firstTs`/`lastTs`) of the versions concerned. */
  readonly models: readonly { readonly version: number; readonly firstTs: number; readonly lastTs: number }[];
}

/** The label a model has in the table and the report: the pipeline's model (`gru`) says what it really was. */
export function displayName(model: string, summary: Pick<BacktestSummary, 'served' | 'inSample'>): string {
  if (model !== 'gru') return model;
  const served = summary.served;
  if (served?.kind === 'baseline') return `gru = baseline ${served.baseline} (no GRU served)`;
  const versions = served?.versions ?? [];
  const v = versions.length === 0 ? '' : versions.length === 1 ? ` v${versions[0]}` : ` v${versions[0]}–v${versions[versions.length - 1]}`;
  return `gru${v}${summary.inSample ? ' (in-sample)' : ''}`;
}
