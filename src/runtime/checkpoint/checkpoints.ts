import type { Ingested } from '../../domain/ingested.js';
import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import type { PipelineContext, StepBatch } from '../../pipeline/build.js';

/**
 * What the pipeline runner hands its outputs, dead letters and input positions to, and when.
 * It decides where checkpoints are cut and hands each to a Committer (src/connectors/committer.ts),
 * which makes it durable per the pipeline's guarantee. Two kinds:
 * - CheckpointCoordinator: checkpointed per-series state (Kafka), cut every interval by a barrier;
 * - BatchCheckpoints: no state (files, the demo), every batch its own checkpoint.
 */
export interface Checkpoints {
  /** Cores, barriers and the batch-formed hook for the step pipeline. */
  readonly context: Pick<PipelineContext, 'cores' | 'barriers' | 'onBatchFormed'>;
  /** Every input record, before the pipeline sees it. */
  record(rec: Ingested): void;
  deadLetters(letters: readonly DeadLetter[]): void;
  /** After the forecaster stepped `batch` (batches arrive in order, one at a time). */
  afterStep(batch: StepBatch, forecasts: readonly Forecast[]): Promise<void>;
  /** Calls `listener` once when work in the background (a commit, a restore) fails: the runner stops on it. */
  onFailure(listener: (err: unknown) => void): void;
  /** The last checkpoint, once the input completed and every batch was handled. Idempotent. */
  finish(): Promise<void>;
}
