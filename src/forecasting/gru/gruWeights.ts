import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../domain/errors.js';
import type { FeatureLayout } from './featureLayout.js';
import { lagInputColumns, layoutInputSize } from './featureLayout.js';
import { mulberry32, normalSource } from '../../domain/random.js';
import { headBiasInit } from './quantileHead.js';
import type { HeadWeights } from './quantileHead.js';
import type { Calibration } from './calibration.js';

/** The head's weights are defined beside the head; re-exported as a part of the model's. */
export type { HeadWeights } from './quantileHead.js';

/**
 * GRU cell weights exactly as tf.layers.gru stores them (tfjs-layers 4.22 recurrent.js,
 * GRUCell.build/call), so they copy to and from a LayersModel without reshuffling:
 *   kernel           [I, 3H]  row-major, columns grouped by gate z | r | h
 *   recurrentKernel  [H, 3H]  same grouping
 *   bias             [3H]     added to the input projection only
 * with resetAfter = false (the only mode tfjs supports): the reset gate scales h_{t-1} BEFORE the
 * recurrent product of the candidate:
 *   z = σ(x Kz + h Uz + bz),  r = σ(x Kr + h Ur + br)
 *   ĥ = tanh(x Kh + (r ⊙ h) Uh + bh),  h' = z ⊙ h + (1 − z) ⊙ ĥ
 * σ is the logistic sigmoid: the reference layer must set recurrentActivation: 'sigmoid'
 * because tfjs defaults to hardSigmoid.
 */
export interface GruCellWeights {
  readonly inputSize: number;
  readonly units: number;
  readonly kernel: Float32Array;
  readonly recurrentKernel: Float32Array;
  readonly bias: Float32Array;
}

export interface GruModelWeights {
  /** Reported as the forecasts' model.version. */
  readonly version: number;
  readonly layout: FeatureLayout;
  readonly cell: GruCellWeights;
  readonly head: HeadWeights;
  /** Fitted on the held-out slice when the model was promoted (calibration.ts); absent = as the head says. */
  readonly calibration?: Calibration;
  /**
   * A model of several members (gruMembers.ts): each member's own head bias, members × outputs
   * (the head's bias is their mean). Kept in memory only, for fine-tuning each member from exactly
   * its own weights; a model read back from an artifact or a model frame has none (its members
   * then start from the mean).
   */
  readonly memberHeadBias?: Float32Array;
}

export interface GruModelDims {
  readonly layout: FeatureLayout;
  readonly units: number;
  readonly horizon: number;
  readonly quantiles: readonly number[];
}

/**
 * Seeded, deterministic init as Keras does it for a GRU: Glorot-uniform input kernel, orthogonal
 * recurrent kernel (one orthogonal H×H block per gate), zero gate biases. The head is Glorot
 * uniform with biases that make an untrained model emit standard-normal quantiles in z space.
 */
export function initGruModelWeights(dims: GruModelDims, seed: number, version = 0): GruModelWeights {
  validateDims(dims);
  const { units: H, horizon, quantiles } = dims;
  const I = layoutInputSize(dims.layout);
  const uniform = mulberry32(seed);
  // Seasonal-lag and base rows start at zero (the other rows draw as without them): a lag that is never
  // known in training (a week of 5-minute steps before the first retrain's history has one) then
  // gets no gradient and stays silent when it turns known in serving, instead of feeding random
  // weights an input the model never saw. A known lag learns from zero like any input row.
  const own = I - lagInputColumns(dims.layout);
  const kernel = new Float32Array(I * 3 * H);
  kernel.set(glorotUniform(own, 3 * H, uniform));
  const recurrentKernel = new Float32Array(H * 3 * H);
  const normal = normalSource(uniform);
  for (let g = 0; g < 3; g++) {
    const block = orthogonal(H, normal);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) recurrentKernel[i * 3 * H + g * H + j] = block[i * H + j]!;
    }
  }
  const O = horizon * quantiles.length;
  return {
    version,
    layout: dims.layout,
    cell: { inputSize: I, units: H, kernel, recurrentKernel, bias: new Float32Array(3 * H) },
    head: { units: H, horizon, quantiles: [...quantiles], kernel: glorotUniform(H, O, uniform), bias: headBiasInit(quantiles, horizon) },
  };
}

