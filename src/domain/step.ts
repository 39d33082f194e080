import type { EpochMs, SeriesId } from './point.js';

/**
 * A closed step of the per-series event-time grid, as the resampler emits it.
 * `ts` is the start of the step's interval [ts, ts + step). `value` is the aggregate of the
 * points that fell in it, or `null` when none did (or all of them were explicit nulls).
 */
export interface ClosedStep {
  readonly series: SeriesId;
  readonly ts: EpochMs;
  readonly value: number | null;
  /** Number of non-null points aggregated into `value`. */
  readonly count: number;
  /**
   * Set on the first step after the resampler re-based the series onto an earlier clock (its
   * watermark had been moved ahead by skewed points): per-series state downstream of it is from
   * the skewed clock's future and starts afresh. Absent on every other step.
   */
  readonly rebase?: true;
}

/**
 * A step after imputation: `value` is always finite. `observed` is the missing mask
 * (false when the value was invented), `imputed` is its complement kept for the output contract.
 */
export interface ImputedStep {
  readonly series: SeriesId;
  readonly ts: EpochMs;
  readonly value: number;
  readonly observed: boolean;
  readonly imputed: boolean;
  /** Steps since the last real observation (0 when this step is observed). */
  readonly sinceObserved: number;
  /**
   * True on the first step after a gap longer than `maxGap` (or on a series' very first step):
   * downstream per-series state (model hidden state, error history) must start afresh.
   */
  readonly reset: boolean;
}

/** Per-series scaler parameters in force when a step was normalized; inverts `z`. */
export interface Scale {
  readonly mean: number;
  readonly std: number;
}

/** A model-ready step: the imputed step plus its normalized value and the scale used. */
export interface NormalizedStep extends ImputedStep {
  readonly z: number;
  readonly scale: Scale;
}
