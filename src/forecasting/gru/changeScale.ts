import type { EpochMs, SeriesId } from '../../domain/point.js';
import type { SeriesWindow } from '../../state/seriesWindow.js';

/**
 * The *change scale* of a series: an exponentially weighted mean of its absolute one-step changes
 * |y[t] − y[t−1]| (observed, consecutive steps only), the denominator of MASE made online.
 *
 * Why the GRU's last-value residual is measured in it rather than in the normaliser's std: the
 * std of the level mixes trends, seasons and level shifts with step-to-step noise, and their ratio
 * differs by 10–40× between series (a smooth temperature drifting over days: std ≈ 12 × its mean
 * step change; a noisy latency: ≈ 0.8×), and jumps after a level shift (the std inflates for days,
 * the mean change does not). A correction learnt in std units on one series is then 10× too large
 * on another, in raw units: the uncalibrated GRU's catastrophic errors on new kinds of series. In
 * change units, "a correction of 1" means "about one typical step" on every series.
 *
 * Weighted like the normaliser (bias-corrected: the first change has full weight), with the same
 * half-life in steps. Floored at CHANGE_FLOOR_REL × std (and STD_FLOOR_ABS) so a series that is
 * flat but for rare jumps still gets a finite, positive scale; before any change is seen the
 * std itself is used.
 */
export const CHANGE_FLOOR_REL = 1e-2;
const CHANGE_FLOOR_ABS = 1e-6;

/** The scale used: the tracked mean change, floored; the std when none was seen (weight 0). */
export function changeScaleOf(weight: number, meanChange: number, std: number): number {
  if (!(weight > 0) || !Number.isFinite(meanChange)) return std;
  return Math.max(meanChange, CHANGE_FLOOR_REL * std, CHANGE_FLOOR_ABS);
}

/** Per-step decay of the weights for a half-life in steps. */
export function changeDecay(halfLifeSteps: number): number {
  return Math.pow(2, -1 / halfLifeSteps);
}

/** One series' running state; `update` is the recursion training and serving both use. */
export interface ChangeState {
  weight: number;
  mean: number;
  /** The previous step's value and ts (NaN: none, or not observed). */
  prev: number;
  prevTs: number;
}

export function newChangeState(): ChangeState {
  return { weight: 0, mean: 0, prev: Number.NaN, prevTs: Number.NaN };
}

/**
 * Folds one step in. Only a change between two observed steps one grid step apart counts; an
 * imputed step or a gap breaks the chain (an ffilled run would otherwise read as zero changes).
 */
export function updateChange(st: ChangeState, ts: number, value: number, observed: boolean, stepMs: number, decay: number): void {
  if (observed && Number.isFinite(value) && Number.isFinite(st.prev) && ts - st.prevTs === stepMs) {
    const d = Math.abs(value - st.prev);
    st.weight = st.weight * decay + 1;
    st.mean += (d - st.mean) / st.weight;
  }
  st.prev = observed && Number.isFinite(value) ? value : Number.NaN;
  st.prevTs = ts;
}

/** The change scale at every step of a window (state from the window's first step). */
export function windowChangeScale(w: SeriesWindow, halfLifeSteps: number): Float64Array {
  const out = new Float64Array(w.length);
  const st = newChangeState();
  const decay = changeDecay(halfLifeSteps);
  for (let i = 0; i < w.length; i++) {
    const std = w.std[i]!;
    updateChange(st, w.firstTs + i * w.stepMs, w.z[i]! * std + w.mean[i]!, w.observed[i] === 1, w.stepMs, decay);
    out[i] = changeScaleOf(st.weight, st.mean, std);
  }
  return out;
}

/** Change states per series for serving (a Map: one small object per series, as the state versions). */
export class ChangeScales {
  readonly #states = new Map<SeriesId, ChangeState>();
  readonly #stepMs: number;
  readonly #decay: number;

  constructor(halfLifeSteps: number, stepMs: number) {
    this.#stepMs = stepMs;
    this.#decay = changeDecay(halfLifeSteps);
  }

  has(series: SeriesId): boolean {
    return this.#states.has(series);
  }

  /** Folds a step in and returns the scale at it. */
  push(series: SeriesId, ts: EpochMs, value: number, observed: boolean, std: number): number {
    let st = this.#states.get(series);
    if (st === undefined) {
      st = newChangeState();
      this.#states.set(series, st);
    }
    if (ts > st.prevTs || Number.isNaN(st.prevTs)) updateChange(st, ts, value, observed, this.#stepMs, this.#decay);
    return changeScaleOf(st.weight, st.mean, std);
  }

  drop(series: SeriesId): void {
    this.#states.delete(series);
  }
}
