import { setImmediate as nextTurn } from 'node:timers/promises';
import { concatMap, defer, finalize, Subscription, tap } from 'rxjs';
import type { Clock } from '../domain/clock.js';
import type { Forecast } from '../domain/forecast.js';
import type { NormalizedStep } from '../domain/step.js';
import type { Source } from '../connectors/source.js';
import type { Forecaster } from '../forecasting/forecaster.js';
import type { EventListener } from '../observability/events.js';
import { buildStepPipeline, type PipelineContext, type StepBatch } from '../pipeline/build.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { Checkpoints } from './checkpoint/checkpoints.js';

export interface RunnerOptions {
  readonly spec: PipelineSpec;
  readonly source: Source;
  readonly forecaster: Forecaster;
  readonly clock: Clock;
  readonly events: EventListener;
  /**
   * Where the run's forecasts, dead letters and input positions go, and when they become durable:
   * CheckpointCoordinator (state checkpointed to Kafka) or BatchCheckpoints (files, the demo),
   * each handing its checkpoints to a Committer of the pipeline's guarantee (src/runtime/checkpoint/).
   */
  readonly checkpoints: Checkpoints;
  /** Called after a batch is stepped, before its forecasts go to the checkpoints. Must not block. */
  readonly onBatch?: (steps: readonly NormalizedStep[], forecasts: readonly Forecast[]) => void;
  /** Pause the source when this many batches wait to be stepped; resume below half of it. */
  readonly maxInFlightBatches?: number;
  /** Live-input options of the step pipeline (see PipelineContext). */
  readonly pipeline?: Pick<PipelineContext, 'flushOnComplete' | 'idleTicks' | 'logger'>;
}

export interface RunSummary {
  readonly batches: number;
  readonly steps: number;
  readonly forecasts: number;
  readonly deadLetters: number;
  readonly stoppedEarly: boolean;
}

/**
 * Drives one pipeline: source → step pipeline → forecaster → checkpoints, batch after batch.
 * What becomes durable when, and in which order, is the checkpoints' and their committer's
 * business, the same on every path (Kafka, files, the demo). `run()` resolves when a finite source
 * is exhausted or after `stop()`; both are idempotent.
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

  /** Stops fetching, lets in-flight batches finish and the last checkpoint commit; resolves when done. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stoppedEarly = true;
      await this.opts.source.stop();
      if (this.running) await this.running.catch(() => undefined);
    })();
    return this.stopping;
  }

  private async execute(): Promise<RunSummary> {
    const { spec, source, forecaster, clock, events, onBatch, checkpoints } = this.opts;
    const maxInFlight = this.opts.maxInFlightBatches ?? 8;
    let inFlight = 0;
    let paused = false;
    const totals = { batches: 0, steps: 0, forecasts: 0, deadLetters: 0 };

    const handle = async (batch: StepBatch) => {
      // Model loading, or a blocking retrain (backtests, replays), finishes before the batch is stepped.
      const pending = forecaster.pendingWork?.();
      if (pending !== undefined) await pending;
      const forecasts = forecaster.stepAsync !== undefined ? await forecaster.stepAsync(batch.steps) : forecaster.step(batch.steps);
      totals.batches++;
      totals.steps += batch.steps.length;
      totals.forecasts += forecasts.length;
      events({ type: 'active_series', count: forecaster.size });
      events({ type: 'forecasts_out', count: forecasts.length });
      onBatch?.(batch.steps, forecasts);
      await checkpoints.afterStep(batch, forecasts);
    };

    try {
      await source.start();
      await new Promise<void>((resolve, reject) => {
        checkpoints.onFailure((err) => {
          this.subscription?.unsubscribe();
          reject(err);
        });
        this.subscription = defer(() => source.records())
          .pipe(
            tap((rec) => checkpoints.record(rec)),
            buildStepPipeline(spec, {
              clock,
              events,
              onDeadLetter: (letters) => {
                totals.deadLetters += letters.length;
                checkpoints.deadLetters(letters);
              },
              ...checkpoints.context,
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
      await checkpoints.finish();
    } finally {
      // Leaves the input (Kafka: the consumer group) only after the last commit above.
      await source.close?.();
    }
    return { ...totals, stoppedEarly: this.stoppedEarly };
  }
}
