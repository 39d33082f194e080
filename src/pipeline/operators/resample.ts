import { Observable, type OperatorFunction, type Subscription } from 'rxjs';
import type { Clock } from '../../domain/clock.js';
import type { RecordSource } from '../../domain/deadLetter.js';
import { ConfigError } from '../../domain/errors.js';
import type { Point } from '../../domain/point.js';
import type { ClosedStep } from '../../domain/step.js';
import { Resampler, type Rebased, type RejectReason, type ResamplerOptions } from '../core/resampler.js';

export type ResampleOptions = ResamplerOptions;

export interface ResampleContext {
  /** Arrival time of each point and the reference for idle close. */
  readonly clock: Clock;
  /**
   * Late and future-stamped points: route them (dead letter, metric), never drop them silently.
   * `source` is what `origin` returned when the point arrived (a held point keeps its own).
   */
  readonly onRejected: (point: Point, reason: RejectReason, source: RecordSource | undefined) => void;
  /** The input record of the point being pushed now (read once per point; default none). */
  readonly origin?: () => RecordSource | undefined;
  /** A series was re-based onto an earlier clock (see Resampler); called before its steps are emitted. */
  readonly onRebased?: (r: Rebased) => void;
  /** Run `closeIdle` at most once per this much clock time as points pass; default idleCloseMs / 4. */
  readonly idleCheckEveryMs?: number;
  /**
   * Optional heartbeat (live mode merges a timer here): each emission runs `closeIdle`, so quiet
   * series close even when no point at all arrives. It does not keep the operator alive: the
   * output completes when the points complete.
   */
  readonly ticks?: Observable<unknown>;
  /**
   * Close every open bucket when the input completes (default true): right for a finite input
   * (a file ended), wrong for an endless one stopped for shutdown, whose open windows must stay
   * open (their records are re-read or restored) rather than be emitted as premature steps.
   */
  readonly flushOnComplete?: boolean;
  /**
   * A pre-built resampler to run instead of a fresh one per subscription, so that its owner (the
   * runtime's state store) can snapshot, restore and drop series. Its options win over `opts`.
   */
  readonly core?: Resampler;
  /** Offered each error first; true: handled (see RecordGuard), else the stream errors. */
  readonly onError?: (err: unknown) => boolean;
}

/**
 * Points → closed steps of each series' event-time grid (see `Resampler`). One resampler per
 * subscription, so the operator is reusable. Flushes all open buckets when the input completes,
 * unless `flushOnComplete` is false.
 */
export function resample(opts: ResampleOptions, ctx: ResampleContext): OperatorFunction<Point, ClosedStep> {
  const every = ctx.idleCheckEveryMs ?? opts.idleCloseMs / 4;
  if (!Number.isFinite(every) || every < 0) {
    throw new ConfigError(`resample: idleCheckEveryMs must be a finite number ≥ 0 (got ${every})`);
  }
  // A raw Observable rather than scan(): completion must flush, and the optional tick stream
  // must be subscribed and torn down alongside the source.
  return (source) =>
    new Observable<ClosedStep>((subscriber) => {
      const resampler = ctx.core ?? new Resampler(opts);
      let lastIdleCheck = ctx.clock.now();
      const emitAll = (steps: readonly ClosedStep[]) => {
        for (const s of steps) subscriber.next(s);
      };
      const closeIdle = (now: number) => {
        lastIdleCheck = now;
        emitAll(resampler.closeIdle(now));
      };

      let ticks: Subscription | undefined;
      const main = source.subscribe({
        next: (point) => {
          try {
            const now = ctx.clock.now();
            const { steps, rejected, rebased } = resampler.push(point, now, ctx.origin?.());
            for (const r of rejected) ctx.onRejected(r.point, r.reason, r.source);
            if (rebased !== undefined) ctx.onRebased?.(rebased);
            emitAll(steps);
            if (now - lastIdleCheck >= every) closeIdle(now);
          } catch (err) {
            if (ctx.onError?.(err) !== true) subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          ticks?.unsubscribe();
          if (ctx.flushOnComplete === false) {
            subscriber.complete();
            return;
          }
          try {
            const steps = resampler.flush();
            for (const r of resampler.flushRejected()) ctx.onRejected(r.point, r.reason, r.source);
            emitAll(steps);
            subscriber.complete();
          } catch (err) {
            subscriber.error(err);
          }
        },
      });
      if (ctx.ticks !== undefined && !main.closed) {
        ticks = ctx.ticks.subscribe({
          next: () => {
            try {
              closeIdle(ctx.clock.now());
            } catch (err) {
              subscriber.error(err);
            }
          },
          error: (err: unknown) => subscriber.error(err),
        });
      }
      return () => {
        main.unsubscribe();
        ticks?.unsubscribe();
      };
    });
}
