import type { EpochMs, SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';

/**
 * The newest steps of one series, decoded from the history ring: what training and re-warming
 * read. Step i is at ts `firstTs + i·stepMs`; the steps are consecutive on the grid and the first
 * one starts a segment (h₀ = 0), as after a `reset` step.
 */
export interface SeriesWindow {
  readonly series: SeriesId;
  readonly stepMs: number;
  readonly firstTs: EpochMs;
  readonly length: number;
  /** Normalized value as the pipeline produced it (imputed when not observed). */
  readonly z: Float32Array;
  /** 1 observed, 0 imputed. */
  readonly observed: Uint8Array;
  readonly sinceObserved: Float32Array;
  /** The scale in force at each step; value = z·std + mean. */
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

export function windowSteps(w: SeriesWindow, from = 0, to = w.length): NormalizedStep[] {
  const out: NormalizedStep[] = [];
  for (let i = from; i < to; i++) {
    const z = w.z[i]!;
    const scale = { mean: w.mean[i]!, std: w.std[i]! };
    const observed = w.observed[i] === 1;
    out.push({
      series: w.series,
      ts: w.firstTs + i * w.stepMs,
      value: z * scale.std + scale.mean,
      observed,
      imputed: !observed,
      sinceObserved: w.sinceObserved[i]!,
      reset: i === 0,
      z,
      scale,
    });
  }
  return out;
}
