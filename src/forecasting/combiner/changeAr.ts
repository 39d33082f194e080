import type { LagValues } from './lagValues.js';

/** A scaled change counts at most this many typical steps, in the inputs and the target: a failure spike cannot swing the fit. */
const CHANGE_CLIP = 10;
/** Initial diagonal of the inverse-covariance matrix: a weak prior of zero weights. */
const PRIOR_PRECISION_INV = 100;
/**
 * The lag ring keeps float32 values: a change between two of them is exact to |level| · 2⁻²³.
 * A series is left out (not learnt from, not forecast) where that exceeds 1 % of its typical step,
 * e.g. a counter near 10⁹ that moves by 10 a step, whose changes float32 cannot hold; one fit
 * serves every series, so rounding noise from one would reach all.
 */
const FLOAT32_EPS = 2 ** -23;
const MAX_ROUNDING_SHARE = 0.01;

/** Whether changes around `level` are held in float32 to 1 % of `scale`. */
export function changesResolvable(level: number, scale: number): boolean {
  return Math.abs(level) * FLOAT32_EPS <= MAX_ROUNDING_SHARE * scale;
}

/**
 * An autoregressive expert on one-step changes, ARIMA(p, 1, 0) without a constant, pooled over a
 * pipeline's series and fitted online by recursive least squares (Ljung & Söderström's RLS) with
 * exponential forgetting, so the fit follows a pipeline whose series change.
 *
 * Each change is divided by its series' typical step (the combiner's scale, MASE's denominator),
 * so one set of p weights serves series of any unit, a new series is forecast from its first
 * p + 1 values, and no series decides for the others by its size (the global-model argument of
 * Montero-Manso & Hyndman, "Principles and algorithms for forecasting groups of time series",
 * IJF 2021: one linear model across series is as good as one per series, and needs no memory per
 * series here: its inputs are the combiner's lag ring).
 *
 * Why it is an expert: on a near-random-walk sensor the short-term momentum and mean reversion of
 * the changes are what beats the last value, and a linear fit of them makes errors that differ from
 * the GRU's, so their blend beats both (docs/benchmarks.md, "An autoregressive expert").
 *
 * The path is iterated: ŷ[t+h] = ŷ[t+h−1] + scale · Σ_k w_k · d[t+h−k], forecast changes feeding
 * later steps. An imputed step reads as its imputed value, as the ring holds it (a change of 0
 * under ffill). A change is learnt, and a path served, only with all p changes before it held
 * since the series' last reset: zero-padded rows after every reset would bias the one fit.
 */
export class ChangeAr {
  readonly order: number;
  readonly #w: Float64Array;
  /** p × p inverse of the inputs' Gram matrix (row-major). */
  readonly #P: Float64Array;
  readonly #x: Float64Array;
  readonly #Px: Float64Array;
  #updates = 0;

  constructor(order: number) {
    if (!Number.isInteger(order) || order < 1) throw new RangeError(`ChangeAr order is ${order}; use a positive integer`);
    this.order = order;
    this.#w = new Float64Array(order);
    this.#P = new Float64Array(order * order);
    this.#x = new Float64Array(order);
    this.#Px = new Float64Array(order);
    this.#reset();
  }

  /** Changes learnt so far. */
  get updates(): number {
    return this.#updates;
  }

  /** The weights (a copy), newest change first. */
  get weights(): Float64Array {
    return this.#w.slice();
  }

  /**
   * Learns the newest change of `ring` (its value 0 against 1) from the p changes before it, in
   * units of `scale`. The caller says the newest two values are observed and one step apart.
   * `forget` in (0, 1] weighs what was learnt before by that much (exponential forgetting, so the
   * fit follows a pipeline whose series change); it is skipped while the inverse Gram matrix's
   * trace is above its prior's, so directions the inputs do not excite (flat series) cannot wind
   * it up.
   */
  learn(ring: LagValues, scale: number, forget = 1): void {
    const p = this.order;
    if (!(scale > 0) || ring.filled < p + 2 || !changesResolvable(ring.at(0), scale)) return;
    const target = clip((ring.at(0) - ring.at(1)) / scale);
    if (!Number.isFinite(target)) return;
    const x = this.#x;
    this.#inputs(ring, 1, scale, x);
    const P = this.#P;
    const Px = this.#Px;
    let trace = 0;
    for (let i = 0; i < p; i++) trace += P[i * p + i]!;
    const lambda = forget > 0 && forget < 1 && trace < p * PRIOR_PRECISION_INV ? forget : 1;
    let den = lambda;
    let pred = 0;
    for (let i = 0; i < p; i++) {
      let s = 0;
      for (let j = 0; j < p; j++) s += P[i * p + j]! * x[j]!;
      Px[i] = s;
      den += x[i]! * s;
      pred += this.#w[i]! * x[i]!;
    }
    const e = target - pred;
    for (let i = 0; i < p; i++) this.#w[i] = this.#w[i]! + (Px[i]! / den) * e;
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) P[i * p + j] = (P[i * p + j]! - (Px[i]! * Px[j]!) / den) / lambda;
    this.#updates++;
    // Round-off can only hurt after very many updates; start afresh rather than serve NaN.
    if (!this.#w.every(Number.isFinite) || !P.every(Number.isFinite)) this.#reset();
  }

  /**
   * The forecast path from the value `age` steps before the ring's newest (the origin), h = 1…out.length,
   * into `out`; NaN throughout while the ring holds fewer than order + 1 values at the origin
   * (the expert is not one before, as a seasonal expert is not one before its season), or where
   * float32 cannot hold the series' changes (`changesResolvable`).
   */
  path(ring: LagValues, age: number, scale: number, out: Float64Array): void {
    const p = this.order;
    const y0 = ring.at(age);
    if (ring.filled - age < p + 1 || !(scale > 0) || !Number.isFinite(y0) || !changesResolvable(y0, scale)) {
      out.fill(Number.NaN);
      return;
    }
    // x[0] the newest change; shifted as forecast changes join.
    const x = this.#x;
    this.#inputs(ring, age, scale, x);
    let y = y0;
    for (let h = 0; h < out.length; h++) {
      let d = 0;
      for (let k = 0; k < p; k++) d += this.#w[k]! * x[k]!;
      d = clip(d);
      y += d * scale;
      out[h] = y;
      for (let k = p - 1; k > 0; k--) x[k] = x[k - 1]!;
      x[0] = d;
    }
  }

  /** The p changes ending `from` steps before the newest value, newest first, scaled and clipped (0 where not held). */
  #inputs(ring: LagValues, from: number, scale: number, x: Float64Array): void {
    for (let k = 0; k < this.order; k++) {
      const d = (ring.at(from + k) - ring.at(from + k + 1)) / scale;
      x[k] = Number.isFinite(d) ? clip(d) : 0;
    }
  }

  #reset(): void {
    const p = this.order;
    this.#w.fill(0);
    this.#P.fill(0);
    for (let i = 0; i < p; i++) this.#P[i * p + i] = PRIOR_PRECISION_INV;
  }
}

function clip(v: number): number {
  return v > CHANGE_CLIP ? CHANGE_CLIP : v < -CHANGE_CLIP ? -CHANGE_CLIP : v;
}
