import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import { ManualClock } from '../domain/clock.js';
import type { Sink } from '../connectors/sink.js';
import type { Source } from '../connectors/source.js';
import { onlyBefore, onlySeries } from '../connectors/mapSource.js';
import type { FaultOptions } from '../connectors/replay/faults.js';
import { FileReplaySource } from '../connectors/replay/fileReplaySource.js';
import { withEventTimeClock } from '../connectors/replay/eventTimeSource.js';
import { NoopCommitter } from '../connectors/noopCommitter.js';
import { BatchCheckpoints } from '../runtime/checkpoint/batchCheckpoints.js';
import type { Forecaster } from '../forecasting/forecaster.js';
import type { ModelRuntime } from '../forecasting/modelRuntime.js';
import { fanOut, type EventListener } from '../observability/events.js';
import type { LogSink, Logger } from '../observability/logger.js';
import { RunStats } from '../observability/runStats.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import { PipelineRunner, type RunnerOptions } from '../runtime/pipelineRunner.js';
import { onShutdown } from '../runtime/shutdown.js';
import type { Retrainer } from '../training/retrainer.js';
import { createModel, type ModelSetup } from './createModel.js';

/** The files a replay reads and how (the CLI checked that they exist). */
export interface ReplayInput {
  readonly paths: readonly string[];
  /** Multiple of event time (default: as fast as possible). */
  readonly speed?: number | undefined;
  /** At most this many input records per second. */
  readonly rate?: number | undefined;
  /** Stop after this many input records. */
  readonly limit?: number | undefined;
  /** Only these series. */
  readonly series?: readonly string[] | undefined;
  /** Damage injected on purpose (`--drop`, `--hole`). */
  readonly faults?: FaultOptions | undefined;
  /** Per series, read only the points before this event time (ms): a fixed-origin run's histories. */
  readonly until?: ReadonlyMap<string, number> | undefined;
}

/** What a replay-like run (replay, backtest, demo, train) is made of. */
export interface ReplayRun {
  readonly spec: PipelineSpec;
  readonly source: Source;
  /** What the runner steps: `runtime` itself, or a decorator around it (metrics). */
  readonly forecaster: Forecaster;
  /** The pipeline's model runtime; runReplay closes it (and its retrainer, terminating the trainer worker). */
  readonly runtime: ModelRuntime;
  /** Loads, retrains and saves the runtime's model. */
  readonly retrainer: Retrainer;
  readonly stats: RunStats;
  /** The command's logger (the runtime's), also for the shutdown messages. */
  readonly logger: Logger;
}

/** Where runReplay reports how far it got: the CLI's progress bar, or nothing. */
export interface ReplayProgress {
  update(fraction: number, detail?: Record<string, string | number>): void;
  phase(name: string): void;
  stop(): void;
}

/** Builds a replay of `input` through `spec`'s pipeline into its model (createModel, with `model`'s setup). */
export function buildReplayRun(spec: PipelineSpec, input: ReplayInput, model: ModelSetup & { readonly logger: Logger }): ReplayRun {
  const replay = new FileReplaySource({
    paths: [...input.paths],
    ...(input.speed !== undefined ? { speed: input.speed } : {}),
    ...(input.rate !== undefined ? { rate: input.rate } : {}),
    ...(input.limit !== undefined ? { limit: input.limit } : {}),
    ...(input.faults !== undefined ? { faults: input.faults } : {}),
  });
  const chosen = input.series?.length ? onlySeries(replay, [...input.series]) : replay;
  const source = input.until !== undefined ? onlyBefore(chosen, input.until) : chosen;
  const { runtime, retrainer } = createModel(spec, model);
  return { spec, source, forecaster: runtime, runtime, retrainer, stats: new RunStats(), logger: model.logger };
}

/** Exit code of a file command stopped by a signal: 128 + the signal's number, what shells expect (Ctrl-C: 130). */
export function signalExitCode(signal: string): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/** How long a file command may take to stop at its next safe point after a signal before it exits 1 anyway. */
const STOP_TIMEOUT_MS = 10_000;

