import { map, type Observable, type OperatorFunction, type SchedulerLike, tap } from 'rxjs';
import { deadLetter } from '../codecs/deadLetterOf.js';
import type { Clock } from '../domain/clock.js';
import type { DeadLetter, RecordSource } from '../domain/deadLetter.js';
import { errorText } from '../domain/errorText.js';
import type { Point } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';
import type { Ingested } from '../domain/ingested.js';
import type { Position } from '../domain/position.js';
import type { EventListener } from '../observability/events.js';
import type { LogSink } from '../observability/logger.js';
import { Imputer } from './core/imputer.js';
import { Normalizer } from './core/normalizer.js';
import { type Rebased, Resampler } from './core/resampler.js';
import { RecordGuard } from './recordGuard.js';
import { impute } from './operators/impute.js';
import { microBatch } from './operators/microBatch.js';
import { normalize } from './operators/normalize.js';
import { resample } from './operators/resample.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { SeriesRegistry } from '../state/seriesRegistry.js';
import { imputerOptions, microBatchOptions, normalizerOptions, resamplerOptions } from '../spec/specOptions.js';

/** One micro-batch of model-ready steps (an object of its own: checkpoints tell batches apart by identity). */
export interface StepBatch {
  readonly steps: readonly NormalizedStep[];
}

export interface PipelineContext {
  readonly clock: Clock;
  readonly scheduler?: SchedulerLike;
  readonly events: EventListener;
  /** Malformed records and rejected points (late, future-stamped) go here, never lost. */
  readonly onDeadLetter: (letters: readonly DeadLetter[]) => void;
  /**
   * Emit open windows and held imputation when the input completes (default true, for files).
   * False for an endless source (Kafka): completion then means shutdown, not end of data, and
   * flushing would emit premature steps that the restarted process emits again, differently.
   */
  readonly flushOnComplete?: boolean;
  /** Live mode: each emission closes idle series' windows even when no record arrives. */
  readonly idleTicks?: Observable<unknown>;
  /**
   * Pre-built per-series state cores (default: fresh ones per subscription). The runtime passes
   * the ones its state store owns, so that it can snapshot, restore and drop series.
   */
  readonly cores?: PipelineCores;
  /**
   * Checkpoint barriers: each emission makes the micro-batcher emit at once, an empty batch when
   * it holds nothing, so that `onBatchFormed` sees a point where no step is buffered.
   */
  readonly barriers?: Observable<unknown>;
  /**
   * Called synchronously as each batch forms, before anything else is read. At that moment the
   * cores' state covers exactly the records read so far minus the steps of this and earlier, not
   * yet stepped, batches: the consistent cut a checkpoint captures (with the positions read so far).
   */
  readonly onBatchFormed?: (batch: StepBatch) => void;
  /** Where a series re-based off a skewed clock is reported (a warning; the metric counts it regardless). */
  readonly logger?: LogSink;
}

export interface PipelineCores {
  readonly resampler?: Resampler;
  readonly imputer?: Imputer;
  readonly normalizer?: Normalizer;
}

/** The per-series parts a pipeline run checkpoints: its concrete cores and its forecaster. */
export type PipelineStateCores<F> = Required<PipelineCores> & { readonly forecaster: F };

/**
 * The cores `buildStepPipeline` would create for `spec`, built up front for an owner that
 * snapshots them. `registry`: the pipeline's series index, shared with the forecaster and the
 * state store, so that the cores' typed state lines up by slot and hears the registry's drops.
 */
export function createPipelineCores(spec: PipelineSpec, registry?: SeriesRegistry): Required<PipelineCores> {
  return {
    resampler: new Resampler(resamplerOptions(spec)),
    imputer: new Imputer(imputerOptions(spec), registry),
    normalizer: new Normalizer(normalizerOptions(spec), registry),
  };
}

/**
 * A rejected point becomes a dead letter so that it is counted and kept, not silently dropped.
 * `source` is the record that carried it, so that the letter can be replayed from there.
 */
function rejectedPoint(point: Point, reason: 'late' | 'future_timestamp', source: RecordSource): DeadLetter {
  return {
    reason: reason === 'late' ? 'late' : 'future_timestamp',
    message:
      reason === 'late'
        ? `point at ${new Date(point.ts).toISOString()} arrived after its step closed (raise window.lateness to accept it)`
        : `point at ${new Date(point.ts).toISOString()} jumps beyond window.maxJump and was not confirmed by window.jumpConfirm agreeing points`,
    source,
    payload: JSON.stringify(point),
  };
}

