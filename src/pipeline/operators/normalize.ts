import { Observable, type OperatorFunction } from 'rxjs';
import type { ImputedStep, NormalizedStep } from '../../domain/step.js';
import { Normalizer, type NormalizerOptions } from '../core/normalizer.js';

export type NormalizeOptions = NormalizerOptions;

export interface NormalizeContext {
  /** A pre-built normalizer (owned by the runtime's state store) instead of a fresh one per subscription. */
  readonly core?: Normalizer;
  /** Offered each error first; true: handled (see RecordGuard), else the stream errors. */
  readonly onError?: (err: unknown) => boolean;
}

/** Imputed steps → z-scored steps with the scale that inverts them (see `Normalizer`). */
export function normalize(opts: NormalizeOptions, ctx: NormalizeContext = {}): OperatorFunction<ImputedStep, NormalizedStep> {
  // Validate eagerly (a bad spec fails at build time), then one normalizer per subscription.
  new Normalizer(opts);
  return (source) =>
    new Observable<NormalizedStep>((subscriber) => {
      const normalizer = ctx.core ?? new Normalizer(opts);
      return source.subscribe({
        next: (step) => {
          let out: NormalizedStep;
          try {
            out = normalizer.push(step);
          } catch (err) {
            if (ctx.onError?.(err) !== true) subscriber.error(err);
            return;
          }
          // Outside the try: what the micro-batcher downstream does is not this step's doing.
          subscriber.next(out);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
