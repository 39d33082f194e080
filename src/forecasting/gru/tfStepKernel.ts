import * as tf from '@tensorflow/tfjs';
import { StreamcastError } from '../../domain/errors.js';
import type { StepKernel } from './gruStep.js';
import type { GruCellWeights } from './gruWeights.js';

/**
 * The GRU step as tf ops on the current backend. The input and recurrent kernels are stacked so
 * each gate group is one fused matMul of [x, h] (bias and, for z|r, the sigmoid fused in):
 * about a dozen ops per step, whose fixed cost (~45 µs per call on wasm) is what the
 * Float32Array kernel avoids at small B.
 * Everything runs in tf.tidy and is read back with dataSync, so no tensor outlives a step.
 */
export class TfStepKernel implements StepKernel {
  readonly name = 'tf';
  readonly #I: number;
  readonly #H: number;
  readonly #wzr: tf.Tensor2D;
  readonly #bzr: tf.Tensor1D;
  readonly #wh: tf.Tensor2D;
  readonly #bh: tf.Tensor1D;
  #disposed = false;

  constructor(w: GruCellWeights) {
    const I = w.inputSize;
    const H = w.units;
    const L = I + H;
    this.#I = I;
    this.#H = H;
    const zr = new Float32Array(L * 2 * H);
    const hh = new Float32Array(L * H);
    for (let i = 0; i < L; i++) {
      const src = i < I ? w.kernel : w.recurrentKernel;
      const row = (i < I ? i : i - I) * 3 * H;
      for (let j = 0; j < 2 * H; j++) zr[i * 2 * H + j] = src[row + j]!;
      for (let j = 0; j < H; j++) hh[i * H + j] = src[row + 2 * H + j]!;
    }
    this.#wzr = tf.tensor2d(zr, [L, 2 * H]);
    this.#bzr = tf.tensor1d(w.bias.subarray(0, 2 * H));
    this.#wh = tf.tensor2d(hh, [L, H]);
    this.#bh = tf.tensor1d(w.bias.subarray(2 * H, 3 * H));
  }

  step(x: Float32Array, hIn: Float32Array, hOut: Float32Array, B: number): void {
    if (this.#disposed) throw new StreamcastError('fatal', 'TfStepKernel used after dispose (a swapped-out model kept serving?)');
    const I = this.#I;
    const H = this.#H;
    tf.tidy(() => {
      const xt = tf.tensor2d(x.subarray(0, B * I), [B, I]);
      const ht = tf.tensor2d(hIn.subarray(0, B * H), [B, H]);
      const zr = tf.fused.matMul({ a: tf.concat([xt, ht], 1), b: this.#wzr, bias: this.#bzr, activation: 'sigmoid' });
      const [z, r] = tf.split(zr, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      const hh = tf.tanh(tf.fused.matMul({ a: tf.concat([xt, tf.mul(r, ht)], 1), b: this.#wh, bias: this.#bh }));
      // z·h + (1 − z)·ĥ, rearranged to save an op.
      const out = tf.add(hh, tf.mul(z, tf.sub(ht, hh)));
      hOut.set(out.dataSync() as Float32Array);
    });
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tf.dispose([this.#wzr, this.#bzr, this.#wh, this.#bh]);
  }
}