export interface ReplayOptions {
  /** Where progress goes. */
  readonly progress: ReplayProgress;
  /** Stop `progress` as soon as the replay is done (a bar of its own; default: the caller stops it). */
  readonly stopProgress?: boolean;
  /** Also told every pipeline event (RunStats always is). */
  readonly events?: EventListener;
  readonly onBatch?: RunnerOptions['onBatch'];
  /** Leave the model runtime open (train goes on with it and closes it itself). */
  readonly keepRuntime?: boolean;
  /** For the shutdown messages (default: the run's logger). */
  readonly logger?: LogSink;
}

/**
 * Runs a replay-like pipeline with progress and graceful SIGINT/SIGTERM, then closes the sinks.
 * Event time drives the windowing clock, so idle close follows the data, not the wall.
 *
 * A signal stops at the next safe point: retraining is switched off at once (the trainer worker
 * cancels at its next chunk and no candidate is promoted after it), the source stops, the batches
 * already formed are forecast and written. The process does not exit: `signal` in the result
 * tells the command, which writes what it has (a partial report) and returns its exit code.
 */
export async function runReplay(
  run: ReplayRun,
  sinks: { forecasts: Sink<Forecast>; deadLetters: Sink<DeadLetter> },
  opts: ReplayOptions,
): Promise<{ elapsedMs: number; stoppedEarly: boolean; signal?: string }> {
  const clock = new ManualClock(0);
  const { stats, source } = run;
  const listener = fanOut(stats.listener, opts.events ?? (() => undefined));
  const input = withEventTimeClock(source, clock);
  const runner = new PipelineRunner({
    spec: run.spec,
    source: input,
    forecaster: run.forecaster,
    checkpoints: new BatchCheckpoints(new NoopCommitter({ ...sinks, source: input })),
    clock,
    events: listener,
    ...(opts.onBatch ? { onBatch: opts.onBatch } : {}),
  });
  const { progress } = opts;
  // Processed (committed) rows, not rows read: reading runs ahead of the model by the buffers.
  const fraction = () => source.processed?.() ?? source.progress?.() ?? 0;
  const timer = setInterval(() => {
    progress.update(fraction(), { points: stats.points, forecasts: stats.forecasts });
  }, 200);
  const started = performance.now();
  const done = (async () => {
    try {
      const summary = await runner.run();
      progress.update(fraction(), { points: stats.points, forecasts: stats.forecasts });
      return { elapsedMs: performance.now() - started, stoppedEarly: summary.stoppedEarly };
    } finally {
      clearInterval(timer);
      if (opts.stopProgress === true) progress.stop();
      // Terminates the trainer worker, so the process can exit.
      if (opts.keepRuntime !== true) await run.runtime.close();
      await sinks.forecasts.close();
      await sinks.deadLetters.close();
    }
  })();
  let signal: string | undefined;
  const dispose = onShutdown(
    async (sig) => {
      signal = sig;
      progress.phase(`stopping (${sig})`);
      run.retrainer.setRetrain('off');
      await runner.stop();
      await done;
    },
    {
      timeoutMs: STOP_TIMEOUT_MS,
      exitWhenDone: false,
      logger: opts.logger ?? run.logger,
      messages: {
        stopping: 'stopping at the next safe point: retraining cancelled, the steps read so far are forecast and written (send it again to exit at once)',
        timedOut: `could not stop within ${STOP_TIMEOUT_MS / 1000} s; exiting with 1 (output files may be incomplete)`,
      },
    },
  );
  try {
    const out = await done;
    return signal === undefined ? out : { ...out, signal };
  } finally {
    dispose();
  }
}

/** One line on what a run did: records, points, forecasts, dead letters by reason, speed. */
export function describeRun(stats: RunStats, elapsedMs: number): string {
  const pps = stats.points / Math.max(elapsedMs / 1000, 1e-9);
  const invalid = [...stats.invalid].map(([r, n]) => `${r}=${n}`).join(' ') || 'none';
  const imputed = [...stats.imputed].map(([s, n]) => `${s}=${n}`).join(' ') || 'none';
  return (
    `records ${stats.records}, points ${stats.points}, forecasts ${stats.forecasts}, ` +
    `dead letters: ${invalid}, late ${stats.late}, imputed: ${imputed}, gap resets ${stats.gapResets}; ` +
    `${(elapsedMs / 1000).toFixed(2)} s, ${Math.round(pps).toLocaleString('en-US')} points/s`
  );
}
