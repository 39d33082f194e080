import { Observable, type OperatorFunction } from 'rxjs';
import type { ClosedStep, ImputedStep } from '../../domain/step.js';
import { IMPUTE_STRATEGIES } from '../../spec/pipelineSpec.js';
import { Imputer, type ImputerOptions } from '../core/imputer.js';

export type ImputeOptions = ImputerOptions;

export interface ImputeContext {
  /** `n` steps were invented by `strategy` (the method actually used, e.g. ffill where seasonal has no value yet). */
  readonly onImputed?: (strategy: string, n: number) => void;
  /** A missing run longer than maxGap: no values were invented and the next step has reset. */
  readonly onGapReset?: () => void;
  /** Flush held steps when the input completes (default true; false for an endless source stopped for shutdown). */
  readonly flushOnComplete?: boolean;
  /** A pre-built imputer (owned by the runtime's state store) instead of a fresh one per subscription. */
  readonly core?: Imputer;
  /** Offered each error first; true: handled (see RecordGuard), else the stream errors. */
  readonly onError?: (err: unknown) => boolean;
}

/**
 * Closed steps → gap-free imputed steps (see `Imputer`). One imputer per subscription; flushes on
 * completion (which only matters to the non-causal `linear` strategy).
 */
export function impute(opts: ImputeOptions, ctx: ImputeContext = {}): OperatorFunction<ClosedStep, ImputedStep> {
  // A raw Observable rather than concatMap(): completion must flush the imputer.
  return (source) =>
    new Observable<ImputedStep>((subscriber) => {
      const imputer = ctx.core ?? new Imputer(opts);
      const report = () => {
        const s = imputer.takeStats();
        if (ctx.onImputed !== undefined) {
          for (const m of IMPUTE_STRATEGIES) if (s.imputed[m] > 0) ctx.onImputed(m, s.imputed[m]);
        }
        if (ctx.onGapReset !== undefined) for (let i = 0; i < s.gapResets; i += 1) ctx.onGapReset();
      };
      const run = (produce: () => ImputedStep[]): boolean => {
        try {
          const out = produce();
          report();
          for (const s of out) subscriber.next(s);
          return true;
        } catch (err) {
          if (ctx.onError?.(err) !== true) subscriber.error(err);
          return false;
        }
      };
      return source.subscribe({
        next: (step) => {
          run(() => imputer.push(step));
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          if (ctx.flushOnComplete === false) subscriber.complete();
          else if (run(() => imputer.flush())) subscriber.complete();
        },
      });
    });
}
