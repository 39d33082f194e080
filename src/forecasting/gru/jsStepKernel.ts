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
  /** Independent blocks of the recurrent kernel (a model of several members, gruMembers.ts), and units per block. */
  readonly blocks: number;
  readonly #h: number;
  /** Per block: [2h][I+h], rows of z then r. */
  readonly #wzr: Float32Array[];
  /** Per block: [h][I+h], candidate rows. */
  readonly #wh: Float32Array[];
  /** Per block: [3h], z | r | candidate. */
  readonly #bias: Float32Array[];
  readonly #v: Float64Array;
  readonly #pre: Float64Array;

  constructor(w: GruCellWeights) {
    const I = w.inputSize;
    const H = w.units;
    const K = independentBlocks(w);
    const h = H / K;
    const L = I + h;
    this.#I = I;
    this.#H = H;
    this.blocks = K;
    this.#h = h;
    this.#wzr = [];
    this.#wh = [];
    this.#bias = [];
    for (let b = 0; b < K; b++) {
      const wzr = new Float32Array(2 * h * L);
      const wh = new Float32Array(h * L);
      const bias = new Float32Array(3 * h);
      for (let g = 0; g < 3; g++) {
        for (let j = 0; j < h; j++) {
          // Column of gate g, unit j of block b in the tf layout; row g·h + j of the block's own.
          const col = g * H + b * h + j;
          const dst = g < 2 ? wzr : wh;
          const row = (g < 2 ? g * h + j : j) * L;
          for (let i = 0; i < I; i++) dst[row + i] = w.kernel[i * 3 * H + col]!;
          for (let k = 0; k < h; k++) dst[row + I + k] = w.recurrentKernel[(b * h + k) * 3 * H + col]!;
          bias[g * h + j] = w.bias[col]!;
        }
      }
      this.#wzr.push(wzr);
      this.#wh.push(wh);
      this.#bias.push(bias);
    }
    this.#v = new Float64Array(L);
    this.#pre = new Float64Array(3 * h);
  }

  step(x: Float32Array, hIn: Float32Array, hOut: Float32Array, B: number): void {
    const I = this.#I;
    const H = this.#H;
    const h = this.#h;
    const v = this.#v;
    const pre = this.#pre;
    for (let b = 0; b < B; b++) {
      const xo = b * I;
      for (let blk = 0; blk < this.blocks; blk++) {
        const ho = b * H + blk * h;
        const bias = this.#bias[blk]!;
        for (let i = 0; i < I; i++) v[i] = x[xo + i]!;
        for (let k = 0; k < h; k++) v[I + k] = hIn[ho + k]!;
        matVec(this.#wzr[blk]!, 2 * h, I + h, v, bias, 0, pre, 0);
        for (let j = 0; j < 2 * h; j++) pre[j] = 1 / (1 + Math.exp(-pre[j]!));
        // Candidate sees r ⊙ h (reset applied before the recurrent product: resetAfter = false).
        for (let k = 0; k < h; k++) v[I + k] = pre[h + k]! * hIn[ho + k]!;
        matVec(this.#wh[blk]!, h, I + h, v, bias, 2 * h, pre, 2 * h);
        for (let k = 0; k < h; k++) {
          const z = pre[k]!;
          const hh = Math.tanh(pre[2 * h + k]!);
          hOut[ho + k] = z * hIn[ho + k]! + (1 - z) * hh;
        }
      }
    }
  }

  dispose(): void {
    // Nothing outside the JS heap.
  }
}

/**
 * The most blocks the recurrent kernel splits into with every weight between two blocks exactly
 * zero (a model of several members, whose units never see each other's), so each block's units
 * are stepped with their own part only: K blocks cost K × one block, not K² (1: dense).
 */
export function independentBlocks(w: GruCellWeights): number {
  const H = w.units;
  const R = w.recurrentKernel;
  for (let K = H; K >= 2; K--) {
    if (H % K !== 0) continue;
    const h = H / K;
    let zero = true;
    for (let i = 0; i < H && zero; i++) {
      const bi = Math.floor(i / h);
      for (let c = 0; c < 3 * H; c++) {
        if (Math.floor((c % H) / h) !== bi && R[i * 3 * H + c] !== 0) {
          zero = false;
          break;
        }
      }
    }
    if (zero) return K;
  }
  return 1;
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
