import type { NormalizedStep } from '../../src/domain/step.js';
import { Normalizer } from '../../src/pipeline/core/normalizer.js';
import { gaussian, rng } from './normalizedSteps.js';

export const HOUR = 3_600_000;
/** Monday 2024-01-01 00:00 UTC. */
export const T0 = Date.UTC(2024, 0, 1);

export interface SeasonalOptions {
  readonly n: number;
  readonly period?: number;
  readonly level?: number;
  readonly amplitude?: number;
  readonly noise?: number;
  readonly seed?: number;
  /** Steps (by index) that are missing: emitted as imputed (forward fill). */
  readonly missing?: (i: number) => boolean;
  readonly stepMs?: number;
  readonly start?: number;
  readonly halfLifeMs?: number;
}

/**
 * One series through the real Normalizer: level + amplitude·sin(2πi/period) + noise, hourly by
 * default, with forward-filled missing steps.
 */
export function seasonalSteps(series: string, opts: SeasonalOptions): NormalizedStep[] {
  const stepMs = opts.stepMs ?? HOUR;
  const period = opts.period ?? 24;
  const level = opts.level ?? 100;
  const amp = opts.amplitude ?? 20;
  const noise = gaussian(rng(opts.seed ?? 7));
  const sd = opts.noise ?? 1;
  const norm = new Normalizer({ stepMs, halfLifeMs: opts.halfLifeMs ?? 7 * 24 * HOUR });
  const out: NormalizedStep[] = [];
  let last = level;
  let since = 0;
  for (let i = 0; i < opts.n; i++) {
    const observed = !(opts.missing?.(i) ?? false) || i === 0;
    const v = level + amp * Math.sin((2 * Math.PI * i) / period) + sd * noise();
    if (observed) last = v;
    since = observed ? 0 : since + 1;
    out.push(norm.push({ series, ts: (opts.start ?? T0) + i * stepMs, value: observed ? v : last, observed, imputed: !observed, sinceObserved: since, reset: i === 0 }));
  }
  return out;
}