/** The record a position follows (positions name the next record to read), for sources that say no more. */
function recordBefore(position: Position): RecordSource {
  const next = position.offset;
  // Kafka offsets can exceed 2^53; file line numbers never come close.
  const offset = next.length < 16 ? String(Number(next) - 1) : (BigInt(next) - 1n).toString();
  return { topic: position.topic, partition: position.partition, offset, key: null };
}

/**
 * The dead letter of a record the pipeline failed on: its original bytes when the source kept
 * them, else its decoded points (flat objects: serializing them cannot fail).
 */
function internalErrorLetter(rec: Ingested, err: unknown, point: number): DeadLetter {
  const source = rec.source ?? recordBefore(rec.position);
  const message = `processing failed at point ${point + 1} of ${rec.points.length} (a streamcast bug; please report it; points before it were applied): ${errorText(err)}`;
  return deadLetter('internal_error', message, source, rec.payload ?? JSON.stringify(rec.points));
}

/**
 * The operator chain from decoded records to model-ready micro-batches: the same code runs for
 * Kafka, file replay and the demo, so backtests exercise the production path.
 * decode results → event-time resampling → imputation → normalization → micro-batching.
 */
export function buildStepPipeline(spec: PipelineSpec, ctx: PipelineContext): OperatorFunction<Ingested, StepBatch> {
  const { events } = ctx;
  // The record whose points are being pushed now (concatMap pushes them before the next record).
  let current: Ingested | undefined;
  let currentSource: RecordSource | undefined;
  const origin = (): RecordSource | undefined => {
    if (currentSource === undefined && current !== undefined) currentSource = current.source ?? recordBefore(current.position);
    return currentSource;
  };
  const flushOnComplete = ctx.flushOnComplete ?? true;
  // A record the chain throws on is dead-lettered and the stream goes on (see RecordGuard).
  const guard = new RecordGuard((rec, err, point) => {
    events({ type: 'invalid', reason: 'internal_error', count: 1 });
    ctx.onDeadLetter([internalErrorLetter(rec, err, point)]);
  });
  const onError = guard.caught;

  return (input$: Observable<Ingested>) =>
    input$.pipe(
      tap((rec) => {
        events({ type: 'records_in', count: 1 });
        if (rec.points.length) events({ type: 'points_in', count: rec.points.length });
        if (rec.deadLetters.length) {
          for (const d of rec.deadLetters) events({ type: 'invalid', reason: d.reason, count: 1 });
          ctx.onDeadLetter(rec.deadLetters);
        }
        current = rec;
        currentSource = rec.source;
      }),
      guard.points(),
      resample(resamplerOptions(spec), {
        clock: ctx.clock,
        flushOnComplete,
        onError,
        ...(ctx.idleTicks ? { ticks: ctx.idleTicks } : {}),
        ...(ctx.cores?.resampler ? { core: ctx.cores.resampler } : {}),
        origin,
        onRejected: (point, reason, source) => {
          events(reason === 'late' ? { type: 'late', count: 1 } : { type: 'invalid', reason: 'future_timestamp', count: 1 });
          // Without a source: a point held in state written before sources were kept (an
          // upgrade); the record that rejected it is of the same series and partition.
          const from = source ?? origin() ?? { topic: '', partition: 0, offset: '', key: null };
          ctx.onDeadLetter([rejectedPoint(point, reason, from)]);
        },
        onRebased: (r: Rebased) => {
          events({ type: 'series_rebased', count: 1 });
          ctx.logger?.warn(
            { series: r.series, from: r.from, to: r.to },
            `series ${JSON.stringify(r.series)} re-based from ${new Date(r.from).toISOString()} back to ${new Date(r.to).toISOString()}: ` +
              `window.jumpConfirm points in a row arrived more than window.maxJump behind its watermark, so the watermark was the skewed clock. ` +
              'Its imputation restarts and its forecaster state resets. Operator action: check the clock of the producer that wrote the series ahead',
          );
        },
      }),
      impute(imputerOptions(spec), {
        onImputed: (strategy, n) => events({ type: 'imputed', strategy, count: n }),
        onGapReset: () => events({ type: 'gap_reset', count: 1 }),
        flushOnComplete,
        onError,
        ...(ctx.cores?.imputer ? { core: ctx.cores.imputer } : {}),
      }),
      normalize(normalizerOptions(spec), ctx.cores?.normalizer ? { core: ctx.cores.normalizer, onError } : { onError }),
      microBatch(microBatchOptions(spec), ctx.scheduler, ctx.barriers),
      map((steps): StepBatch => {
        const batch: StepBatch = { steps };
        ctx.onBatchFormed?.(batch);
        return batch;
      }),
    );
}
