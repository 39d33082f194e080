import { describe, expect, it } from 'vitest';
import { JS_KERNEL_MAX_LANES, createTrainingModel, trainingKernel } from '../../../src/training/trainingKernel.js';
import { GruTrainingModel } from '../../../src/training/gruTrainingModel.js';
import { JsGruTrainingModel } from '../../../src/training/jsGruTrainingModel.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';

describe('trainingKernel', () => {
  it('trains a GPU job with tf ops, and a CPU job by its lanes per batch', () => {
    expect(trainingKernel('tensorflow-gpu', 1)).toBe('tf');
    for (const cpu of ['tensorflow', 'wasm', 'cpu'] as const) {
      expect(trainingKernel(cpu, 3)).toBe('js');
      expect(trainingKernel(cpu, JS_KERNEL_MAX_LANES)).toBe('js');
      expect(trainingKernel(cpu, JS_KERNEL_MAX_LANES + 1)).toBe('tf');
    }
  });

  it('creates the model of the kernel chosen', () => {
    const w = initGruModelWeights({ layout: featureLayout([], 4), units: 4, horizon: 2, quantiles: [0.1, 0.5, 0.9] }, 1);
    const js = createTrainingModel('js', w);
    const tf = createTrainingModel('tf', w);
    expect(js).toBeInstanceOf(JsGruTrainingModel);
    expect(tf).toBeInstanceOf(GruTrainingModel);
    js.dispose();
    tf.dispose();
  });
});
