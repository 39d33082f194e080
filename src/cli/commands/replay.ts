import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import { ManualClock } from '../../domain/clock.js';
import type { Sink } from '../../connectors/sink.js';
import type { Source } from '../../connectors/source.js';
import { onlySeries } from '../../connectors/mapSource.js';
import { FileReplaySource } from '../../connectors/replay/fileReplaySource.js';
import { withEventTimeClock } from '../../connectors/replay/eventTimeSource.js';
import { JsonlFileSink } from '../../connectors/replay/jsonlFileSink.js';
import { JsonlSink } from '../../connectors/stdout/jsonlSink.js';
import { encodeForecast } from '../../codecs/forecastJson.js';
import { wallClock } from '../../domain/clock.js';
import { createForecaster } from '../../forecasting/createForecaster.js';
import type { Forecaster } from '../../forecasting/forecaster.js';
import type { ModelRuntime, ModelRuntimeOptions } from '../../forecasting/modelRuntime.js';
import { ArtifactStore } from '../../training/artifactStore.js';
import { fanOut, type EventListener } from '../../observability/events.js';
import { RunStats } from '../../observability/runStats.js';
import { loadSpec } from '../../pipeline/spec/loadSpec.js';
import type { PipelineSpec } from '../../pipeline/spec/pipelineSpec.js';
import { PipelineRunner, type RunnerOptions } from '../../runtime/pipelineRunner.js';
import { BatchCheckpoints } from '../../runtime/checkpoint/batchCheckpoints.js';
import { NoopCommitter } from '../../connectors/noopCommitter.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { createProgress, type Progress } from '../progress.js';
import type { LogSink, Logger } from '../../observability/logger.js';
import { cliLogger, logFlags, type LogFlags } from '../cliLogger.js';
import { createLiveObservers } from '../../runtime/liveObservers.js';
import { requireInputFiles } from '../options.js';
import { faultsFromFlags, type FaultFlags } from '../faultFlags.js';
import type { BackendFlags } from '../../config/backendConfig.js';
import { fileCommandBackends } from '../computeBackends.js';

export interface ReplayFlags extends FaultFlags, BackendFlags, LogFlags {
  input?: string[];
  out?: string;
  deadLetters?: string;
  speed?: number;
  rate?: number;
  limit?: number;
  series?: string[];
  /** InfluxDB 1.x history, e.g. http://127.0.0.1:8086/streamcast. */
  influx?: string;
  /** Models folder to load `current` from (replay: default `models`). */
  model?: string;
  /** Retrain as the spec's `retrain` section says (blocking: deterministic). */
  retrain?: boolean;
}

