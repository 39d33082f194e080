import type { Forecast, QuantileKey } from '../../domain/forecast.js';
import { quantileKey } from '../../domain/forecast.js';
import type { SeriesId } from '../../domain/point.js';
import type { Calibration } from './calibration.js';
import { applyCalibration, identityCalibration } from './calibration.js';
import { anchorIndex } from './quantileHead.js';

export interface OnlineCalibratorOptions {
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly stepMs: number;
  /** Series whose forecasts are followed up (the first this many seen): bounds memory and work. */
  readonly sampleSeries?: number;
  /** Cells per horizon over which the centre's error averages decay by half. */
  readonly halfLifeCells?: number;
  /** Cells per horizon before the tracked blend replaces the initial one. */
  readonly minCells?: number;
  /** Step of the adaptive-conformal update of each log-scale. */
  readonly gamma?: number;
}

export const DEFAULT_SAMPLE_SERIES = 256;
const DEFAULT_HALF_LIFE = 1000;
const DEFAULT_MIN_CELLS = 100;
const DEFAULT_GAMMA = 0.01;
const LOG_SCALE_MIN = Math.log(0.01);
const LOG_SCALE_MAX = Math.log(100);
const GRID = 10;

/** Convex weights of [model, last value, baseline] on a 0.1 grid, model-only first. */
const COMBOS: readonly (readonly [number, number, number])[] = (() => {
  const out: [number, number, number][] = [];
  for (let a = GRID; a >= 0; a--) for (let b = 0; a + b <= GRID; b++) out.push([a / GRID, b / GRID, (GRID - a - b) / GRID]);
  return out;
})();

/**
 * Calibration learnt from the stream itself, prequentially: every served forecast of a sampled
 * series is remembered until its targets arrive, then
 *  - centre: per horizon, exponentially decaying MAE of every convex blend (0.1 grid) of the
 *    model's centre, the last value and the baseline's centre; the blend with the lowest one is
 *    served (follow the leader over a fixed set of combinations);
 *  - spread: per horizon and quantile level, adaptive conformal inference (Gibbs & Candès, 2021)
 *    on the log of the scale of the quantile's distance from the centre: raised after a miss,
 *    lowered after a hit, so that the fraction of actuals at or below the level-τ quantile tracks τ
 *    whatever the drift.
 * Global (per model, not per series) state plus bounded follow-up buffers for at most
 * `sampleSeries` series. Deterministic: the same stream in the same order gives the same output.
 */
export class OnlineCalibrator {
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly #stepMs: number;
  readonly #Q: number;
  readonly #anchor: number;
  readonly #keys: readonly QuantileKey[];
  readonly #sample: number;
  readonly #alpha: number;
  readonly #minCells: number;
  readonly #gamma: number;
  /** What is served now: blend and scales (mutated in place as the trackers learn). */
  readonly #cal: { horizon: number; quantiles: readonly number[]; blend: Float32Array; scale: Float32Array; cells: number };
  #initialBlend = new Float32Array(0);
  /** horizon × combos: decaying mean absolute error; horizon: cells seen. */
  #err = new Float64Array(0);
  #seen = new Float64Array(0);
  /** horizon × Q: log scale. */
  #logScale = new Float64Array(0);
  readonly #slots = new Map<SeriesId, number>();
  /** Slots of dropped series, reused first. */
  readonly #free: number[] = [];
  /**
   * Per sampled series, a ring of the last `horizon` origins: origin ts, then per horizon the
   * model's centre, the baseline's centre and the served quantiles, then the last value.
   */
  #pending = new Float64Array(0);
  readonly #stride: number;
  readonly #originStride: number;

  constructor(opts: OnlineCalibratorOptions, initial?: Calibration) {
    this.horizon = opts.horizon;
    this.quantiles = Object.freeze([...opts.quantiles]);
    this.#stepMs = opts.stepMs;
    this.#Q = opts.quantiles.length;
    this.#anchor = anchorIndex(opts.quantiles);
    this.#keys = this.quantiles.map(quantileKey);
    this.#sample = opts.sampleSeries ?? DEFAULT_SAMPLE_SERIES;
    this.#alpha = 1 - 2 ** (-1 / (opts.halfLifeCells ?? DEFAULT_HALF_LIFE));
    this.#minCells = opts.minCells ?? DEFAULT_MIN_CELLS;
    this.#gamma = opts.gamma ?? DEFAULT_GAMMA;
    this.#originStride = 2 + this.horizon * (2 + this.#Q);
    this.#stride = this.horizon * this.#originStride;
    const id = identityCalibration(this.horizon, this.quantiles);
    this.#cal = { horizon: this.horizon, quantiles: this.quantiles, blend: id.blend, scale: id.scale, cells: 0 };
    this.reset(initial);
  }