function validateDims(dims: GruModelDims): void {
  if (!Number.isInteger(dims.units) || dims.units < 1) throw new ConfigError(`GRU units is ${dims.units}; use a positive integer (64 is the default)`);
  if (!Number.isInteger(dims.horizon) || dims.horizon < 1) throw new ConfigError(`horizon is ${dims.horizon}; use a positive integer`);
  const q = dims.quantiles;
  if (q.length === 0) throw new ConfigError('quantiles is empty; list at least one level in (0, 1)');
  for (let i = 0; i < q.length; i++) {
    const l = q[i]!;
    if (!(l > 0 && l < 1)) throw new ConfigError(`quantile level ${l} is outside (0, 1)`);
    if (i > 0 && !(l > q[i - 1]!)) throw new ConfigError(`quantiles must be strictly ascending; got ${q.join(', ')}`);
  }
}

function glorotUniform(fanIn: number, fanOut: number, uniform: () => number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const w = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < w.length; i++) w[i] = (2 * uniform() - 1) * limit;
  return w;
}

/** An n×n orthogonal matrix (row-major): modified Gram–Schmidt on Gaussian rows, in float64. */
function orthogonal(n: number, normal: () => number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < m.length; i++) m[i] = normal();
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += m[i * n + j]! * m[k * n + j]!;
      for (let j = 0; j < n; j++) m[i * n + j]! -= dot * m[k * n + j]!;
    }
    let norm = 0;
    for (let j = 0; j < n; j++) norm += m[i * n + j]! ** 2;
    norm = Math.sqrt(norm);
    for (let j = 0; j < n; j++) m[i * n + j]! /= norm;
  }
  return m;
}

// ---- conversion to and from tf.layers ----------------------------------------------------

/** Reads a tf.layers GRU layer's weights; refuses configurations our step kernels do not compute. */
export function cellWeightsFromLayer(layer: tf.layers.Layer): GruCellWeights {
  const cfg = layer.getConfig();
  const expect = (key: string, want: unknown, why: string): void => {
    if (cfg[key] !== want) {
      throw new ConfigError(`GRU layer "${layer.name}" has ${key}=${JSON.stringify(cfg[key])}; the streaming step needs ${JSON.stringify(want)} (${why})`);
    }
  };
  expect('recurrentActivation', 'sigmoid', "tfjs defaults to hardSigmoid; build the layer with recurrentActivation: 'sigmoid'");
  expect('activation', 'tanh', 'the step kernels hard-code tanh');
  expect('useBias', true, 'the step kernels always add a bias');
  const ws = layer.getWeights();
  if (ws.length !== 3) throw new ConfigError(`GRU layer "${layer.name}" has ${ws.length} weight tensors; expected kernel, recurrent kernel and bias`);
  const [k, rk, b] = ws as [tf.Tensor, tf.Tensor, tf.Tensor];
  const [I, threeH] = k.shape as [number, number];
  const H = threeH / 3;
  checkShape(rk, [H, 3 * H], `${layer.name} recurrent kernel`);
  checkShape(b, [3 * H], `${layer.name} bias`);
  return { inputSize: I, units: H, kernel: copyOf(k), recurrentKernel: copyOf(rk), bias: copyOf(b) };
}

export function headWeightsFromLayer(layer: tf.layers.Layer, horizon: number, quantiles: readonly number[]): HeadWeights {
  const ws = layer.getWeights();
  if (ws.length !== 2) throw new ConfigError(`head layer "${layer.name}" has ${ws.length} weight tensors; expected kernel and bias`);
  const [k, b] = ws as [tf.Tensor, tf.Tensor];
  const [H, O] = k.shape as [number, number];
  if (O !== horizon * quantiles.length) {
    throw new ConfigError(`head layer "${layer.name}" has ${O} outputs; horizon ${horizon} × ${quantiles.length} quantiles needs ${horizon * quantiles.length}`);
  }
  checkShape(b, [O], `${layer.name} bias`);
  return { units: H, horizon, quantiles: [...quantiles], kernel: copyOf(k), bias: copyOf(b) };
}