/** A sink that discards (dead letters are still counted by reason through the events). */
export class DiscardSink<T> implements Sink<T> {
  readonly name = 'discard';
  async write(): Promise<void> {}
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface ReplayParts {
  readonly spec: PipelineSpec;
  readonly source: Source;
  /** What the runner steps: `runtime` itself, or a decorator around it (metrics). */
  readonly forecaster: Forecaster;
  /** The pipeline's model runtime; runReplay closes it (terminating its trainer worker). */
  readonly runtime: ModelRuntime;
  readonly stats: RunStats;
  /** The command's logger (the runtime's), also for the shutdown messages. */
  readonly logger: Logger;
}

/**
 * The model runtime a replay-like command serves with: `current` from `models` when given (a bad
 * artifact is logged and the baseline serves), blocking retraining when asked. Replays never
 * write models: `streamcast train` and `run` do.
 */
export function replayRuntime(
  opts: { models?: string | undefined; retrain?: 'blocking' | 'background' | 'off' } & LogFlags & Omit<ModelRuntimeOptions, 'spec' | 'store' | 'retrain'>,
): Omit<ModelRuntimeOptions, 'spec'> & { logger: Logger } {
  const { models, quiet, logLevel, logFormat, ...rest } = opts;
  return {
    ...rest,
    ...(models !== undefined ? { store: new ArtifactStore(models, wallClock), persist: false } : {}),
    logger: (rest.logger as Logger | undefined) ?? cliLogger({ ...(quiet !== undefined ? { quiet } : {}), ...(logLevel !== undefined ? { logLevel } : {}), ...(logFormat !== undefined ? { logFormat } : {}) }),
  };
}

/** Builds what a replay-like command (replay, backtest, demo) shares: spec, source, model. */
export function replayParts(specPath: string, flags: ReplayFlags, runtime: Omit<ModelRuntimeOptions, 'spec'> = {}): ReplayParts {
  const logger = (runtime.logger as Logger | undefined) ?? cliLogger(flags);
  const spec = loadSpec(specPath);
  const paths = requireInputFiles(flags.input);
  const replay = new FileReplaySource({
    paths,
    ...(flags.speed !== undefined ? { speed: flags.speed } : {}),
    ...(flags.rate !== undefined ? { rate: flags.rate } : {}),
    ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
    ...faultsFromFlags(flags),
  });
  const source = flags.series?.length ? onlySeries(replay, flags.series) : replay;
  const model = createForecaster(spec, runtime);
  return { spec, source, forecaster: model, runtime: model, stats: new RunStats(), logger };
}

/** Exit code of a file command stopped by a signal: 128 + the signal's number, what shells expect (Ctrl-C: 130). */
export function signalExitCode(signal: string): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/** How long a file command may take to stop at its next safe point after a signal before it exits 1 anyway. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * Runs a replay-like pipeline with progress on stderr and graceful SIGINT/SIGTERM, then closes
 * the sinks. Event time drives the windowing clock, so idle close follows the data, not the wall.
 *
 * A signal stops at the next safe point: retraining is switched off at once (the trainer worker
 * cancels at its next chunk and no candidate is promoted after it), the source stops, the batches
 * already formed are forecast and written. The process does not exit: `signal` in the result
 * tells the command, which writes what it has (a partial report) and returns its exit code.
 * Progress is `opts.progress` (the caller's, e.g. with phases) or a bar of its own.
 */
export async function runReplay(
  parts: ReplayParts,
  sinks: { forecasts: Sink<Forecast>; deadLetters: Sink<DeadLetter> },
  opts: { label: string; quiet?: boolean; events?: EventListener; onBatch?: RunnerOptions['onBatch']; keepRuntime?: boolean; progress?: Progress; logger?: LogSink },
): Promise<{ elapsedMs: number; stoppedEarly: boolean; signal?: string }> {
  const clock = new ManualClock(0);
  const { stats, source } = parts;
  const listener = fanOut(stats.listener, opts.events ?? (() => undefined));
  const input = withEventTimeClock(source, clock);
  const runner = new PipelineRunner({
    spec: parts.spec,
    source: input,
    forecaster: parts.forecaster,
    checkpoints: new BatchCheckpoints(new NoopCommitter({ ...sinks, source: input })),
    clock,
    events: listener,
    ...(opts.onBatch ? { onBatch: opts.onBatch } : {}),
  });
  const progress = opts.progress ?? createProgress(opts.label, { quiet: opts.quiet });
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
      if (opts.progress === undefined) progress.stop();
      // Terminates the trainer worker, so the process can exit (train goes on with it and closes it itself).
      if (opts.keepRuntime !== true) await parts.runtime.close();
      await sinks.forecasts.close();
      await sinks.deadLetters.close();
    }
  })();
  let signal: string | undefined;
  const dispose = onShutdown(
    async (sig) => {
      signal = sig;
      progress.phase(`stopping (${sig})`);
      parts.runtime.setRetrain('off');
      await runner.stop();
      await done;
    },
    {
      timeoutMs: STOP_TIMEOUT_MS,
      exitWhenDone: false,
      logger: opts.logger ?? parts.logger,
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

export async function replayCommand(specPath: string, flags: ReplayFlags): Promise<number> {
  const backends = await fileCommandBackends(flags);
  const parts = replayParts(specPath, flags, replayRuntime({ models: flags.model ?? 'models', retrain: flags.retrain === true ? 'blocking' : 'off', ...logFlags(flags), trainBackend: backends.config.train }));
  await backends.started(parts.runtime, flags.retrain === true && parts.spec.model.type === 'gru');
  const forecasts: Sink<Forecast> = flags.out ? new JsonlFileSink<Forecast>(flags.out, { serialize: encodeForecast }) : new JsonlSink<Forecast>(process.stdout, { serialize: encodeForecast });
  const deadLetters: Sink<DeadLetter> = flags.deadLetters ? new JsonlFileSink<DeadLetter>(flags.deadLetters) : new DiscardSink<DeadLetter>();
  const observers = flags.influx
    ? createLiveObservers({ spec: parts.spec, events: parts.stats.listener, logger: parts.logger, influxUrl: flags.influx })
    : undefined;
  const { elapsedMs, stoppedEarly, signal } = await runReplay(
    parts,
    { forecasts, deadLetters },
    { label: 'replay', quiet: flags.quiet, ...(observers ? { onBatch: observers.onBatch } : {}) },
  );
  const history = await observers?.close();
  process.stderr.write(`${stoppedEarly ? 'stopped: ' : 'done: '}${describeRun(parts.stats, elapsedMs)}\n`);
  if (history) process.stderr.write(`InfluxDB history: ${history.written} points written, ${history.dropped} dropped\n`);
  return signal === undefined ? 0 : signalExitCode(signal);
}
