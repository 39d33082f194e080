import type { Forecast, ModelInfo } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';

/**
 * The model-agnostic forecaster contract (River's learn_one/forecast, made batched and
 * stateful). Every implementation, the baselines and the GRU alike, passes the shared contract
 * suite in test/contract/.
 *
 * `step` is forecast-then-learn per input: for each step (in order) the forecaster first
 * scores nothing and learns the step's value, then forecasts `horizon` steps ahead from it.
 * Being strictly causal, a forecast made at step t never depends on values after t.
 */
export interface Forecaster {
  /** Identity reported in each forecast's `model` field; may change after a hot swap. */
  readonly info: ModelInfo;
  readonly horizon: number;
  /** Sorted ascending, each in (0, 1). */
  readonly quantiles: readonly number[];
  /**
   * Consume one micro-batch (several steps of one series are served in order) and return one
   * forecast per input step, in input order. Outputs are finite and quantiles never cross.
   */
  step(batch: readonly NormalizedStep[]): Forecast[];
  /** Serializes one series' state, or undefined when the series is unknown. */
  snapshot(series: SeriesId): Uint8Array | undefined;
  /** Replaces one series' state with a snapshot taken by the same kind of forecaster. */
  restore(series: SeriesId, snapshot: Uint8Array): void;
  /** Forgets one series (partition revoked, series expired). */
  drop(series: SeriesId): void;
  /** Number of series with state. */
  readonly size: number;
  /**
   * Work the next `step` must wait for (a model still loading, a retrain in blocking mode), or
   * undefined when there is none. The runner awaits it between micro-batches, so a blocking
   * retrain sees exactly the steps before it and results do not depend on timing. Optional.
   */
  pendingWork?(): Promise<void> | undefined;
  /**
   * Like `step`, but may pause inside the batch for work that must finish first (a blocking
   * retrain triggered at a step in the middle of the batch), so results do not depend on where
   * the micro-batcher cut the stream. Runners use it when present. Optional.
   */
  stepAsync?(batch: readonly NormalizedStep[]): Promise<Forecast[]>;
  /** Releases background resources (trainer worker); idempotent. Optional. */
  close?(): Promise<void>;
}

export interface ForecasterOptions {
  readonly name: string;
  /** Step length in ms (for forecast timestamps). */
  readonly stepMs: number;
  readonly horizon: number;
  readonly quantiles: readonly number[];
}
