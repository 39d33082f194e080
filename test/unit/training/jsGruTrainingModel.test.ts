import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { featureLayout, inputSize } from '../../../src/forecasting/gru/featureLayout.js';
import type { GruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { mulberry32 } from '../../../src/domain/random.js';
import { GruTrainingModel } from '../../../src/training/gruTrainingModel.js';
import { JsGruTrainingModel } from '../../../src/training/jsGruTrainingModel.js';
import type { TrainingModel } from '../../../src/training/trainingModel.js';

const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 24);
const I = inputSize(layout.timeFeatures);

/** Initial weights with a head spread out, so both softplus sides and every gate are exercised. */
function weightsFor(quantiles: number[], horizon: number, units: number, seed: number): GruModelWeights {
  const w = initGruModelWeights({ layout, units, horizon, quantiles }, seed);
  const u = mulberry32(seed + 1);
  const jitter = (a: Float32Array, s: number): Float32Array => a.map((v) => v + s * (u() - 0.5));
  return { ...w, cell: { ...w.cell, bias: jitter(w.cell.bias, 0.5) }, head: { ...w.head, bias: jitter(w.head.bias, 2), kernel: jitter(w.head.kernel, 0.3) } };
}

function chunk(B: number, T: number, horizon: number, seed: number) {
  const u = mulberry32(seed);
  const x = new Float32Array(B * T * I).map(() => (u() < 0.1 ? 0 : 2 * u() - 1));
  const target = new Float32Array(B * T * horizon).map(() => 3 * (u() - 0.5));
  // Some cells not counted (a series' tail, a gap), as datasetBuilder writes them.
  const weight = new Float32Array(B * T * horizon).map(() => (u() < 0.2 ? 0 : 1));
  const h0 = new Float32Array(B * 16).map(() => u() - 0.5);
  return { x, target, weight, h0 };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('JsGruTrainingModel (the hand-written kernel) against GruTrainingModel (tf ops)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const quantiles of [[0.1, 0.5, 0.9], [0.05, 0.25, 0.5, 0.75, 0.95], [0.5]]) {
    it(`forecasts, scores and trains alike with levels ${quantiles.join(', ')}`, () => {
      const horizon = 5;
      const units = 16;
      const init = weightsFor(quantiles, horizon, units, 7);
      const tfm: TrainingModel = new GruTrainingModel(init);
      const js: TrainingModel = new JsGruTrainingModel(init);
      try {
      const B = 3;
      const T = 20;
      const c = chunk(B, T, horizon, 11);
      const a = tfm.predict(c.x, c.h0, B, T);
      const b = js.predict(c.x, c.h0, B, T);
      expect(maxAbsDiff(a.quantiles, b.quantiles)).toBeLessThan(1e-5);
      expect(maxAbsDiff(a.hT, b.hT)).toBeLessThan(1e-6);
      const ea = tfm.evalChunk(c.x, c.h0, c.target, c.weight, B, T);
      const eb = js.evalChunk(c.x, c.h0, c.target, c.weight, B, T);
      expect(eb.cells).toBe(ea.cells);
      expect(Math.abs(eb.lossSum - ea.lossSum) / ea.lossSum).toBeLessThan(1e-5);
      // Three Adam steps on different chunks, state carried: the weights move the same way.
      let ha: Float32Array = c.h0;
      let hb: Float32Array = c.h0;
      for (let s = 0; s < 3; s++) {
        const d = chunk(B, T, horizon, 100 + s);
        const ra = tfm.trainChunk(d.x, ha, d.target, d.weight, B, T);
        const rb = js.trainChunk(d.x, hb, d.target, d.weight, B, T);
        expect(Math.abs(rb.lossSum - ra.lossSum) / ra.lossSum).toBeLessThan(1e-4);
        ha = ra.hT;
        hb = rb.hT;
      }
      const wa = tfm.weights();
      const wb = js.weights();
      const moved = maxAbsDiff(init.cell.recurrentKernel, wb.cell.recurrentKernel);
      expect(moved).toBeGreaterThan(1e-3);
      for (const [p, q] of [
        [wa.cell.kernel, wb.cell.kernel],
        [wa.cell.recurrentKernel, wb.cell.recurrentKernel],
        [wa.cell.bias, wb.cell.bias],
        [wa.head.kernel, wb.head.kernel],
        [wa.head.bias, wb.head.bias],
      ] as const) {
        expect(maxAbsDiff(p, q)).toBeLessThan(moved / 100);
      }
      } finally {
        // tf variables are named: one left registered would fail the next model's constructor.
        tfm.dispose();
        js.dispose();
      }
    });
  }

  it('restores weights with setWeights and is deterministic', () => {
    const init = weightsFor([0.1, 0.5, 0.9], 4, 16, 3);
    const run = (): Float32Array => {
      const m = new JsGruTrainingModel(init);
      const c = chunk(2, 12, 4, 5);
      m.trainChunk(c.x, c.h0, c.target, c.weight, 2, 12);
      m.trainChunk(c.x, c.h0, c.target, c.weight, 2, 12);
      return m.weights().cell.recurrentKernel;
    };
    expect(run()).toEqual(run());
    const m = new JsGruTrainingModel(init);
    const c = chunk(2, 12, 4, 5);
    m.trainChunk(c.x, c.h0, c.target, c.weight, 2, 12);
    expect(m.weights().head.bias).not.toEqual(init.head.bias);
    m.setWeights(init);
    expect(m.weights().head.bias).toEqual(init.head.bias);
    m.dispose();
    expect(() => m.weights()).toThrow(/after dispose/);
  });

  it('counts no cells and takes no step on a chunk without counted cells', () => {
    const init = weightsFor([0.1, 0.5, 0.9], 4, 16, 3);
    const m = new JsGruTrainingModel(init);
    const c = chunk(2, 12, 4, 5);
    const r = m.trainChunk(c.x, c.h0, c.target, new Float32Array(c.weight.length), 2, 12);
    expect(r.cells).toBe(0);
    expect(r.lossSum).toBe(0);
    expect(m.weights().cell.kernel).toEqual(init.cell.kernel);
  });
});
