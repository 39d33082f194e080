import { ConfigError, StreamcastError } from '../../domain/errors.js';
import type { EpochMs, SeriesId } from '../../domain/point.js';
import { SlotPages } from '../../domain/seriesSlots.js';
import type { NormalizerSnapshot } from '../../state/coreSnapshots.js';
import { type HeldSlots, SeriesRegistry } from '../../state/seriesRegistry.js';
import type { ImputedStep, NormalizedStep, Scale } from '../../domain/step.js';

export interface NormalizerOptions {
  readonly stepMs: number;
  /** Event time after which an observation's weight has halved. */
  readonly halfLifeMs: number;
}

/** |z| never exceeds this: one wild value must not saturate or destabilise the model. */
export const Z_CLIP = 50;
/** std floor relative to |mean|: a constant series has var 0, yet z must stay finite. */
export const STD_FLOOR_REL = 1e-3;
/** Absolute std floor, for constant series at (or near) 0. */
export const STD_FLOOR_ABS = 1e-6;

// Per-series state, one Float64 record per slot (no object per series):
const W = 0; // sum of the decayed weights of the observations so far
const MEAN = 1;
const M2 = 2; // decayed weighted sum of squared deviations from the mean (West's algorithm)
const LAST_TS = 3; // event time of the last update; decay runs on event time, holes included
const STRIDE = 4;

export type { NormalizerSnapshot };

/** Inverts the normalization: the value in the series' own units. */
export function denormalize(z: number, scale: Scale): number {
  return z * scale.std + scale.mean;
}

/** The std actually used: the EW std, floored (see STD_FLOOR_REL / STD_FLOOR_ABS). */
export function flooredStd(variance: number, mean: number): number {
  const std = Math.sqrt(Math.max(0, variance));
  return Math.max(std, STD_FLOOR_REL * Math.abs(mean), STD_FLOOR_ABS);
}

/**
 * Online per-series z-score with exponentially weighted mean and variance.
 *
 * - Each observation's weight decays by 2^(−Δt/halfLife) with event time, i.e. by
 *   2^(−stepMs/halfLife) per grid step. Mean and variance are the weighted ones divided by the
 *   sum of weights, which is the bias correction for the start: the first observation is the
 *   mean with full weight rather than a fraction of a zero prior.
 * - Only observed values update the stats; imputed values are scaled with the current stats.
 *   Otherwise a long ffill run would shrink the variance and inflate z when data returns.
 * - Stats include the current observation before it is scaled: the first value has z = 0 and
 *   early z values are bounded by the few observations seen, rather than divided by a near-zero
 *   variance.
 * - std is floored at max(1e-3·|mean|, 1e-6) so that a constant start gives finite z; z is
 *   clipped to ±Z_CLIP. `scale` is the (mean, floored std) actually used, so
 *   denormalize(z, scale) returns the value whenever z was not clipped.
 * - `reset` steps (after a gap longer than maxGap) keep the stats: the level and spread before
 *   the gap remain the best guess, and the time decay over the gap already down-weights them so
 *   that new observations take over quickly. Starting from nothing would give z = 0 then wild z.
 */
export class Normalizer {
  private readonly opts: NormalizerOptions;
  readonly #slots: HeldSlots;
  readonly #state = new SlotPages(STRIDE, (n) => new Float64Array(n));

  /** `registry`: the pipeline's series index, shared with its other per-series structures (default: its own). */
  constructor(opts: NormalizerOptions, registry = new SeriesRegistry()) {
    this.#slots = registry.hold();
    registry.onDrop((series) => this.drop(series));
    if (!Number.isInteger(opts.stepMs) || opts.stepMs <= 0) {
      throw new ConfigError(`normalize: step must be a positive whole number of ms (got ${opts.stepMs})`);
    }
    if (!Number.isFinite(opts.halfLifeMs) || opts.halfLifeMs <= 0) {
      throw new ConfigError(`normalize: halfLife must be > 0 ms, e.g. 1d (got ${opts.halfLifeMs})`);
    }
    this.opts = { ...opts };
  }

