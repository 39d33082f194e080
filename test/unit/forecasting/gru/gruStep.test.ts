import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseKernel, JS_KERNEL_MAX_BATCH } from '../../../../src/forecasting/gru/gruStep.js';
import type { StepKernel } from '../../../../src/forecasting/gru/gruStep.js';
import { cellWeightsFromLayer } from '../../../../src/forecasting/gru/gruWeights.js';
import type { GruCellWeights } from '../../../../src/forecasting/gru/gruWeights.js';
import { JsStepKernel } from '../../../../src/forecasting/gru/jsStepKernel.js';
import { mulberry32 } from '../../../../src/domain/random.js';
import { TfStepKernel } from '../../../../src/forecasting/gru/tfStepKernel.js';
import { contractBackends, useBackend } from '../../../helpers/computeBackends.js';

const B = 3;
const T = 20;
const I = 8;
const H = 16;

/** Runs `kernel` over the [B, T, I] sequence from h₀ = 0; returns the [B, T, H] hidden states. */
function iterate(kernel: StepKernel, seq: Float32Array): Float32Array {
  const out = new Float32Array(B * T * H);
  const x = new Float32Array(B * I);
  let h = new Float32Array(B * H);
  let next = new Float32Array(B * H);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) x.set(seq.subarray((b * T + t) * I, (b * T + t + 1) * I), b * I);
    kernel.step(x, h, next, B);
    for (let b = 0; b < B; b++) out.set(next.subarray(b * H, (b + 1) * H), (b * T + t) * H);
    [h, next] = [next, h];
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A tf.layers GRU with random, non-zero bias (zeros would hide a misplaced bias). */
function referenceLayer(recurrentActivation: 'sigmoid' | 'hardSigmoid', seed: number): { model: tf.Sequential; cell: GruCellWeights } {
  const model = tf.sequential({
    layers: [
      tf.layers.gru({
        units: H,
        recurrentActivation,
        returnSequences: true,
        inputShape: [T, I],
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
        recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 1 }),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: seed + 2 }),
      }),
    ],
  });
  // cellWeightsFromLayer refuses hardSigmoid, so the negative control reads the tensors raw.
  const layer = model.layers[0]!;
  if (recurrentActivation === 'sigmoid') return { model, cell: cellWeightsFromLayer(layer) };
  const [k, rk, b] = layer.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array)) as [Float32Array, Float32Array, Float32Array];
  return { model, cell: { inputSize: I, units: H, kernel: k, recurrentKernel: rk, bias: b } };
}

function randomSequence(seed: number): Float32Array {
  const u = mulberry32(seed);
  return Float32Array.from({ length: B * T * I }, () => 4 * u() - 2);
}

function layerOutput(model: tf.Sequential, seq: Float32Array): Float32Array {
  return tf.tidy(() => Float32Array.from((model.predict(tf.tensor3d(seq, [B, T, I])) as tf.Tensor).dataSync() as Float32Array));
}

describe.each(contractBackends())('GRU step kernels vs tf.layers.gru on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  const kernels: Array<[string, (w: GruCellWeights) => StepKernel]> = [
    ['js', (w) => new JsStepKernel(w)],
    ['tf', (w) => new TfStepKernel(w)],
  ];

  for (const [name, make] of kernels) {
    it(`${name} kernel equals the layer over T=${T} steps (max abs diff < 1e-5)`, () => {
      const { model, cell } = referenceLayer('sigmoid', 7);
      const seq = randomSequence(11);
      const expected = layerOutput(model, seq);
      const kernel = make(cell);
      const got = iterate(kernel, seq);
      kernel.dispose();
      model.dispose();
      const diff = maxAbsDiff(got, expected);
      expect(diff).toBeLessThan(1e-5);
      // The states must actually move, or the comparison would be vacuous.
      expect(Math.max(...Array.from(expected, Math.abs))).toBeGreaterThan(0.1);
    });
  }

  it('is sensitive: against the default hardSigmoid layer the same kernels differ', () => {
    const { model, cell } = referenceLayer('hardSigmoid', 7);
    const seq = randomSequence(11);
    const expected = layerOutput(model, seq);
    const kernel = new JsStepKernel(cell);
    const diff = maxAbsDiff(iterate(kernel, seq), expected);
    model.dispose();
    expect(diff).toBeGreaterThan(1e-3);
  });

  it('refuses a layer with the default hardSigmoid recurrent activation', () => {
    const model = tf.sequential({ layers: [tf.layers.gru({ units: 4, inputShape: [2, 3] })] });
    expect(() => cellWeightsFromLayer(model.layers[0]!)).toThrow(/recurrentActivation/);
    model.dispose();
  });

  // Native ops cost ~20× a wasm op each; 1k steps find a per-step leak as surely.
  const leakSteps = backend === 'tensorflow' ? 1_000 : 10_000;
  it(`leaks no tensors over ${leakSteps} tf-kernel steps`, () => {
    const { model, cell } = referenceLayer('sigmoid', 3);
    const kernel = new TfStepKernel(cell);
    const x = new Float32Array(B * I).fill(0.3);
    const h = new Float32Array(B * H);
    const out = new Float32Array(B * H);
    kernel.step(x, h, out, B); // warm-up: first-call allocations are not growth
    const before = tf.memory().numTensors;
    for (let i = 0; i < leakSteps / 2; i++) {
      kernel.step(x, out, h, B);
      kernel.step(x, h, out, B);
    }
    expect(tf.memory().numTensors).toBe(before);
    kernel.dispose();
    expect(tf.memory().numTensors).toBe(before - 4);
    model.dispose();
  });

  it('chooseKernel uses the loop for small batches and tf ops for large ones, never tf when absent', () => {
    const js = { name: 'js' } as StepKernel;
    const tfk = { name: 'tf' } as StepKernel;
    expect(chooseKernel(1, { js, tf: tfk })).toBe(js);
    expect(chooseKernel(JS_KERNEL_MAX_BATCH, { js, tf: tfk })).toBe(js);
    expect(chooseKernel(JS_KERNEL_MAX_BATCH + 1, { js, tf: tfk })).toBe(tfk);
    expect(chooseKernel(10_000, { js })).toBe(js);
  });
});

afterAll(() => {
  tf.disposeVariables();
});
