import type { Forecast } from '../domain/forecast.js';
import type { NormalizedStep } from '../domain/step.js';

/**
 * What a ModelRuntime asks of the retrainer that keeps its model fresh (training/retrainer.ts).
 * Serving calls these at fixed points and knows nothing of how a model is trained, judged or saved;
 * the retrainer reads the runtime's history and hands it promoted weights. A runtime without one
 * serves what it is given (`initial` or adopted weights, else the baseline) and never retrains.
 */
export interface RetrainHooks {
  /** The backend training runs on, for model metrics: `none` until the trainer has started. */
  readonly trainBackend: string;
  /** After each `step`, once its batch is in the history: may start a retrain (on the retrainer's schedule). */
  afterStep(): void;
  /**
   * Steps `batch` through `step`, pausing where a retrain must land before the next step is
   * served (blocking mode): what the runtime's `stepAsync` does.
   */
  stepAsync(batch: readonly NormalizedStep[], step: (batch: readonly NormalizedStep[]) => Forecast[]): Promise<Forecast[]>;
  /** Work the next step must wait for (a model still loading, a blocking retrain), or undefined. */
  pendingWork(): Promise<void> | undefined;
  /** Cancels a running retrain and terminates the trainer; idempotent. Called by the runtime's `close`. */
  close(): Promise<void>;
}
