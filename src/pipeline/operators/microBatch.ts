import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { ConfigError } from '../../domain/errors.js';

export interface MicroBatchOptions {
  /** Emit as soon as a batch holds this many items. */
  readonly maxSize: number;
  /** Emit at most this long after the first item of a batch arrived. */
  readonly maxWaitMs: number;
}

/**
 * Groups items into batches: a batch is emitted when it reaches `maxSize` or `maxWaitMs` after
 * its first item, whichever comes first; the remainder is emitted on completion. Never emits an
 * empty array. Unlike `bufferTime`, the timer starts with a batch's first item (so an idle
 * stream costs nothing and a lone item waits at most maxWaitMs) and runs on `scheduler`, which
 * tests replace with a virtual-time one.
 *
 * `flush` (optional) is a barrier: each emission emits the batch now, an EMPTY one when nothing is
 * buffered, so that the consumer sees a point where nothing is held here (checkpoints use it).
 */
export function microBatch<T>(opts: MicroBatchOptions, scheduler: SchedulerLike = asyncScheduler, flush?: Observable<unknown>): OperatorFunction<T, T[]> {
  if (!Number.isInteger(opts.maxSize) || opts.maxSize < 1) {
    throw new ConfigError(`batch.maxSize must be a whole number ≥ 1 (got ${opts.maxSize})`);
  }
  if (!Number.isFinite(opts.maxWaitMs) || opts.maxWaitMs < 0) {
    throw new ConfigError(`batch.maxWait must be ≥ 0 ms (got ${opts.maxWaitMs})`);
  }
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let timer: Subscription | undefined;
      // Swap the buffer out before emitting: a subscriber may synchronously feed the source.
      const emit = () => {
        timer?.unsubscribe();
        timer = undefined;
        if (batch.length === 0) return;
        const out = batch;
        batch = [];
        subscriber.next(out);
      };
      const sub = source.subscribe({
        next: (item) => {
          batch.push(item);
          if (batch.length >= opts.maxSize) {
            emit();
          } else if (timer === undefined) {
            timer = scheduler.schedule(emit, opts.maxWaitMs);
          }
        },
        error: (err: unknown) => {
          timer?.unsubscribe();
          subscriber.error(err);
        },
        complete: () => {
          emit();
          subscriber.complete();
        },
      });
      const barrier =
        flush === undefined || sub.closed
          ? undefined
          : flush.subscribe({
              next: () => {
                timer?.unsubscribe();
                timer = undefined;
                const out = batch;
                batch = [];
                subscriber.next(out);
              },
              error: (err: unknown) => subscriber.error(err),
            });
      return () => {
        timer?.unsubscribe();
        sub.unsubscribe();
        barrier?.unsubscribe();
      };
    });
}