  /** The calibration served now (a snapshot copy). */
  get current(): Calibration {
    return Object.freeze({ ...this.#cal, blend: this.#cal.blend.slice(), scale: this.#cal.scale.slice() });
  }

  /** Starts afresh from `initial` (a new model's offline calibration) or the identity. */
  reset(initial?: Calibration): void {
    const H = this.horizon;
    const Q = this.#Q;
    const fits = initial !== undefined && initial.horizon === H && initial.quantiles.length === Q;
    const start = fits ? initial : identityCalibration(H, this.quantiles);
    this.#initialBlend = start.blend.slice();
    this.#cal.blend.set(start.blend);
    this.#cal.scale.set(start.scale);
    this.#cal.cells = 0;
    this.#err = new Float64Array(H * COMBOS.length);
    this.#seen = new Float64Array(H);
    this.#logScale = Float64Array.from(start.scale, (s) => Math.log(s));
    this.#slots.clear();
    this.#pending = new Float64Array(0);
  }

  /**
   * Scores the cells whose target is this step (`value` observed at `ts`), for a sampled series.
   * Call for every step, before `serve` of the same step.
   */
  observe(series: SeriesId, ts: number, value: number, observed: boolean): void {
    const slot = this.#slots.get(series);
    if (slot === undefined || !observed || !Number.isFinite(value)) return;
    const H = this.horizon;
    const Q = this.#Q;
    const P = this.#pending;
    const base = slot * this.#stride;
    for (let k = 0; k < H; k++) {
      const o = base + k * this.#originStride;
      const origin = P[o]!;
      if (!(origin < ts)) continue;
      const h = Math.round((ts - origin) / this.#stepMs);
      if (h < 1 || h > H || origin + h * this.#stepMs !== ts) continue;
      const c = o + 2 + (h - 1) * (2 + Q);
      this.#learn(h - 1, value, P[c]!, P[o + 1]!, P[c + 1]!, P, c + 2);
    }
  }

  /** `model`'s forecast calibrated as now learnt; remembered for follow-up when its series is sampled. */
  serve(model: Forecast, last: number, baseline: Forecast | undefined): Forecast {
    const out = applyCalibration(model, last, baseline, this.#cal, this.#keys);
    const slot = this.#slotFor(model.series);
    if (slot === undefined) return out;
    const H = this.horizon;
    const Q = this.#Q;
    const P = this.#pending;
    // Origins are written round-robin by step index, so a ring slot is reused only after H steps.
    const k = Math.abs(Math.round(model.ts / this.#stepMs)) % H;
    const o = slot * this.#stride + k * this.#originStride;
    P[o] = model.ts;
    P[o + 1] = last;
    for (let h = 0; h < H; h++) {
      const c = o + 2 + h * (2 + Q);
      const hm = model.forecast[h];
      const hs = out.forecast[h];
      P[c] = hm === undefined ? Number.NaN : hm.q[this.#keys[this.#anchor]!]!;
      P[c + 1] = baseline?.forecast[h]?.mean ?? Number.NaN;
      for (let j = 0; j < Q; j++) P[c + 2 + j] = hs === undefined ? Number.NaN : hs.q[this.#keys[j]!]!;
    }
    return out;
  }

  /** Forget a series (dropped from this instance). */
  drop(series: SeriesId): void {
    const slot = this.#slots.get(series);
    if (slot === undefined) return;
    this.#slots.delete(series);
    this.#pending.fill(Number.NaN, slot * this.#stride, (slot + 1) * this.#stride);
    this.#free.push(slot);
  }

  #slotFor(series: SeriesId): number | undefined {
    const known = this.#slots.get(series);
    if (known !== undefined) return known;
    if (this.#slots.size >= this.#sample) return undefined;
    const slot = this.#free.pop() ?? this.#slots.size;
    if ((slot + 1) * this.#stride > this.#pending.length) {
      const grown = new Float64Array(Math.min(this.#sample, Math.max(8, 2 * (slot + 1))) * this.#stride).fill(Number.NaN);
      grown.set(this.#pending);
      this.#pending = grown;
    }
    this.#pending.fill(Number.NaN, slot * this.#stride, (slot + 1) * this.#stride);
    this.#slots.set(series, slot);
    return slot;
  }

  /** One realized cell at horizon index `h`: the model's centre `g`, last value, baseline centre `b`, served quantiles at P[q…]. */
  #learn(h: number, y: number, g: number, last: number, b: number, P: Float64Array, q: number): void {
    const Q = this.#Q;
    const cal = this.#cal;
    // Spread: adaptive conformal on the quantiles that were served.
    for (let j = 0; j < Q; j++) {
      if (j === this.#anchor) continue;
      const served = P[q + j]!;
      if (!Number.isFinite(served)) continue;
      const tau = this.quantiles[j]!;
      const miss = j > this.#anchor ? (y > served ? 1 : 0) - (1 - tau) : (y < served ? 1 : 0) - tau;
      const i = h * Q + j;
      const next = this.#logScale[i]! + this.#gamma * miss;
      this.#logScale[i] = next < LOG_SCALE_MIN ? LOG_SCALE_MIN : next > LOG_SCALE_MAX ? LOG_SCALE_MAX : next;
      cal.scale[i] = Math.exp(this.#logScale[i]!);
    }
    // Centre: follow the leader among the blends (needs all three parts).
    if (!Number.isFinite(g) || !Number.isFinite(last) || !Number.isFinite(b)) return;
    const n = ++this.#seen[h]!;
    cal.cells++;
    // Plain mean for the first cells, then exponential decay.
    const a = Math.max(this.#alpha, 1 / n);
    const E = this.#err;
    const row = h * COMBOS.length;
    let best = 0;
    for (let k = 0; k < COMBOS.length; k++) {
      const w = COMBOS[k]!;
      const e = (E[row + k]! += a * (Math.abs(y - (w[0] * g + w[1] * last + w[2] * b)) - E[row + k]!));
      if (e < E[row + best]! - 1e-12 * E[row + best]!) best = k;
    }
    if (n >= this.#minCells) cal.blend.set(COMBOS[best]!, h * 3);
    else cal.blend.set(this.#initialBlend.subarray(h * 3, h * 3 + 3), h * 3);
  }
}
