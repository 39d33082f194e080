import { StreamcastError } from '../../domain/errors.js';

/**
 * The direct multi-horizon quantile head: one dense layer h → horizon × Q raw outputs, laid out
 * horizon-major (output index = (h − 1)·Q + q). `QuantileHead` below turns raw outputs into
 * non-crossing quantiles. Part of a model's weights (gruWeights.ts' GruModelWeights).
 */
export interface HeadWeights {
  readonly units: number;
  readonly horizon: number;
  /** Ascending levels in (0, 1). */
  readonly quantiles: readonly number[];
  /** [H, horizon·Q] row-major. */
  readonly kernel: Float32Array;
  /** [horizon·Q]. */
  readonly bias: Float32Array;
}

/**
 * The direct multi-horizon quantile head (MQ-RNN): one dense layer from the hidden state to
 * horizon × Q raw values, then a monotone parameterisation so quantiles cannot cross:
 *   q[a]   = raw[a]                             (a = the anchor, the level nearest 0.5)
 *   q[j]   = q[j − 1] + softplus(raw[j])        for j > a
 *   q[j]   = q[j + 1] − softplus(raw[j])        for j < a
 * Values are in normalized (z) space; denormalize with the step's Scale (z·std + mean). The
 * anchor doubles as the point forecast (the median when 0.5 is among the levels).
 */
export class QuantileHead {
  readonly units: number;
  readonly horizon: number;
  readonly quantiles: readonly number[];
  /** Index of the anchor level within `quantiles`. */
  readonly anchor: number;
  /** Outputs per series: horizon × Q. */
  readonly outputs: number;
  /** Kernel transposed to [O][H] so each output is one contiguous dot product with h. */
  readonly #kernelT: Float32Array;
  readonly #bias: Float32Array;
  #raw = new Float64Array(0);

  constructor(weights: HeadWeights) {
    this.units = weights.units;
    this.horizon = weights.horizon;
    this.quantiles = weights.quantiles;
    this.anchor = anchorIndex(weights.quantiles);
    this.outputs = weights.horizon * weights.quantiles.length;
    const H = this.units;
    const O = this.outputs;
    if (weights.kernel.length !== H * O || weights.bias.length !== O) {
      throw new StreamcastError('fatal', `quantile head weights hold ${weights.kernel.length}+${weights.bias.length} values; ${H}×${O} + ${O} expected`);
    }
    this.#kernelT = new Float32Array(O * H);
    for (let k = 0; k < H; k++) for (let o = 0; o < O; o++) this.#kernelT[o * H + k] = weights.kernel[k * O + o]!;
    this.#bias = weights.bias;
  }

  /**
   * For B hidden states `h` (B×H, row-major) writes B × horizon × Q quantile values (normalized
   * space, ascending by level within each horizon) into `out`.
   */
  apply(h: Float32Array, B: number, out: Float32Array): void {
    const H = this.units;
    const O = this.outputs;
    if (this.#raw.length < O) this.#raw = new Float64Array(O);
    const raw = this.#raw;
    const W = this.#kernelT;
    const bias = this.#bias;
    for (let b = 0; b < B; b++) {
      const hb = b * H;
      let o = 0;
      // Four outputs at a time: each h[k] load feeds four multiply-adds.
      for (; o + 4 <= O; o += 4) {
        const w0 = o * H;
        const w1 = w0 + H;
        const w2 = w1 + H;
        const w3 = w2 + H;
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        for (let k = 0; k < H; k++) {
          const hk = h[hb + k]!;
          a0 += W[w0 + k]! * hk;
          a1 += W[w1 + k]! * hk;
          a2 += W[w2 + k]! * hk;
          a3 += W[w3 + k]! * hk;
        }
        raw[o] = bias[o]! + a0;
        raw[o + 1] = bias[o + 1]! + a1;
        raw[o + 2] = bias[o + 2]! + a2;
        raw[o + 3] = bias[o + 3]! + a3;
      }
      for (; o < O; o++) {
        const w0 = o * H;
        let a = 0;
        for (let k = 0; k < H; k++) a += W[w0 + k]! * h[hb + k]!;
        raw[o] = bias[o]! + a;
      }
      toQuantiles(raw, this.horizon, this.quantiles.length, this.anchor, out, b * O);
    }
  }
}

/** Index of the level nearest 0.5 (the lower one on a tie, keeping the choice deterministic). */
export function anchorIndex(quantiles: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < quantiles.length; i++) {
    if (Math.abs(quantiles[i]! - 0.5) < Math.abs(quantiles[best]! - 0.5)) best = i;
  }
  return best;
}

/** Applies the monotone parameterisation to `raw` (horizon-major) into `out` at `offset`. */
export function toQuantiles(raw: ArrayLike<number>, horizon: number, Q: number, anchor: number, out: Float32Array | Float64Array, offset: number): void {
  for (let t = 0; t < horizon; t++) {
    const base = t * Q;
    const o = offset + base;
    let v = raw[base + anchor]!;
    out[o + anchor] = v;
    for (let j = anchor + 1; j < Q; j++) {
      v += softplus(raw[base + j]!);
      out[o + j] = v;
    }
    v = raw[base + anchor]!;
    for (let j = anchor - 1; j >= 0; j--) {
      v -= softplus(raw[base + j]!);
      out[o + j] = v;
    }
  }
}

/** log(1 + eˣ) without overflow for large x or lost precision for very negative x. */
export function softplus(x: number): number {
  return x > 20 ? x : x < -20 ? Math.exp(x) : Math.log1p(Math.exp(x));
}

/** Inverse of softplus for y > 0: the raw value whose softplus is y. */
export function inverseSoftplus(y: number): number {
  return y > 20 ? y : Math.log(Math.expm1(y));
}

/**
 * Head biases for which a zero hidden state yields standard-normal quantiles: anchor at Φ⁻¹ of
 * its level, increments the normal quantile gaps. Training then starts from a calibrated
 * N(0, 1) in z space (that is, mean ± std of the series) rather than from arbitrary spreads.
 */
export function headBiasInit(quantiles: readonly number[], horizon: number): Float32Array {
  const Q = quantiles.length;
  const a = anchorIndex(quantiles);
  const row = new Float32Array(Q);
  row[a] = normalQuantile(quantiles[a]!);
  for (let j = 0; j < Q; j++) {
    if (j === a) continue;
    const near = j > a ? j - 1 : j + 1;
    const gap = Math.abs(normalQuantile(quantiles[j]!) - normalQuantile(quantiles[near]!));
    row[j] = inverseSoftplus(Math.max(gap, 1e-3));
  }
  const bias = new Float32Array(horizon * Q);
  for (let t = 0; t < horizon; t++) bias.set(row, t * Q);
  return bias;
}

/** Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  const poly = (k: number[], x: number): number => k.reduce((acc, ki) => acc * x + ki, 0);
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(c, q) / (poly(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}
