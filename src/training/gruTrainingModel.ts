import * as tf from '@tensorflow/tfjs';
import { ConfigError, StreamcastError } from '../domain/errors.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { anchorIndex } from '../forecasting/gru/quantileHead.js';
import type { ChunkResult, TrainingModel, TrainingModelOptions } from './trainingModel.js';
import { trainingOptions } from './trainingModel.js';

/**
 * The serving model as a differentiable tfjs graph, for training: the same GRU cell as
 * tf.layers.gru with recurrentActivation 'sigmoid' and resetAfter false (see gruWeights.ts),
 * run over a chunk from a given initial state (so state carries across TBPTT chunks), then the
 * same direct multi-horizon head with the same non-crossing parameterisation as
 * quantileHead.ts (anchor = level nearest 0.5, softplus increments outward), trained with the
 * pinball loss averaged over the counted cells and levels, Adam, and global-norm clipping.
 * Deterministic given the initial weights and data order (tfjs wasm is single-threaded).
 */
export class GruTrainingModel implements TrainingModel {
  readonly inputSize: number;
  readonly units: number;
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly #template: GruModelWeights;
  readonly #anchor: number;
  readonly #kernel: tf.Variable;
  readonly #recurrent: tf.Variable;
  readonly #bias: tf.Variable;
  readonly #headKernel: tf.Variable;
  readonly #headBias: tf.Variable;
  readonly #levels: tf.Tensor;
  readonly #optimizer: tf.AdamOptimizer;
  readonly #clipNorm: number;
  #disposed = false;

  constructor(init: GruModelWeights, opts: TrainingModelOptions = {}) {
    const { cell, head } = init;
    if (head.units !== cell.units) throw new ConfigError(`head expects ${head.units} units, cell has ${cell.units}`);
    const { learningRate: lr, clipNorm: clip } = trainingOptions(opts);
    this.inputSize = cell.inputSize;
    this.units = cell.units;
    this.horizon = head.horizon;
    this.quantiles = [...head.quantiles];
    this.#template = init;
    this.#anchor = anchorIndex(head.quantiles);
    const I = cell.inputSize;
    const H = cell.units;
    const O = head.horizon * head.quantiles.length;
    this.#kernel = tf.variable(tf.tensor2d(cell.kernel, [I, 3 * H]), true, 'gru_kernel');
    this.#recurrent = tf.variable(tf.tensor2d(cell.recurrentKernel, [H, 3 * H]), true, 'gru_recurrent_kernel');
    this.#bias = tf.variable(tf.tensor1d(cell.bias), true, 'gru_bias');
    this.#headKernel = tf.variable(tf.tensor2d(head.kernel, [H, O]), true, 'head_kernel');
    this.#headBias = tf.variable(tf.tensor1d(head.bias), true, 'head_bias');
    this.#levels = tf.tensor1d(head.quantiles as number[]);
    this.#optimizer = tf.train.adam(lr);
    this.#clipNorm = clip;
  }

  /**
   * Quantiles (normalized space) for every step of a chunk: x is B × T × I, h0 B × units.
   * Returns B × T × horizon × Q, ascending by level, and the final state.
   */
  predict(x: Float32Array, h0: Float32Array, B: number, T: number): { quantiles: Float32Array; hT: Float32Array } {
    this.#live();
    return tf.tidy(() => {
      const { q, hT } = this.#forward(tf.tensor3d(x.subarray(0, B * T * this.inputSize), [B, T, this.inputSize]), tf.tensor2d(h0.subarray(0, B * this.units), [B, this.units]));
      return { quantiles: q.dataSync() as Float32Array, hT: hT.dataSync() as Float32Array };
    });
  }

