import { StreamcastError } from '../../domain/errors.js';
import { quantileKey } from '../../domain/forecast.js';
import type { Forecast, HorizonForecast, QuantileKey } from '../../domain/forecast.js';
import { anchorIndex } from './quantileHead.js';

/**
 * Post-hoc calibration of a trained GRU, fitted on its held-out slice (the newest part of the
 * history, which training never saw as targets) and applied to every forecast it serves:
 *
 *  1. Centre (per horizon): a convex blend of the GRU's centre with the last value and the
 *     pipeline's baseline forecast, weights on a 0.1 grid chosen for the lowest held-out MAE —
 *     stacking in the forecast-combination sense. A model that is weak at some horizon (a seasonal
 *     residual model at h = 1, say) then forecasts at least about as well as its best yardstick
 *     there instead of losing to it.
 *  2. Spread (per horizon and level): split-conformal scaling of each quantile's distance from the
 *     centre, so that on held-out cells the fraction of actuals at or below the level-τ quantile is
 *     τ. Quantile losses alone leave intervals too narrow after few epochs or under drift.
 *
 * Pure data: fitted in `fitCalibration`, applied by `applyCalibration`; no per-series state.
 */
export interface Calibration {
  readonly horizon: number;
  readonly quantiles: readonly number[];
  /** horizon × 3: weights of [model centre, last value, baseline centre], each row summing to 1. */
  readonly blend: Float32Array;
  /** horizon × Q: multiplier of each quantile's distance from the centre (1 at the anchor). */
  readonly scale: Float32Array;
  /** Held-out cells it was fitted on (informative). */
  readonly cells: number;
}

/** Fewer held-out cells than this at a horizon and that horizon is left as the model says. */
export const MIN_CELLS_PER_HORIZON = 30;
const SCALE_MIN = 0.2;
const SCALE_MAX = 10;
const GRID = 10;

/** Held-out forecasts and what happened, per horizon; filled by calibrationReplay.ts. */
export class CalibrationCells {
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly #rows: number[][];

  constructor(horizon: number, quantiles: readonly number[]) {
    this.horizon = horizon;
    this.quantiles = quantiles;
    this.#rows = Array.from({ length: horizon }, () => []);
  }

  /** One cell at horizon `h` (1-based): the actual, the model's quantiles (ascending), the last value and the baseline's centre. */
  push(h: number, actual: number, quantiles: ArrayLike<number>, last: number, baseline: number): void {
    if (![actual, last, baseline].every(Number.isFinite)) return;
    const row = this.#rows[h - 1]!;
    for (let j = 0; j < this.quantiles.length; j++) if (!Number.isFinite(quantiles[j]!)) return;
    row.push(actual, last, baseline);
    for (let j = 0; j < this.quantiles.length; j++) row.push(quantiles[j]!);
  }

  countAt(h: number): number {
    return this.#rows[h - 1]!.length / (3 + this.quantiles.length);
  }

  get size(): number {
    let n = 0;
    for (let h = 1; h <= this.horizon; h++) n += this.countAt(h);
    return n;
  }

  /** Flat rows for horizon h: [actual, last, baseline, q₀ … q_{Q−1}] per cell. */
  rowsAt(h: number): readonly number[] {
    return this.#rows[h - 1]!;
  }
}

export function identityCalibration(horizon: number, quantiles: readonly number[]): Calibration {
  const blend = new Float32Array(horizon * 3);
  for (let h = 0; h < horizon; h++) blend[h * 3] = 1;
  return Object.freeze({ horizon, quantiles: Object.freeze([...quantiles]), blend, scale: new Float32Array(horizon * quantiles.length).fill(1), cells: 0 });
}

/** Blend weights on the GRID simplex, model-only first so that ties keep the model. */
function blendGrid(): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let a = GRID; a >= 0; a--) {
    for (let b = 0; a + b <= GRID; b++) out.push([a / GRID, b / GRID, (GRID - a - b) / GRID]);
  }
  return out;
}

export function fitCalibration(cells: CalibrationCells): Calibration {
  const { horizon: H, quantiles } = cells;
  const Q = quantiles.length;
  const anchor = anchorIndex(quantiles);
  const out = identityCalibration(H, quantiles);
  const blend = out.blend;
  const scale = out.scale;
  const grid = blendGrid();
  const stride = 3 + Q;
  for (let h = 1; h <= H; h++) {
    const n = cells.countAt(h);
    if (n < MIN_CELLS_PER_HORIZON) continue;
    const rows = cells.rowsAt(h);
    // 1. Centre: the grid point with the lowest MAE.
    let best = grid[0]!;
    let bestErr = Number.NaN;
    for (const w of grid) {
      let err = 0;
      for (let i = 0; i < n; i++) {
        const o = i * stride;
        err += Math.abs(rows[o]! - (w[0] * rows[o + 3 + anchor]! + w[1] * rows[o + 1]! + w[2] * rows[o + 2]!));
      }
      // Strictly better (beyond rounding) than the model-first grid order so far: ties keep the model.
      if (Number.isNaN(bestErr) || err < bestErr - 1e-12 * Math.abs(bestErr)) {
        bestErr = err;
        best = w;
      }
    }
    blend.set(best, (h - 1) * 3);
    // 2. Spread: per level, the conformal quantile of the scale each cell would have needed.
    const need = new Float64Array(n);
    for (let j = 0; j < Q; j++) {
      if (j === anchor) continue;
      const tau = quantiles[j]!;
      const above = j > anchor;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const o = i * stride;
        const g = rows[o + 3 + anchor]!;
        const centre = best[0] * g + best[1] * rows[o + 1]! + best[2] * rows[o + 2]!;
        const dist = Math.abs(rows[o + 3 + j]! - g);
        if (!(dist > 0)) continue;
        // Above the centre: the actual is at or below c + s·dist iff s ≥ (y − c)/dist.
        // Below: it is at or below c − s·dist iff s ≤ (c − y)/dist.
        need[m++] = above ? (rows[o]! - centre) / dist : (centre - rows[o]!) / dist;
      }
      if (m < MIN_CELLS_PER_HORIZON) continue;
      const sorted = need.subarray(0, m).sort();
      // Finite-sample conformal rank: the ⌈(m+1)·p⌉-th smallest, p = τ above and 1 − τ below.
      const p = above ? tau : 1 - tau;
      const rank = Math.min(m, Math.max(1, Math.ceil((m + 1) * p)));
      const s = sorted[rank - 1]!;
      scale[(h - 1) * Q + j] = Math.min(SCALE_MAX, Math.max(SCALE_MIN, s));
    }
  }
  return Object.freeze({ ...out, cells: cells.size });
}

