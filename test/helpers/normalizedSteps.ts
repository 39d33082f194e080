import { mulberry32 } from '../../src/domain/random.js';
import type { NormalizedStep } from '../../src/domain/step.js';

export const STEP_MS = 60_000;
/** Grid-aligned start (a whole number of hours). */
export const T0 = 28_333_333 * 3_600_000;

export interface StepsOptions {
  readonly stepMs?: number;
  readonly start?: number;
  /** Per index: observed (default all true). */
  readonly observed?: (i: number) => boolean;
  /** Per index: reset (default only the first). */
  readonly reset?: (i: number) => boolean;
  readonly scale?: { readonly mean: number; readonly std: number };
}

/** One series' consecutive NormalizedSteps carrying `values`. */
export function seriesSteps(series: string, values: readonly number[], opts: StepsOptions = {}): NormalizedStep[] {
  const stepMs = opts.stepMs ?? STEP_MS;
  const start = opts.start ?? T0;
  const scale = opts.scale ?? { mean: 0, std: 1 };
  let since = 0;
  return values.map((value, i) => {
    const observed = opts.observed?.(i) ?? true;
    since = observed ? 0 : since + 1;
    return {
      series,
      ts: start + i * stepMs,
      value,
      observed,
      imputed: !observed,
      sinceObserved: since,
      reset: opts.reset?.(i) ?? i === 0,
      z: scale.std > 0 ? (value - scale.mean) / scale.std : 0,
      scale,
    };
  });
}

/** Seeded PRNG (mulberry32) so statistical tests are reproducible. */
export const rng = mulberry32;

/** Standard normal draws (Box–Muller) from a seeded uniform source. */
export function gaussian(uniform: () => number): () => number {
  return () => {
    const u = 1 - uniform();
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}
