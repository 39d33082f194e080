import type { BackendCandidate } from '../forecasting/gru/backend.js';
import { GruTrainingModel } from './gruTrainingModel.js';
import { JsGruTrainingModel } from './jsGruTrainingModel.js';
import type { TrainingModel, TrainingModelOptions } from './trainingModel.js';

/** `tf`: tf ops on the thread's tfjs backend (GruTrainingModel); `js`: the hand-written pass (JsGruTrainingModel). */
export type TrainingKernel = 'js' | 'tf';

/**
 * Lanes per batch up to which the hand-written kernel beats tf ops on tfjs-node's CPU kernels
 * (`npm run bench -- train-kernel`: ~5× faster at 3 lanes, even at 12, about half as fast at 32,
 * where libtensorflow's threaded matMuls start to pay for their dispatch).
 */
export const JS_KERNEL_MAX_LANES_ON_NATIVE = 12;

/**
 * Which kernel trains a job: tf ops on a GPU (that is what it is for); on a CPU the hand-written
 * pass, which is faster than wasm's tf ops at every batch measured and than tfjs-node's up to
 * JS_KERNEL_MAX_LANES_ON_NATIVE lanes per batch. `lanes` = min(batchLanes, the dataset's lanes):
 * one series trains on a few lanes, many series on full batches.
 */
export function trainingKernel(backend: BackendCandidate, lanes: number): TrainingKernel {
  if (backend === 'tensorflow-gpu') return 'tf';
  if (backend === 'tensorflow') return lanes <= JS_KERNEL_MAX_LANES_ON_NATIVE ? 'js' : 'tf';
  return 'js';
}

export function createTrainingModel(kernel: TrainingKernel, init: ConstructorParameters<typeof JsGruTrainingModel>[0], opts: TrainingModelOptions = {}): TrainingModel {
  return kernel === 'js' ? new JsGruTrainingModel(init, opts) : new GruTrainingModel(init, opts);
}