/**
 * Our weights from a model whose first GRU layer is the cell and whose first dense layer after it
 * (bare or inside TimeDistributed) is the quantile head.
 */
export function weightsFromLayersModel(model: tf.LayersModel, meta: { version: number; layout: FeatureLayout; horizon: number; quantiles: readonly number[] }): GruModelWeights {
  const { gru, head } = findLayers(model);
  const cell = cellWeightsFromLayer(gru);
  if (cell.inputSize !== layoutInputSize(meta.layout)) {
    throw new ConfigError(`model takes ${cell.inputSize} inputs per step but the feature layout gives ${layoutInputSize(meta.layout)}; retrain for this pipeline's time features`);
  }
  const headW = headWeightsFromLayer(head, meta.horizon, meta.quantiles);
  if (headW.units !== cell.units) throw new ConfigError(`head expects ${headW.units} hidden units but the GRU has ${cell.units}`);
  return { version: meta.version, layout: meta.layout, cell, head: headW };
}

/** Writes our weights into a model shaped like `weightsFromLayersModel` expects. */
export function assignToLayersModel(model: tf.LayersModel, weights: GruModelWeights): void {
  const { gru, head } = findLayers(model);
  const c = weights.cell;
  const h = weights.head;
  const O = h.horizon * h.quantiles.length;
  const cellTensors = [
    tf.tensor2d(c.kernel, [c.inputSize, 3 * c.units]),
    tf.tensor2d(c.recurrentKernel, [c.units, 3 * c.units]),
    tf.tensor1d(c.bias),
  ];
  const headTensors = [tf.tensor2d(h.kernel, [h.units, O]), tf.tensor1d(h.bias)];
  try {
    gru.setWeights(cellTensors);
    head.setWeights(headTensors);
  } finally {
    tf.dispose([...cellTensors, ...headTensors]);
  }
}

function findLayers(model: tf.LayersModel): { gru: tf.layers.Layer; head: tf.layers.Layer } {
  const layers = model.layers;
  const gi = layers.findIndex((l) => l.getClassName() === 'GRU');
  if (gi < 0) throw new ConfigError(`model "${model.name}" has no GRU layer`);
  for (let i = gi + 1; i < layers.length; i++) {
    const l = layers[i]!;
    if (l.getClassName() === 'Dense') return { gru: layers[gi]!, head: l };
    if (l.getClassName() === 'TimeDistributed') {
      const inner = (l as unknown as { layer: tf.layers.Layer }).layer;
      if (inner.getClassName() === 'Dense') return { gru: layers[gi]!, head: inner };
    }
  }
  throw new ConfigError(`model "${model.name}" has no Dense head after its GRU layer`);
}

function checkShape(t: tf.Tensor, want: readonly number[], what: string): void {
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
    throw new ConfigError(`${what} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
  }
}

function copyOf(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

/**
 * The element-wise mean of models of one shape (same layout, units, horizon and quantiles); the
 * first one's version and calibration are kept.
 */
export function averageGruWeights(models: readonly GruModelWeights[]): GruModelWeights {
  const first = models[0];
  if (first === undefined) throw new ConfigError('averageGruWeights needs at least one model');
  const mean = (pick: (w: GruModelWeights) => Float32Array): Float32Array => {
    const out = new Float32Array(pick(first).length);
    for (const w of models) {
      const a = pick(w);
      if (a.length !== out.length) throw new ConfigError('averageGruWeights: the models differ in shape');
      for (let i = 0; i < out.length; i++) out[i]! += a[i]!;
    }
    for (let i = 0; i < out.length; i++) out[i]! /= models.length;
    return out;
  };
  return {
    ...first,
    cell: { ...first.cell, kernel: mean((w) => w.cell.kernel), recurrentKernel: mean((w) => w.cell.recurrentKernel), bias: mean((w) => w.cell.bias) },
    head: { ...first.head, kernel: mean((w) => w.head.kernel), bias: mean((w) => w.head.bias) },
  };
}