  get size(): number {
    return this.#slots.size;
  }

  push(step: ImputedStep): NormalizedStep {
    let slot = this.#slots.get(step.series);
    if (step.observed) {
      if (slot === undefined) {
        slot = this.#add(step.series);
        this.#set(slot, 0, 0, 0, step.ts);
      }
      this.update(slot, step.ts, step.value);
    }
    let mean: number;
    let variance = 0;
    if (slot === undefined) {
      // An imputed step before any observation (only after a drop/restore mismatch): scale on itself.
      mean = step.value;
    } else {
      const st = this.#state.page(slot);
      const o = this.#state.offset(slot);
      mean = st[o + MEAN]!;
      const w = st[o + W]!;
      if (w > 0) variance = st[o + M2]! / w;
    }
    const std = flooredStd(variance, mean);
    const raw = (step.value - mean) / std;
    // `+ 0` turns -0 into 0: a signed zero would leak into model inputs and snapshots as noise.
    const z = Number.isNaN(raw) ? 0 : Math.min(Z_CLIP, Math.max(-Z_CLIP, raw)) + 0;
    // Spelled out rather than spread: one object shape for every step, built per step on the hot path.
    return {
      series: step.series,
      ts: step.ts,
      value: step.value,
      observed: step.observed,
      imputed: step.imputed,
      sinceObserved: step.sinceObserved,
      reset: step.reset,
      z,
      scale: { mean, std },
    };
  }

  snapshot(series: SeriesId): NormalizerSnapshot | undefined {
    const slot = this.#slots.get(series);
    if (slot === undefined) return undefined;
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    return { v: 1, w: st[o + W]!, mean: st[o + MEAN]!, m2: st[o + M2]!, lastTs: st[o + LAST_TS]! };
  }

  restore(series: SeriesId, snap: unknown): void {
    const o = snap as Record<string, unknown> | null;
    const ok =
      typeof o === 'object' &&
      o !== null &&
      o['v'] === 1 &&
      (['w', 'mean', 'm2', 'lastTs'] as const).every((k) => typeof o[k] === 'number' && Number.isFinite(o[k]));
    if (!ok) {
      // Operator action: incompatible or corrupt stored state; drop the series' changelog entry.
      throw new StreamcastError('fatal', 'normalizer snapshot is invalid');
    }
    const s = snap as NormalizerSnapshot;
    this.#set(this.#slots.get(series) ?? this.#add(series), s.w, s.mean, s.m2, s.lastTs);
  }

  drop(series: SeriesId): void {
    this.#slots.delete(series);
  }

  #add(series: SeriesId): number {
    const slot = this.#slots.add(series);
    this.#state.ensure(slot);
    return slot;
  }

  #set(slot: number, w: number, mean: number, m2: number, lastTs: EpochMs): void {
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    st[o + W] = w;
    st[o + MEAN] = mean;
    st[o + M2] = m2;
    st[o + LAST_TS] = lastTs;
  }

  private update(slot: number, ts: EpochMs, x: number): void {
    const st = this.#state.page(slot);
    const o = this.#state.offset(slot);
    const w0 = st[o + W]!;
    const mean0 = st[o + MEAN]!;
    const decay = w0 > 0 ? Math.pow(2, -Math.max(0, ts - st[o + LAST_TS]!) / this.opts.halfLifeMs) : 0;
    const w = w0 * decay + 1;
    const delta = x - mean0;
    const mean = mean0 + delta / w;
    const m2 = st[o + M2]! * decay + delta * (x - mean);
    st[o + LAST_TS] = ts;
    if (Number.isFinite(mean) && Number.isFinite(m2) && Number.isFinite(w)) {
      st[o + W] = w;
      st[o + MEAN] = mean;
      st[o + M2] = Math.max(0, m2);
    } else {
      // Only reachable with values near ±Number.MAX_VALUE: restart from this value, stay finite.
      st[o + W] = 1;
      st[o + MEAN] = x;
      st[o + M2] = 0;
    }
  }
}
