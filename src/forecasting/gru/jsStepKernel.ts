import type { StepKernel } from './gruStep.js';
import type { GruCellWeights } from './gruWeights.js';

/**
 * The GRU step as a plain loop. Weights are re-laid out once, transposed and with the input and
 * recurrent parts of each gate row side by side, so every pre-activation is one contiguous dot
 * product with v = [x, h] (gates z, r) or v = [x, r ⊙ h] (candidate). Four gate rows are
 * accumulated together so each v[k] load feeds four multiply-adds (register blocking).
 */
export class JsStepKernel implements StepKernel {
  readonly name = 'js';
  readonly #I: number;
  readonly #H: number;
  /** [2H][I+H]: rows of z then r. */
  readonly #wzr: Float32Array;
  /** [H][I+H]: candidate rows. */
  readonly #wh: Float32Array;
  readonly #bias: Float32Array;
  readonly #v: Float64Array;
  readonly #pre: Float64Array;

  constructor(w: GruCellWeights) {
    const I = w.inputSize;
    const H = w.units;
    const L = I + H;
    this.#I = I;
    this.#H = H;
    this.#wzr = new Float32Array(2 * H * L);
    this.#wh = new Float32Array(H * L);
    for (let j = 0; j < 3 * H; j++) {
      const dst = j < 2 * H ? this.#wzr : this.#wh;
      const row = (j < 2 * H ? j : j - 2 * H) * L;
      for (let i = 0; i < I; i++) dst[row + i] = w.kernel[i * 3 * H + j]!;
      for (let k = 0; k < H; k++) dst[row + I + k] = w.recurrentKernel[k * 3 * H + j]!;
    }
    this.#bias = Float32Array.from(w.bias);
    this.#v = new Float64Array(L);
    this.#pre = new Float64Array(3 * H);
  }

  step(x: Float32Array, hIn: Float32Array, hOut: Float32Array, B: number): void {
    const I = this.#I;
    const H = this.#H;
    const v = this.#v;
    const pre = this.#pre;
    for (let b = 0; b < B; b++) {
      const xo = b * I;
      const ho = b * H;
      for (let i = 0; i < I; i++) v[i] = x[xo + i]!;
      for (let k = 0; k < H; k++) v[I + k] = hIn[ho + k]!;
      matVec(this.#wzr, 2 * H, I + H, v, this.#bias, 0, pre, 0);
      for (let j = 0; j < 2 * H; j++) pre[j] = 1 / (1 + Math.exp(-pre[j]!));
      // Candidate sees r ⊙ h (reset applied before the recurrent product: resetAfter = false).
      for (let k = 0; k < H; k++) v[I + k] = pre[H + k]! * hIn[ho + k]!;
      matVec(this.#wh, H, I + H, v, this.#bias, 2 * H, pre, 2 * H);
      for (let k = 0; k < H; k++) {
        const z = pre[k]!;
        const hh = Math.tanh(pre[2 * H + k]!);
        hOut[ho + k] = z * hIn[ho + k]! + (1 - z) * hh;
      }
    }
  }

  dispose(): void {
    // Nothing outside the JS heap.
  }
}

/** out[oo + r] = bias[bo + r] + W[r, :] · v for r < rows (W row-major [rows][L]). */
function matVec(W: Float32Array, rows: number, L: number, v: Float64Array, bias: Float32Array, bo: number, out: Float64Array, oo: number): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = r * L;
    const w1 = w0 + L;
    const w2 = w1 + L;
    const w3 = w2 + L;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let k = 0; k < L; k++) {
      const vk = v[k]!;
      a0 += W[w0 + k]! * vk;
      a1 += W[w1 + k]! * vk;
      a2 += W[w2 + k]! * vk;
      a3 += W[w3 + k]! * vk;
    }
    out[oo + r] = bias[bo + r]! + a0;
    out[oo + r + 1] = bias[bo + r + 1]! + a1;
    out[oo + r + 2] = bias[bo + r + 2]! + a2;
    out[oo + r + 3] = bias[bo + r + 3]! + a3;
  }
  for (; r < rows; r++) {
    const w0 = r * L;
    let a = 0;
    for (let k = 0; k < L; k++) a += W[w0 + k]! * v[k]!;
    out[oo + r] = bias[bo + r]! + a;
  }
}
