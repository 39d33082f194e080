import { ConfigError, StreamcastError } from '../domain/errors.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { anchorIndex, toQuantiles } from '../forecasting/gru/quantileHead.js';
import type { ChunkResult, TrainingModel, TrainingModelOptions } from './trainingModel.js';
import { trainingOptions } from './trainingModel.js';

// tfjs' Adam defaults (tf.train.adam(lr)), so both kernels take the same steps.
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-7;

/**
 * The training model as a hand-written forward and backward pass over plain typed arrays: the
 * same GRU cell, head, loss, Adam and clipping as GruTrainingModel (trainingModel.ts), computed in
 * double precision and stored as float32 like tfjs' variables. Why it exists: at the shapes
 * streamcast trains (a few to a few dozen lanes × 64 units × ~100 steps) tf ops cost their
 * dispatch, not their arithmetic (~4,000 kernels per chunk with their gradients), so on a CPU
 * this loop trains several times faster on every tfjs backend (`npm run bench -- train-kernel`).
 * Deterministic: one thread, a fixed order of every sum.
 */
export class JsGruTrainingModel implements TrainingModel {
  readonly inputSize: number;
  readonly units: number;
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly #template: GruModelWeights;
  readonly #anchor: number;
  readonly #lr: number;
  readonly #clipNorm: number;
  /** Parameters in one buffer (kernel, recurrent, bias, head kernel, head bias), float32 like tfjs. */
  readonly #params: Float32Array;
  /** The parameters as doubles, and the recurrent and head kernels transposed: every product below is a dot product over contiguous memory. */
  readonly #w: Float64Array;
  readonly #uT: Float64Array;
  readonly #headT: Float64Array;
  readonly #grads: Float64Array;
  readonly #m: Float64Array;
  readonly #v: Float64Array;
  readonly #offsets: { readonly kernel: number; readonly recurrent: number; readonly bias: number; readonly headKernel: number; readonly headBias: number };
  #accBeta1 = BETA1;
  #accBeta2 = BETA2;
  #levels: Float64Array;
  // Activations of the last forward pass, grown on demand: h (T + 1 states), z, r, candidate, input projection.
  #hs = new Float64Array(0);
  #zs = new Float64Array(0);
  #rs = new Float64Array(0);
  #cs = new Float64Array(0);
  #xp = new Float64Array(0);
  #dxp = new Float64Array(0);
  #dhHead = new Float64Array(0);
  /** Per (lane, step) head-output gradients, O per row (rows as #dxp's). */
  #draw = new Float64Array(0);
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
    this.#lr = lr;
    this.#clipNorm = clip;
    this.#levels = Float64Array.from(head.quantiles);
    const I = cell.inputSize;
    const H = cell.units;
    const O = head.horizon * head.quantiles.length;
    const kernel = 0;
    const recurrent = kernel + I * 3 * H;
    const bias = recurrent + H * 3 * H;
    const headKernel = bias + 3 * H;
    const headBias = headKernel + H * O;
    const size = headBias + O;
    this.#offsets = { kernel, recurrent, bias, headKernel, headBias };
    this.#params = new Float32Array(size);
    this.#w = new Float64Array(size);
    this.#uT = new Float64Array(3 * H * H);
    this.#headT = new Float64Array(O * H);
    this.#grads = new Float64Array(size);
    this.#m = new Float64Array(size);
    this.#v = new Float64Array(size);
    this.setWeights(init);
  }

  predict(x: Float32Array, h0: Float32Array, B: number, T: number): { quantiles: Float32Array; hT: Float32Array } {
    this.#live();
    this.#forward(x, h0, B, T);
    const Hz = this.horizon;
    const Q = this.quantiles.length;
    const out = new Float32Array(B * T * Hz * Q);
    const raw = new Float64Array(Hz * Q);
    const q = new Float64Array(Hz * Q);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        this.#head(b, t, B, raw, q);
        out.set(q, (b * T + t) * Hz * Q);
      }
    }
    return { quantiles: out, hT: this.#finalState(B, T) };
  }

  trainChunk(x: Float32Array, h0: Float32Array, target: Float32Array, weight: Float32Array, B: number, T: number): ChunkResult {
    this.#live();
    this.#forward(x, h0, B, T);
    const { lossSum, cells } = this.#lossAndHeadGrads(target, weight, B, T, true);
    const hT = this.#finalState(B, T);
    if (cells === 0) return { lossSum, cells, hT };
    this.#backward(x, B, T);
    this.#applyAdam();
    return { lossSum, cells, hT };
  }

  evalChunk(x: Float32Array, h0: Float32Array, target: Float32Array, weight: Float32Array, B: number, T: number): ChunkResult {
    this.#live();
    this.#forward(x, h0, B, T);
    const { lossSum, cells } = this.#lossAndHeadGrads(target, weight, B, T, false);
    return { lossSum, cells, hT: this.#finalState(B, T) };
  }

  weights(version = this.#template.version): GruModelWeights {
    this.#live();
    const t = this.#template;
    const o = this.#offsets;
    const p = this.#params;
    return {
      version,
      layout: t.layout,
      cell: {
        inputSize: t.cell.inputSize,
        units: t.cell.units,
        kernel: p.slice(o.kernel, o.recurrent),
        recurrentKernel: p.slice(o.recurrent, o.bias),
        bias: p.slice(o.bias, o.headKernel),
      },
      head: { units: t.head.units, horizon: t.head.horizon, quantiles: [...t.head.quantiles], kernel: p.slice(o.headKernel, o.headBias), bias: p.slice(o.headBias) },
    };
  }

  setWeights(w: GruModelWeights): void {
    this.#live();
    const o = this.#offsets;
    const parts: [Float32Array, number, number][] = [
      [w.cell.kernel, o.kernel, o.recurrent],
      [w.cell.recurrentKernel, o.recurrent, o.bias],
      [w.cell.bias, o.bias, o.headKernel],
      [w.head.kernel, o.headKernel, o.headBias],
      [w.head.bias, o.headBias, this.#params.length],
    ];
    for (const [src, from, to] of parts) {
      if (src.length !== to - from) throw new StreamcastError('fatal', `weights hold ${src.length} values where ${to - from} are expected (a model of other dimensions)`);
      this.#params.set(src, from);
    }
    this.#refresh();
  }

  dispose(): void {
    this.#disposed = true;
  }

  /** Re-derives the double and transposed copies from the float32 parameters. */
  #refresh(): void {
    const H = this.units;
    const G = 3 * H;
    const O = this.horizon * this.quantiles.length;
    const w = this.#w;
    w.set(this.#params);
    const { recurrent: ou, headKernel: ow } = this.#offsets;
    for (let k = 0; k < H; k++) for (let j = 0; j < G; j++) this.#uT[j * H + k] = w[ou + k * G + j]!;
    for (let k = 0; k < H; k++) for (let o = 0; o < O; o++) this.#headT[o * H + k] = w[ow + k * O + o]!;
  }

  #live(): void {
    if (this.#disposed) throw new StreamcastError('fatal', 'JsGruTrainingModel used after dispose');
  }

  #finalState(B: number, T: number): Float32Array {
    const H = this.units;
    return Float32Array.from(this.#hs.subarray(T * B * H, (T + 1) * B * H));
  }

  /** Runs the cell over the chunk, keeping every step's state and gates for the backward pass. */
  #forward(x: Float32Array, h0: Float32Array, B: number, T: number): void {
    const I = this.inputSize;
    const H = this.units;
    const G = 3 * H;
    const O = this.horizon * this.quantiles.length;
    const w = this.#w;
    const uT = this.#uT;
    const { kernel: ok, bias: ob } = this.#offsets;
    if (this.#hs.length < (T + 1) * B * H) {
      this.#hs = new Float64Array((T + 1) * B * H);
      this.#zs = new Float64Array(T * B * H);
      this.#rs = new Float64Array(T * B * H);
      this.#cs = new Float64Array(T * B * H);
      this.#dhHead = new Float64Array(T * B * H);
    }
    if (this.#xp.length < B * T * G) {
      this.#xp = new Float64Array(B * T * G);
      this.#dxp = new Float64Array(B * T * G);
      this.#draw = new Float64Array(B * T * O);
    }
    const hs = this.#hs;
    const zs = this.#zs;
    const rs = this.#rs;
    const cs = this.#cs;
    const xp = this.#xp;
    // The input projection of every step (x·W + b), rows (b, t).
    for (let n = 0; n < B * T; n++) {
      const row = n * G;
      for (let j = 0; j < G; j++) xp[row + j] = w[ob + j]!;
      const xo = n * I;
      for (let i = 0; i < I; i++) {
        const xi = x[xo + i]!;
        if (xi === 0) continue;
        const wi = ok + i * G;
        for (let j = 0; j < G; j++) xp[row + j] = xp[row + j]! + xi * w[wi + j]!;
      }
    }
    for (let k = 0; k < B * H; k++) hs[k] = h0[k]!;
    const rh = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const prev = (t * B + b) * H;
        const cur = prev + B * H;
        const row = (b * T + t) * G;
        // Two units at a time: each h[k] load feeds four multiply-adds.
        let j = 0;
        for (; j + 2 <= H; j += 2) {
          const uz0 = j * H;
          const uz1 = uz0 + H;
          const ur0 = (H + j) * H;
          const ur1 = ur0 + H;
          let az0 = xp[row + j]!;
          let az1 = xp[row + j + 1]!;
          let ar0 = xp[row + H + j]!;
          let ar1 = xp[row + H + j + 1]!;
          for (let k = 0; k < H; k++) {
            const hk = hs[prev + k]!;
            az0 += hk * uT[uz0 + k]!;
            az1 += hk * uT[uz1 + k]!;
            ar0 += hk * uT[ur0 + k]!;
            ar1 += hk * uT[ur1 + k]!;
          }
          zs[prev + j] = 1 / (1 + Math.exp(-az0));
          zs[prev + j + 1] = 1 / (1 + Math.exp(-az1));
          rs[prev + j] = 1 / (1 + Math.exp(-ar0));
          rs[prev + j + 1] = 1 / (1 + Math.exp(-ar1));
        }
        for (; j < H; j++) {
          const uz = j * H;
          const ur = (H + j) * H;
          let az = xp[row + j]!;
          let ar = xp[row + H + j]!;
          for (let k = 0; k < H; k++) {
            const hk = hs[prev + k]!;
            az += hk * uT[uz + k]!;
            ar += hk * uT[ur + k]!;
          }
          zs[prev + j] = 1 / (1 + Math.exp(-az));
          rs[prev + j] = 1 / (1 + Math.exp(-ar));
        }
        for (let k = 0; k < H; k++) rh[k] = rs[prev + k]! * hs[prev + k]!;
        for (let j = 0; j < H; j += 2) {
          const two = j + 1 < H;
          const uc0 = (2 * H + j) * H;
          const uc1 = two ? uc0 + H : uc0;
          let ac0 = xp[row + 2 * H + j]!;
          let ac1 = two ? xp[row + 2 * H + j + 1]! : 0;
          for (let k = 0; k < H; k++) {
            const v = rh[k]!;
            ac0 += v * uT[uc0 + k]!;
            ac1 += v * uT[uc1 + k]!;
          }
          for (let e = 0; e < (two ? 2 : 1); e++) {
            const c = Math.tanh(e === 0 ? ac0 : ac1);
            cs[prev + j + e] = c;
            hs[cur + j + e] = c + zs[prev + j + e]! * (hs[prev + j + e]! - c);
          }
        }
      }
    }
  }

  /** Raw head outputs and quantiles (horizon-major) for lane b at step t of the last forward. */
  #head(b: number, t: number, B: number, raw: Float64Array, q: Float64Array): void {
    const H = this.units;
    const Hz = this.horizon;
    const Q = this.quantiles.length;
    const O = Hz * Q;
    const w = this.#w;
    const wT = this.#headT;
    const obh = this.#offsets.headBias;
    const hs = this.#hs;
    const h = (t + 1) * B * H + b * H;
    for (let o = 0; o < O; o++) {
      const wo = o * H;
      let s = w[obh + o]!;
      for (let k = 0; k < H; k++) s += hs[h + k]! * wT[wo + k]!;
      raw[o] = s;
    }
    toQuantiles(raw, Hz, Q, this.#anchor, q, 0);
  }

  /**
   * The weighted pinball loss of the last forward; with `grads`, also leaves dL/d(raw head output)
   * of every (lane, step) in #draw and dL/dh of every step's output in #dhHead.
   */
  #lossAndHeadGrads(target: Float32Array, weight: Float32Array, B: number, T: number, grads: boolean): { lossSum: number; cells: number } {
    const H = this.units;
    const Hz = this.horizon;
    const Q = this.quantiles.length;
    const O = Hz * Q;
    const levels = this.#levels;
    const a = this.#anchor;
    let cells = 0;
    for (let n = 0; n < B * T * Hz; n++) cells += weight[n]!;
    // The mean over counted cells and levels is the objective, as in GruTrainingModel.
    const scale = 1 / Math.max(cells * Q, 1);
    const w = this.#w;
    const ow = this.#offsets.headKernel;
    if (grads) {
      this.#dhHead.fill(0, 0, T * B * H);
      this.#draw.fill(0, 0, B * T * O);
    }
    const raw = new Float64Array(O);
    const q = new Float64Array(O);
    let lossSum = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const cell = (b * T + t) * Hz;
        let any = false;
        for (let hz = 0; hz < Hz; hz++) if (weight[cell + hz]! !== 0) any = true;
        if (!any) continue;
        this.#head(b, t, B, raw, q);
        const dr = (b * T + t) * O;
        const draw = this.#draw;
        for (let hz = 0; hz < Hz; hz++) {
          const wt = weight[cell + hz]!;
          if (wt === 0) continue;
          const y = target[cell + hz]!;
          const base = hz * Q;
          for (let j = 0; j < Q; j++) {
            const d = y - q[base + j]!;
            const tau = levels[j]!;
            // max(τd, (τ − 1)d); at d = 0 the gradient goes through τd, as tf.maximum's does.
            lossSum += wt * (d >= 0 ? tau * d : (tau - 1) * d);
            if (grads) draw[dr + base + j] = wt * scale * (d >= 0 ? -tau : 1 - tau);
          }
          if (!grads) continue;
          // Back through the monotone parameterisation: every level moves with the anchor; an
          // increment moves the levels beyond it, scaled by softplus' slope (the logistic).
          let total = 0;
          for (let j = 0; j < Q; j++) total += draw[dr + base + j]!;
          let outward = 0;
          for (let j = Q - 1; j > a; j--) {
            outward += draw[dr + base + j]!;
            draw[dr + base + j] = outward / (1 + Math.exp(-raw[base + j]!));
          }
          let inward = 0;
          for (let j = 0; j < a; j++) {
            inward += draw[dr + base + j]!;
            draw[dr + base + j] = -inward / (1 + Math.exp(-raw[base + j]!));
          }
          draw[dr + base + a] = total;
        }
        if (!grads) continue;
        const dh = (t * B + b) * H;
        for (let k = 0; k < H; k++) {
          const wk = ow + k * O;
          let s = 0;
          for (let o = 0; o < O; o++) s += draw[dr + o]! * w[wk + o]!;
          this.#dhHead[dh + k] = s;
        }
      }
    }
    return { lossSum, cells };
  }

  /** Backpropagation through the chunk's steps (gradients stop at the initial state), then every kernel's gradient. */
  #backward(x: Float32Array, B: number, T: number): void {
    const I = this.inputSize;
    const H = this.units;
    const G = 3 * H;
    const O = this.horizon * this.quantiles.length;
    const N = B * T;
    const w = this.#w;
    const g = this.#grads;
    const { kernel: ok, recurrent: ou, bias: ob, headKernel: ow, headBias: obh } = this.#offsets;
    const hs = this.#hs;
    const zs = this.#zs;
    const rs = this.#rs;
    const cs = this.#cs;
    const dxp = this.#dxp;
    const dhHead = this.#dhHead;
    const dhNext = new Float64Array(B * H);
    const dprev = new Float64Array(H);
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const prev = (t * B + b) * H;
        const row = (b * T + t) * G;
        const nb = b * H;
        // h = c + z·(h_prev − c)
        for (let k = 0; k < H; k++) {
          const z = zs[prev + k]!;
          const c = cs[prev + k]!;
          const d = dhNext[nb + k]! + dhHead[prev + k]!;
          dprev[k] = d * z;
          dxp[row + k] = d * (hs[prev + k]! - c) * z * (1 - z);
          dxp[row + 2 * H + k] = d * (1 - z) * (1 - c * c);
        }
        // c = tanh(x_c + (r·h_prev)·U_c): d(r·h_prev) = dc·U_cᵀ; then r = σ(·).
        for (let k = 0; k < H; k++) {
          const u = ou + k * G + 2 * H;
          let s = 0;
          for (let j = 0; j < H; j++) s += dxp[row + 2 * H + j]! * w[u + j]!;
          const r = rs[prev + k]!;
          dprev[k] = dprev[k]! + s * r;
          dxp[row + H + k] = s * hs[prev + k]! * r * (1 - r);
        }
        // [z, r] = σ(x_zr + h_prev·U_zr): dh_prev through U_zr.
        for (let k = 0; k < H; k++) {
          const u = ou + k * G;
          let s = 0;
          for (let j = 0; j < 2 * H; j++) s += dxp[row + j]! * w[u + j]!;
          dhNext[nb + k] = dprev[k]! + s;
        }
      }
    }
    // Every kernel's gradient is a product over the chunk's N = B·T rows: transposed to columns
    // of length N first, each entry is one contiguous dot product.
    const dT = new Float64Array(G * N);
    for (let n = 0; n < N; n++) for (let j = 0; j < G; j++) dT[j * N + n] = dxp[n * G + j]!;
    const col = new Float64Array(N);
    const col2 = new Float64Array(N);
    const dot = (a: Float64Array, m: Float64Array, mo: number): number => {
      let s0 = 0;
      let s1 = 0;
      let n = 0;
      for (; n + 2 <= N; n += 2) {
        s0 += a[n]! * m[mo + n]!;
        s1 += a[n + 1]! * m[mo + n + 1]!;
      }
      if (n < N) s0 += a[n]! * m[mo + n]!;
      return s0 + s1;
    };
    g.fill(0);
    // Recurrent kernel: h_prev for the z and r columns, r·h_prev for the candidate's.
    for (let k = 0; k < H; k++) {
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const hp = hs[(t * B + b) * H + k]!;
          col[b * T + t] = hp;
          col2[b * T + t] = rs[(t * B + b) * H + k]! * hp;
        }
      }
      const u = ou + k * G;
      for (let j = 0; j < 2 * H; j++) g[u + j] = dot(col, dT, j * N);
      for (let j = 2 * H; j < G; j++) g[u + j] = dot(col2, dT, j * N);
    }
    for (let i = 0; i < I; i++) {
      let any = false;
      for (let n = 0; n < N; n++) {
        const v = x[n * I + i]!;
        col[n] = v;
        if (v !== 0) any = true;
      }
      if (!any) continue;
      const wi = ok + i * G;
      for (let j = 0; j < G; j++) g[wi + j] = dot(col, dT, j * N);
    }
    for (let j = 0; j < G; j++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dT[j * N + n]!;
      g[ob + j] = s;
    }
    // The head: its input is every step's output state.
    const drT = new Float64Array(O * N);
    const draw = this.#draw;
    for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) drT[o * N + n] = draw[n * O + o]!;
    for (let k = 0; k < H; k++) {
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) col[b * T + t] = hs[((t + 1) * B + b) * H + k]!;
      const wk = ow + k * O;
      for (let o = 0; o < O; o++) g[wk + o] = dot(col, drT, o * N);
    }
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += drT[o * N + n]!;
      g[obh + o] = s;
    }
  }

  /** Global-norm clipping, then one Adam step (tfjs' update and bias correction). */
  #applyAdam(): void {
    const g = this.#grads;
    let sq = 0;
    for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
    const norm = Math.sqrt(sq);
    if (!Number.isFinite(norm)) throw new StreamcastError('fatal', 'training diverged: non-finite gradient');
    const scale = norm > this.#clipNorm ? this.#clipNorm / norm : 1;
    const p = this.#params;
    const m = this.#m;
    const v = this.#v;
    const c1 = 1 - this.#accBeta1;
    const c2 = 1 - this.#accBeta2;
    const lr = this.#lr;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * scale;
      const mi = BETA1 * m[i]! + (1 - BETA1) * gi;
      const vi = BETA2 * v[i]! + (1 - BETA2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i]! - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + EPSILON);
    }
    this.#accBeta1 *= BETA1;
    this.#accBeta2 *= BETA2;
    this.#refresh();
  }
}