  /** One Adam step on a chunk; target and weight are B × T × horizon. */
  trainChunk(x: Float32Array, h0: Float32Array, target: Float32Array, weight: Float32Array, B: number, T: number): ChunkResult {
    this.#live();
    const vars = [this.#kernel, this.#recurrent, this.#bias, this.#headKernel, this.#headBias];
    let lossSum = 0;
    let cells = 0;
    let hT = new Float32Array(0);
    tf.tidy(() => {
      const xt = tf.tensor3d(x.subarray(0, B * T * this.inputSize), [B, T, this.inputSize]);
      const ht = tf.tensor2d(h0.subarray(0, B * this.units), [B, this.units]);
      const yt = tf.tensor3d(target.subarray(0, B * T * this.horizon), [B, T, this.horizon]);
      const wt = tf.tensor3d(weight.subarray(0, B * T * this.horizon), [B, T, this.horizon]);
      let last: tf.Tensor | undefined;
      let sum: tf.Tensor | undefined;
      let count: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const { q, hT: h } = this.#forward(xt, ht);
        const p = this.#pinball(q, yt, wt);
        // variableGrads disposes everything but its result; keep what we read afterwards.
        last = tf.keep(h);
        sum = tf.keep(p.sum);
        count = tf.keep(p.count);
        return tf.div(p.sum, tf.maximum(tf.mul(p.count, this.quantiles.length), 1)) as tf.Scalar;
      }, vars);
      try {
        lossSum = sum!.dataSync()[0]!;
        cells = count!.dataSync()[0]!;
        hT = Float32Array.from(last!.dataSync() as Float32Array);
      } finally {
        tf.dispose([value, last!, sum!, count!]);
      }
      if (cells === 0) return;
      const names = Object.keys(grads);
      const norm = Math.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]!)))).dataSync()[0]!);
      if (!Number.isFinite(norm)) throw new StreamcastError('fatal', 'training diverged: non-finite gradient');
      const scale = norm > this.#clipNorm ? this.#clipNorm / norm : 1;
      this.#optimizer.applyGradients(names.map((name) => ({ name, tensor: scale === 1 ? grads[name]! : tf.mul(grads[name]!, scale) })));
    });
    return { lossSum, cells, hT };
  }

  /** Loss on a chunk without updating weights. */
  evalChunk(x: Float32Array, h0: Float32Array, target: Float32Array, weight: Float32Array, B: number, T: number): ChunkResult {
    this.#live();
    return tf.tidy(() => {
      const { q, hT } = this.#forward(tf.tensor3d(x.subarray(0, B * T * this.inputSize), [B, T, this.inputSize]), tf.tensor2d(h0.subarray(0, B * this.units), [B, this.units]));
      const p = this.#pinball(q, tf.tensor3d(target.subarray(0, B * T * this.horizon), [B, T, this.horizon]), tf.tensor3d(weight.subarray(0, B * T * this.horizon), [B, T, this.horizon]));
      return { lossSum: p.sum.dataSync()[0]!, cells: p.count.dataSync()[0]!, hT: Float32Array.from(hT.dataSync() as Float32Array) };
    });
  }

  /** The current weights in the serving layout (copies). */
  weights(version = this.#template.version): GruModelWeights {
    this.#live();
    const read = (v: tf.Variable): Float32Array => Float32Array.from(v.dataSync() as Float32Array);
    const t = this.#template;
    return {
      version,
      layout: t.layout,
      cell: { inputSize: t.cell.inputSize, units: t.cell.units, kernel: read(this.#kernel), recurrentKernel: read(this.#recurrent), bias: read(this.#bias) },
      head: { units: t.head.units, horizon: t.head.horizon, quantiles: [...t.head.quantiles], kernel: read(this.#headKernel), bias: read(this.#headBias) },
    };
  }

  /** Overwrites the weights (e.g. to restore the best epoch); optimizer moments are kept. */
  setWeights(w: GruModelWeights): void {
    this.#live();
    this.#kernel.assign(tf.tensor2d(w.cell.kernel, this.#kernel.shape as [number, number]));
    this.#recurrent.assign(tf.tensor2d(w.cell.recurrentKernel, this.#recurrent.shape as [number, number]));
    this.#bias.assign(tf.tensor1d(w.cell.bias));
    this.#headKernel.assign(tf.tensor2d(w.head.kernel, this.#headKernel.shape as [number, number]));
    this.#headBias.assign(tf.tensor1d(w.head.bias));
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#optimizer.dispose();
    tf.dispose([this.#kernel, this.#recurrent, this.#bias, this.#headKernel, this.#headBias, this.#levels]);
  }

  #live(): void {
    if (this.#disposed) throw new StreamcastError('fatal', 'GruTrainingModel used after dispose');
  }

  #forward(x: tf.Tensor3D, h0: tf.Tensor2D): { q: tf.Tensor4D; hT: tf.Tensor2D } {
    const [B, T, I] = x.shape;
    const H = this.units;
    // The input projection of every step in one matMul; the recurrence is what must loop.
    const xp = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [B * T, I]), this.#kernel), this.#bias), [B, T, 3 * H]);
    // The gate columns split once for the whole chunk, not at every step: the recurrence runs
    // ~10 eager ops per step (and their gradients), whose fixed cost dominates at a few lanes.
    const [xzrAll, xhAll] = tf.split(xp, [2 * H, H], 2) as [tf.Tensor3D, tf.Tensor3D];
    const xzrs = tf.unstack(xzrAll, 1) as tf.Tensor2D[];
    const xhs = tf.unstack(xhAll, 1) as tf.Tensor2D[];
    const [uzr, uh] = tf.split(this.#recurrent, [2 * H, H], 1) as [tf.Tensor2D, tf.Tensor2D];
    let h: tf.Tensor2D = h0;
    const hs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const zr = tf.sigmoid(tf.add(xzrs[t]!, tf.matMul(h, uzr)));
      const [z, r] = tf.split(zr, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      const hh = tf.tanh(tf.add(xhs[t]!, tf.matMul(tf.mul(r, h), uh)));
      h = tf.add(hh, tf.mul(z, tf.sub(h, hh)));
      hs.push(h);
    }
    const hseq = tf.reshape(tf.stack(hs, 1), [B * T, H]);
    const raw = tf.reshape(tf.add(tf.matMul(hseq, this.#headKernel), this.#headBias), [B * T, this.horizon, this.quantiles.length]) as tf.Tensor3D;
    const q = tf.reshape(this.#monotone(raw), [B, T, this.horizon, this.quantiles.length]) as tf.Tensor4D;
    return { q, hT: h };
  }

  /** quantileHead.ts's toQuantiles as tf ops (N × horizon × Q). */
  #monotone(raw: tf.Tensor3D): tf.Tensor3D {
    const [N, Hz, Q] = raw.shape;
    const a = this.#anchor;
    const anchor = tf.slice(raw, [0, 0, a], [N, Hz, 1]);
    const parts: tf.Tensor3D[] = [];
    if (a > 0) {
      const below = tf.softplus(tf.slice(raw, [0, 0, 0], [N, Hz, a]));
      parts.push(tf.sub(anchor, tf.cumsum(below, 2, false, true)));
    }
    parts.push(anchor);
    if (a < Q - 1) {
      const above = tf.softplus(tf.slice(raw, [0, 0, a + 1], [N, Hz, Q - a - 1]));
      parts.push(tf.add(anchor, tf.cumsum(above, 2)));
    }
    return parts.length === 1 ? parts[0]! : tf.concat(parts, 2);
  }

  /** Weighted pinball loss: sum over counted cells and levels, and the number of counted cells. */
  #pinball(q: tf.Tensor4D, y: tf.Tensor3D, w: tf.Tensor3D): { sum: tf.Scalar; count: tf.Scalar } {
    const diff = tf.sub(tf.expandDims(y, 3), q); // y − q, B × T × horizon × Q
    const loss = tf.maximum(tf.mul(diff, this.#levels), tf.mul(diff, tf.sub(this.#levels, 1)));
    return { sum: tf.sum(tf.mul(loss, tf.expandDims(w, 3))), count: tf.sum(w) };
  }
}