/**
 * `model`'s forecast under `cal`: centres blended with `last` and `baseline`'s centres, quantile
 * distances scaled, quantiles kept ascending. Returns `model` itself where a horizon's result
 * would not be finite (never NaN out).
 */
export function applyCalibration(model: Forecast, last: number, baseline: Forecast | undefined, cal: Calibration, keys: readonly QuantileKey[] = cal.quantiles.map(quantileKey)): Forecast {
  const Q = keys.length;
  const anchor = anchorIndex(cal.quantiles);
  const vals = new Float64Array(Q);
  const horizons = model.forecast.map((hf: HorizonForecast, k): HorizonForecast => {
    if (k >= cal.horizon) return hf;
    const w0 = cal.blend[k * 3]!;
    const w1 = cal.blend[k * 3 + 1]!;
    const w2 = cal.blend[k * 3 + 2]!;
    const g = hf.q[keys[anchor]!]!;
    const b = baseline?.forecast[k]?.mean;
    const blended = w0 === 1 ? g : b === undefined ? g : w0 * g + w1 * last + w2 * b;
    let prev = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < Q; j++) {
      const q = hf.q[keys[j]!]!;
      const v = j === anchor ? blended : blended + cal.scale[k * Q + j]! * (q - g);
      vals[j] = v < prev ? prev : v;
      prev = vals[j]!;
    }
    // The anchor may have been raised by the clamp above; it is the point forecast.
    for (let j = 0; j < Q; j++) if (!Number.isFinite(vals[j]!)) return hf;
    const q: Record<QuantileKey, number> = {};
    for (let j = 0; j < Q; j++) q[keys[j]!] = vals[j]!;
    return { h: hf.h, ts: hf.ts, mean: vals[anchor]!, q };
  });
  return { ...model, forecast: horizons };
}

/** JSON form for meta.json and model frames. */
export interface CalibrationJson {
  readonly blend: number[];
  readonly scale: number[];
  readonly cells: number;
}

export function calibrationToJson(cal: Calibration): CalibrationJson {
  return { blend: Array.from(cal.blend), scale: Array.from(cal.scale), cells: cal.cells };
}

/** Inverse of calibrationToJson for a model of `horizon` × `quantiles`; a StreamcastError (`config`) when it does not fit. */
export function calibrationFromJson(json: unknown, horizon: number, quantiles: readonly number[]): Calibration {
  const j = json as Partial<CalibrationJson> | null;
  const nums = (a: unknown, n: number): a is number[] => Array.isArray(a) && a.length === n && a.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (j === null || typeof j !== 'object' || !nums(j.blend, horizon * 3) || !nums(j.scale, horizon * quantiles.length)) {
    throw new StreamcastError('config', `model calibration does not fit ${horizon} horizons × ${quantiles.length} quantiles; retrain the model`);
  }
  for (let h = 0; h < horizon; h++) {
    const row = j.blend.slice(h * 3, h * 3 + 3);
    if (row.some((x) => x < 0 || x > 1) || Math.abs(row[0]! + row[1]! + row[2]! - 1) > 1e-4) {
      throw new StreamcastError('config', `model calibration blend at h=${h + 1} is not a convex combination; retrain the model`);
    }
  }
  if (j.scale.some((x) => x <= 0)) throw new StreamcastError('config', 'model calibration has a non-positive scale; retrain the model');
  return Object.freeze({
    horizon,
    quantiles: Object.freeze([...quantiles]),
    blend: Float32Array.from(j.blend),
    scale: Float32Array.from(j.scale),
    cells: typeof j.cells === 'number' && j.cells >= 0 ? j.cells : 0,
  });
}

/** For the promotion log line: held-out cells, the model's share of each horizon's centre, the outer quantiles' scales. */
export function describeCalibration(cal: Calibration): Record<string, unknown> {
  const Q = cal.quantiles.length;
  const r = (x: number): number => Math.round(x * 100) / 100;
  return {
    cells: cal.cells,
    model: Array.from({ length: cal.horizon }, (_, h) => r(cal.blend[h * 3]!)),
    lastValue: Array.from({ length: cal.horizon }, (_, h) => r(cal.blend[h * 3 + 1]!)),
    lower: Array.from({ length: cal.horizon }, (_, h) => r(cal.scale[h * Q]!)),
    upper: Array.from({ length: cal.horizon }, (_, h) => r(cal.scale[h * Q + Q - 1]!)),
  };
}
