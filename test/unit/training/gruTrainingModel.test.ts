import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { clippedZ, featureLayout, inputSize, layoutInputSize, writeInput } from '../../../src/forecasting/gru/featureLayout.js';
import { quantileKey } from '../../../src/domain/forecast.js';
import { GruForecaster } from '../../../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { buildDatasets } from '../../../src/training/datasetBuilder.js';
import { GruTrainingModel } from '../../../src/training/gruTrainingModel.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import { windowSteps } from '../../../src/state/seriesWindow.js';
import { trainLoop } from '../../../src/training/trainLoop.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';
import { contractBackends, useBackend } from '../../helpers/computeBackends.js';

const layout = featureLayout(['hourOfDay'], 24);
const I = inputSize(layout.timeFeatures);
const quantiles = [0.1, 0.5, 0.9];
const horizon = 4;
const units = 8;

function history(n: number, missing?: (i: number) => boolean): SeriesHistory {
  const h = new SeriesHistory({ stepMs: HOUR, capacity: 2048 });
  for (const s of seasonalSteps('a', { n, ...(missing ? { missing } : {}) })) h.append(s);
  return h;
}

describe.each(contractBackends())('GruTrainingModel on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('trained weights serve through GruForecaster with the training forward outputs (< 1e-4)', async () => {
    // Five levels, so both sides of the anchor accumulate more than one increment.
    const quantiles = [0.05, 0.1, 0.5, 0.9, 0.95];
    const missing = (i: number): boolean => i % 13 === 5;
    const hist = history(300, missing);
    const w = hist.windowOf('a')!;
    const init = initGruModelWeights({ layout, units, horizon, quantiles }, 42);
    const { train, validation } = buildDatasets([w], { layout, horizon, context: 24, laneSteps: 96 });
    const out = await trainLoop(train, validation, init, { epochs: 2, seed: 1, patience: 5 });
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    const trained = out.weights;
    // Training really moved the weights.
    expect(trained.head.bias).not.toEqual(init.head.bias);

    const steps = windowSteps(w);
    const x = new Float32Array(steps.length * I);
    steps.forEach((s, i) => writeInput(s, layout, x, i * I));
    const model = new GruTrainingModel(trained);
    const { quantiles: qTrain } = model.predict(x, new Float32Array(units), 1, steps.length);
    model.dispose();
    for (const kernel of ['js', 'tf'] as const) {
      const f = new GruForecaster({ name: 't', stepMs: HOUR, horizon, quantiles, weights: trained, kernel });
      let maxDiff = 0;
      steps.forEach((s, t) => {
        const [fc] = f.step([s]);
        fc!.forecast.forEach((hf, k) => {
          quantiles.forEach((lvl, j) => {
            const served = (hf.q[quantileKey(lvl)]! - s.scale.mean) / s.scale.std;
            maxDiff = Math.max(maxDiff, Math.abs(served - qTrain[(t * horizon + k) * quantiles.length + j]!));
          });
        });
      });
      f.dispose();
      expect(maxDiff).toBeLessThan(1e-4);
    }
  });

  it('with a first-difference input (diff layout), serving steps equal the training forward on the dataset inputs (< 1e-4)', () => {
    const dl = featureLayout(['hourOfDay'], 24, undefined, undefined, true);
    const DI = layoutInputSize(dl);
    expect(DI).toBe(I + 1);
    const hist = history(200, (i) => i % 17 === 3);
    const w = hist.windowOf('a')!;
    const weights = initGruModelWeights({ layout: dl, units, horizon, quantiles }, 7);
    const steps = windowSteps(w);
    // The dataset builder writes each step with the previous step's z, as serving does.
    const { train } = buildDatasets([w], { layout: dl, horizon, context: 200, laneSteps: 200, valFraction: 0 });
    const x = train.x.subarray(0, steps.length * DI);
    const manual = new Float32Array(steps.length * DI);
    steps.forEach((st, i) => writeInput(st, dl, manual, i * DI, i > 0 ? clippedZ(steps[i - 1]!.z, dl) : Number.NaN));
    expect(Array.from(x)).toEqual(Array.from(manual));
    expect(x.some((v, k) => k % DI === 3 && v !== 0)).toBe(true);
    const model = new GruTrainingModel(weights);
    const { quantiles: qTrain } = model.predict(x, new Float32Array(units), 1, steps.length);
    model.dispose();
    const f = new GruForecaster({ name: 't', stepMs: HOUR, horizon, quantiles, weights, kernel: 'js' });
    let maxDiff = 0;
    steps.forEach((st, t) => {
      const [fc] = f.step([st]);
      fc!.forecast.forEach((hf, k) => {
        quantiles.forEach((lvl, j) => {
          const served = (hf.q[quantileKey(lvl)]! - st.scale.mean) / st.scale.std;
          maxDiff = Math.max(maxDiff, Math.abs(served - qTrain[(t * horizon + k) * quantiles.length + j]!));
        });
      });
    });
    expect(maxDiff).toBeLessThan(1e-4);
    // The previous input travels with the snapshot: a restored copy goes on exactly as the original.
    const snap = f.snapshot('a')!;
    const g = new GruForecaster({ name: 't', stepMs: HOUR, horizon, quantiles, weights, kernel: 'js' });
    g.restore('a', snap);
    const next = { ...steps.at(-1)!, ts: steps.at(-1)!.ts + HOUR, z: steps.at(-1)!.z + 0.5, reset: false };
    expect(g.step([next])[0]!.forecast).toEqual(f.step([next])[0]!.forecast);
    f.dispose();
    g.dispose();
  });

  it('carries state across chunks: two chunks with the carried state equal one long chunk', () => {
    const w = history(64).windowOf('a')!;
    const steps = windowSteps(w);
    const x = new Float32Array(64 * I);
    steps.forEach((s, i) => writeInput(s, layout, x, i * I));
    const model = new GruTrainingModel(initGruModelWeights({ layout, units, horizon, quantiles }, 3));
    const whole = model.predict(x, new Float32Array(units), 1, 64);
    const first = model.predict(x.subarray(0, 32 * I), new Float32Array(units), 1, 32);
    const second = model.predict(x.subarray(32 * I), first.hT, 1, 32);
    const stitched = [...first.quantiles, ...second.quantiles];
    let maxDiff = 0;
    stitched.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - whole.quantiles[i]!))));
    expect(maxDiff).toBeLessThan(1e-5);
    // A zero state at the second chunk (no carry) would differ.
    const cold = model.predict(x.subarray(32 * I), new Float32Array(units), 1, 32);
    expect(Math.abs(cold.quantiles[0]! - second.quantiles[0]!)).toBeGreaterThan(1e-4);
    // Quantiles never cross.
    for (let i = 0; i < whole.quantiles.length; i += 3) {
      expect(whole.quantiles[i]!).toBeLessThanOrEqual(whole.quantiles[i + 1]!);
      expect(whole.quantiles[i + 1]!).toBeLessThanOrEqual(whole.quantiles[i + 2]!);
    }
    model.dispose();
  });

  it('leaks no tensors across train and eval chunks', () => {
    const model = new GruTrainingModel(initGruModelWeights({ layout, units, horizon, quantiles }, 3));
    const x = new Float32Array(2 * 16 * I).fill(0.5);
    const y = new Float32Array(2 * 16 * horizon).fill(1);
    const wt = new Float32Array(2 * 16 * horizon).fill(1);
    let h: Float32Array = new Float32Array(2 * units);
    h = model.trainChunk(x, h, y, wt, 2, 16).hT; // optimizer slots are created on the first step
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      h = model.trainChunk(x, h, y, wt, 2, 16).hT;
      model.evalChunk(x, h, y, wt, 2, 16);
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('is deterministic for a seed', async () => {
    const w = history(200).windowOf('a')!;
    const run = async () => {
      const { train, validation } = buildDatasets([w], { layout, horizon, context: 24, laneSteps: 48 });
      const out = await trainLoop(train, validation, initGruModelWeights({ layout, units, horizon, quantiles }, 5), { epochs: 1, seed: 9, batchLanes: 2 });
      return out.status === 'done' ? out.weights.cell.kernel : undefined;
    };
    expect(await run()).toEqual(await run());
  });
});
