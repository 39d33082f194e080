import { setImmediate as nextTurn } from 'node:timers/promises';
import { concatMap, defer, finalize, Subscription, tap } from 'rxjs';
import type { Clock } from '../domain/clock.js';
import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import type { NormalizedStep } from '../domain/step.js';
import type { Sink } from '../connectors/sink.js';
import type { Ingested } from '../domain/ingested.js';
import type { Source } from '../connectors/source.js';
import type { Forecaster } from '../forecasting/forecaster.js';
import type { EventListener } from '../observability/events.js';
import { buildStepPipeline, type PipelineContext, type StepBatch } from '../pipeline/build.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';

export interface RunnerOptions {
  readonly spec: PipelineSpec;
  readonly source: Source;
  readonly forecaster: Forecaster;
  readonly forecastSink: Sink<Forecast>;
  readonly deadLetterSink: Sink<DeadLetter>;
  readonly clock: Clock;
  readonly events: EventListener;
  /** Called after a batch's forecasts are written, before its positions are committed. */
  readonly onBatch?: (steps: readonly NormalizedStep[], forecasts: readonly Forecast[]) => void;
  /** Pause the source when this many batches wait to be written; resume below half of it. */
  readonly maxInFlightBatches?: number;
  /**
   * Flush both sinks before every commit (default false). Needed where `write` only buffers and
   * `commit` makes input positions durable (Kafka): committing first could lose the outputs.
   */
  readonly flushBeforeCommit?: boolean;
  /** Live-input options of the step pipeline (see PipelineContext). */
  readonly pipeline?: Pick<PipelineContext, 'flushOnComplete' | 'commitPositions' | 'idleTicks' | 'logger'>;
  /**
   * Checkpointed state (Kafka with a state changelog): when given, it owns the pipeline's cores,
   * and forecasts, dead letters and positions go to it instead of the sinks and `source.commit`;
   * see src/runtime/checkpoint.ts.
   */
  readonly checkpoint?: RunnerCheckpoint;
}

/** What the runner needs of a checkpoint coordinator (CheckpointCoordinator implements it). */
export interface RunnerCheckpoint {
  /** Cores, barriers and the batch-formed hook for the step pipeline. */
  readonly context: Pick<PipelineContext, 'cores' | 'barriers' | 'onBatchFormed'>;
  record(rec: Ingested): void;
  deadLetters(letters: readonly DeadLetter[]): void;
  afterStep(batch: StepBatch, forecasts: readonly Forecast[]): Promise<void>;
  onFailure(listener: (err: unknown) => void): void;
  /** The last checkpoint, once the input completed and every batch was handled. */
  finish(): Promise<void>;
}

export interface RunSummary {
  readonly batches: number;
  readonly steps: number;
  readonly forecasts: number;
  readonly deadLetters: number;
  readonly stoppedEarly: boolean;
}

/**
 * Drives one pipeline: source → step pipeline → forecaster → sinks → commit, in that order for
 * every batch, so a committed position never runs ahead of the outputs derived from it.
 * `run()` resolves when a finite source is exhausted or after `stop()`; both are idempotent.
 */
export class PipelineRunner {
  private running?: Promise<RunSummary>;
  private stopping?: Promise<void>;
  private subscription?: Subscription;
  private stoppedEarly = false;

  constructor(private readonly opts: RunnerOptions) {}

  run(): Promise<RunSummary> {
    this.running ??= this.execute();
    return this.running;
  }

  /** Stops fetching, lets in-flight batches finish and the sinks flush; resolves when done. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stoppedEarly = true;
      await this.opts.source.stop();
      if (this.running) await this.running.catch(() => undefined);
    })();
    return this.stopping;
  }

  private async execute(): Promise<RunSummary> {
    const { spec, source, forecaster, forecastSink, deadLetterSink, clock, events, onBatch, checkpoint } = this.opts;
    const maxInFlight = this.opts.maxInFlightBatches ?? 8;
    let pendingDead: DeadLetter[] = [];
    let inFlight = 0;
    let paused = false;
    const totals = { batches: 0, steps: 0, forecasts: 0, deadLetters: 0 };

    const flushDeadLetters = async () => {
      if (pendingDead.length === 0) return;
      const letters = pendingDead;
      pendingDead = [];
      totals.deadLetters += letters.length;
      await deadLetterSink.write(letters);
    };

    const handle = async (batch: StepBatch) => {
      // Model loading, or a blocking retrain (backtests, replays), finishes before the batch is stepped.
      const pending = forecaster.pendingWork?.();
      if (pending !== undefined) await pending;
      const forecasts = forecaster.stepAsync !== undefined ? await forecaster.stepAsync(batch.steps) : forecaster.step(batch.steps);
      totals.batches++;
      totals.steps += batch.steps.length;
      totals.forecasts += forecasts.length;
      events({ type: 'active_series', count: forecaster.size });
      if (checkpoint !== undefined) {
        // Forecasts, state and offsets leave together, in the coordinator's order.
        events({ type: 'forecasts_out', count: forecasts.length });
        onBatch?.(batch.steps, forecasts);
        await checkpoint.afterStep(batch, forecasts);
        return;
      }
      await forecastSink.write(forecasts);
      events({ type: 'forecasts_out', count: forecasts.length });
      onBatch?.(batch.steps, forecasts);
      await flushDeadLetters();
      // Outputs durable first, then the input positions they cover: committing first would lose
      // the outputs of a crash in between, which no replay would make again.
      if (this.opts.flushBeforeCommit === true) {
        await forecastSink.flush();
        await deadLetterSink.flush();
      }
      await source.commit(batch.positions);
    };

    try {
      await source.start();
      await new Promise<void>((resolve, reject) => {
        checkpoint?.onFailure((err) => {
          this.subscription?.unsubscribe();
          reject(err);
        });
        this.subscription = defer(() => source.records())
          .pipe(
            tap((rec) => checkpoint?.record(rec)),
            buildStepPipeline(spec, {
              clock,
              events,
              onDeadLetter: (letters) => {
                if (checkpoint === undefined) pendingDead.push(...letters);
                else {
                  totals.deadLetters += letters.length;
                  checkpoint.deadLetters(letters);
                }
              },
              ...checkpoint?.context,
              ...this.opts.pipeline,
            }),
            // Backpressure: a slow sink or model pauses the source instead of buffering. Counted
            // as batches arrive, before concatMap: its queue of waiting batches is the buffer.
            tap(() => {
              if (++inFlight >= maxInFlight && !paused) {
                paused = true;
                source.pause();
              }
            }),
            concatMap(async (batch) => {
              try {
                await handle(batch);
                // A batch whose work never waits on I/O resolves in microtasks, and so would the
                // next: give timers, fetch responses and producer acknowledgements a turn.
                await nextTurn();
              } finally {
                if (--inFlight <= maxInFlight / 2 && paused) {
                  paused = false;
                  source.resume();
                }
              }
            }),
            finalize(() => undefined),
          )
          .subscribe({ error: reject, complete: resolve });
      });
      await checkpoint?.finish();
      await flushDeadLetters();
      await forecastSink.flush();
      await deadLetterSink.flush();
    } finally {
      // Leaves the input (Kafka: the consumer group) only after the last commit above.
      await source.close?.();
    }
    return { ...totals, stoppedEarly: this.stoppedEarly };
  }
}
