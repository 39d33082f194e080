import { defer, map, type OperatorFunction } from 'rxjs';
import type { ImputedStep, NormalizedStep } from '../../domain/step.js';
import { Normalizer, type NormalizerOptions } from '../core/normalizer.js';

export type NormalizeOptions = NormalizerOptions;

export interface NormalizeContext {
  /** A pre-built normalizer (owned by the runtime's state store) instead of a fresh one per subscription. */
  readonly core?: Normalizer;
}

/** Imputed steps → z-scored steps with the scale that inverts them (see `Normalizer`). */
export function normalize(opts: NormalizeOptions, ctx: NormalizeContext = {}): OperatorFunction<ImputedStep, NormalizedStep> {
  // Validate eagerly (a bad spec fails at build time), then one normalizer per subscription.
  new Normalizer(opts);
  return (source) =>
    defer(() => {
      const normalizer = ctx.core ?? new Normalizer(opts);
      return source.pipe(map((step) => normalizer.push(step)));
    });
}
