import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { featureLayout } from '../../../../src/forecasting/gru/featureLayout.js';
import { assignToLayersModel, initGruModelWeights, weightsFromLayersModel } from '../../../../src/forecasting/gru/gruWeights.js';
import { JsStepKernel } from '../../../../src/forecasting/gru/jsStepKernel.js';
import { mulberry32 } from '../../../../src/domain/random.js';
import { QuantileHead, toQuantiles } from '../../../../src/forecasting/gru/quantileHead.js';
import { contractBackends, useBackend } from '../../../helpers/computeBackends.js';

const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 24); // I = 7
const dims = { layout, units: 12, horizon: 3, quantiles: [0.1, 0.5, 0.9] };
const I = 7;
const H = 12;
const O = 9;

function referenceModel(T: number): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.gru({ units: H, recurrentActivation: 'sigmoid', returnSequences: true, inputShape: [T, I] }),
      tf.layers.timeDistributed({ layer: tf.layers.dense({ units: O }) }),
    ],
  });
}

describe.each(contractBackends())('gruWeights on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('init is deterministic in the seed', () => {
    const a = initGruModelWeights(dims, 1);
    const b = initGruModelWeights(dims, 1);
    const c = initGruModelWeights(dims, 2);
    expect(a.cell.kernel).toEqual(b.cell.kernel);
    expect(a.cell.recurrentKernel).toEqual(b.cell.recurrentKernel);
    expect(a.head.kernel).toEqual(b.head.kernel);
    expect(a.cell.kernel).not.toEqual(c.cell.kernel);
    expect(a.cell.kernel.length).toBe(I * 3 * H);
    expect(a.head.kernel.length).toBe(H * O);
  });

  it('init: Glorot-bounded kernel, one orthogonal block per gate, zero gate bias', () => {
    const w = initGruModelWeights(dims, 5);
    const limit = Math.sqrt(6 / (I + 3 * H));
    expect(Math.max(...Array.from(w.cell.kernel, Math.abs))).toBeLessThanOrEqual(limit);
    expect(w.cell.bias.every((v) => v === 0)).toBe(true);
    for (let g = 0; g < 3; g++) {
      for (let a = 0; a < H; a++) {
        for (let b = 0; b < H; b++) {
          let dot = 0;
          for (let k = 0; k < H; k++) dot += w.cell.recurrentKernel[a * 3 * H + g * H + k]! * w.cell.recurrentKernel[b * 3 * H + g * H + k]!;
          expect(dot).toBeCloseTo(a === b ? 1 : 0, 5);
        }
      }
    }
  });

  it('round-trips through a tf.layers model, and the model computes what our kernels compute', () => {
    const T = 6;
    const w = initGruModelWeights(dims, 9, 4);
    // Non-zero biases everywhere, so a misplaced bias cannot hide.
    const u = mulberry32(3);
    const cell = { ...w.cell, bias: Float32Array.from(w.cell.bias, () => u() - 0.5) };
    const weights = { ...w, cell };
    const model = referenceModel(T);
    assignToLayersModel(model, weights);
    const back = weightsFromLayersModel(model, { version: 4, layout, horizon: 3, quantiles: dims.quantiles });
    expect(back.cell.kernel).toEqual(weights.cell.kernel);
    expect(back.cell.recurrentKernel).toEqual(weights.cell.recurrentKernel);
    expect(back.cell.bias).toEqual(weights.cell.bias);
    expect(back.head.kernel).toEqual(weights.head.kernel);
    expect(back.head.bias).toEqual(weights.head.bias);
    expect(back.version).toBe(4);

    const seq = Float32Array.from({ length: T * I }, () => 2 * u() - 1);
    const raw = tf.tidy(() => Float32Array.from((model.predict(tf.tensor3d(seq, [1, T, I])) as tf.Tensor).dataSync() as Float32Array));
    const kernel = new JsStepKernel(weights.cell);
    const head = new QuantileHead(weights.head);
    let h = new Float32Array(H);
    let next = new Float32Array(H);
    const ours = new Float32Array(O);
    const theirs = new Float32Array(O);
    for (let t = 0; t < T; t++) {
      kernel.step(seq.subarray(t * I, (t + 1) * I), h, next, 1);
      [h, next] = [next, h];
      head.apply(h, 1, ours);
      toQuantiles(raw.subarray(t * O, (t + 1) * O), 3, 3, head.anchor, theirs, 0);
      for (let o = 0; o < O; o++) expect(Math.abs(ours[o]! - theirs[o]!)).toBeLessThan(1e-5);
    }
    model.dispose();
  });

  it('refuses a model whose input width does not match the layout', () => {
    const model = tf.sequential({
      layers: [tf.layers.gru({ units: H, recurrentActivation: 'sigmoid', returnSequences: true, inputShape: [4, I + 1] }), tf.layers.dense({ units: O })],
    });
    expect(() => weightsFromLayersModel(model, { version: 1, layout, horizon: 3, quantiles: dims.quantiles })).toThrow(/8 inputs per step/);
    model.dispose();
  });

  it('rejects bad dimensions with a fix-it message', () => {
    expect(() => initGruModelWeights({ ...dims, quantiles: [0.5, 0.1] }, 1)).toThrow(/ascending/);
    expect(() => initGruModelWeights({ ...dims, units: 0 }, 1)).toThrow(/units/);
  });
});
