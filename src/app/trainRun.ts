import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import { DiscardSink } from '../connectors/memory/discardSink.js';
import type { BackendChoice } from '../forecasting/gru/backend.js';
import type { Logger } from '../observability/logger.js';
import type { RunStats } from '../observability/runStats.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { BackendRequest } from '../config/backendConfig.js';
import { onShutdown } from '../runtime/shutdown.js';
import type { RetrainReport } from '../training/retrainer.js';
import type { TrainProgress } from '../training/trainer.js';
import { buildReplayRun, runReplay, type ReplayInput, type ReplayProgress } from './replayRun.js';

/** Steps kept per series for offline training (the newest ones train). */
export const TRAIN_HISTORY_STEPS = 20_000;
/** Held-out newest fraction of each series (the promotion gate's and the calibration's slice). */
export const TRAIN_VAL_FRACTION = 0.15;

export interface TrainRunOptions {
  /** Models folder: `current` (if any) is the starting point, the new model is written there. */
  readonly models: string;
  readonly valFraction: number;
  readonly historySteps: number;
  readonly epochs?: number | undefined;
  readonly seed?: number | undefined;
  /** Point `current` at the new model even when it does not beat the bar. */
  readonly force?: boolean | undefined;
  readonly trainBackend: BackendRequest;
  readonly logger: Logger;
  /** The replay's progress (stopped when the replay ends, unless `keepProgress`: a caller that goes on with the same bar). */
  readonly replayProgress: ReplayProgress;
  readonly keepProgress?: boolean | undefined;
  /** Told once the trainer worker runs, before the replay. */
  readonly onTrainerStarted?: (backend: BackendChoice | undefined) => void;
  /** Starts the trainer worker instead (a file command's `FileCommandBackends.started`, which also says what runs where). */
  readonly startTrainer?: (retrainer: { startTrainer(): Promise<BackendChoice | undefined> }) => Promise<void>;
  /** Told when the replay is done, before training starts. */
  readonly onReplayed?: (stats: RunStats, elapsedMs: number) => void;
  readonly onTrainProgress?: (p: TrainProgress) => void;
}

export type TrainRunResult =
  | { readonly outcome: 'trained'; readonly report: RetrainReport; readonly replayMs: number; readonly stats: RunStats }
  /** A signal while reading the input (`signal`) or while training (then 130): nothing was written. */
  | { readonly outcome: 'cancelled'; readonly during: 'replay' | 'training'; readonly signal?: string; readonly replayMs: number; readonly stats: RunStats };

/**
 * Offline training as `streamcast train` does it: replays the input through the pipeline
 * (resample, impute, normalize exactly as serving does) into the model runtime, which keeps each
 * series' newest `historySteps` steps, then runs one retrain exactly as a scheduled one would
 * (residual base, trainer worker, promotion gate, held-out calibration), writing the artifact into
 * `models` when promoted. The trainer worker starts first, so a missing backend fails at once.
 * A signal during training cancels it; nothing is written.
 */
export async function runTraining(spec: PipelineSpec, input: ReplayInput, opts: TrainRunOptions): Promise<TrainRunResult> {
  const { logger } = opts;
  const parts = buildReplayRun(spec, input, {
    logger,
    models: opts.models,
    persist: true,
    retrain: 'off',
    valFraction: opts.valFraction,
    historySteps: opts.historySteps,
    trainBackend: opts.trainBackend,
    ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  });
  const { runtime, retrainer } = parts;
  if (opts.startTrainer !== undefined) await opts.startTrainer(retrainer);
  else opts.onTrainerStarted?.(await retrainer.startTrainer());
  const { elapsedMs, signal } = await runReplay(parts, { forecasts: new DiscardSink<Forecast>(), deadLetters: new DiscardSink<DeadLetter>() }, { progress: opts.replayProgress, stopProgress: opts.keepProgress !== true, keepRuntime: true });
  if (signal !== undefined) {
    await runtime.close();
    return { outcome: 'cancelled', during: 'replay', signal, replayMs: elapsedMs, stats: parts.stats };
  }
  opts.onReplayed?.(parts.stats, elapsedMs);
  let cancelled = false;
  const disposeSignals = onShutdown(
    async () => {
      cancelled = true;
      await runtime.close();
    },
    { timeoutMs: 30_000, logger },
  );
  let report: RetrainReport;
  try {
    report = await retrainer.retrainNow({ force: opts.force === true, ...(opts.onTrainProgress !== undefined ? { onProgress: opts.onTrainProgress } : {}) });
  } finally {
    disposeSignals();
    await runtime.close();
  }
  if (cancelled) return { outcome: 'cancelled', during: 'training', replayMs: elapsedMs, stats: parts.stats };
  return { outcome: 'trained', report, replayMs: elapsedMs, stats: parts.stats };
}
