import type { BackendCandidate } from '../forecasting/gru/backend.js';
import { GruTrainingModel } from './gruTrainingModel.js';
import { JsGruTrainingModel } from './jsGruTrainingModel.js';
import type { TrainingModel, TrainingModelOptions } from './trainingModel.js';

/** `tf`: tf ops on the thread's tfjs backend (GruTrainingModel); `js`: the hand-written pass (JsGruTrainingModel). */
export type TrainingKernel = 'js' | 'tf';

/**
 * Lanes per batch up to which the hand-written kernel beats tf ops on a CPU
 * (`npm run bench -- train-kernel`, a training step at 3 / 12 / 32 lanes: 3.8× / 1.5× / 0.89× wasm's
 * speed, 6.2× / 1.6× / 0.83× tfjs-node's): beyond a few dozen lanes the tf kernels' per-op cost is
 * spread over enough arithmetic to win.
 */
export const JS_KERNEL_MAX_LANES = 16;

/**
 * Which kernel trains a job: tf ops on a GPU (that is what it is for); on a CPU backend the
 * hand-written pass up to JS_KERNEL_MAX_LANES lanes per batch, tf ops beyond. `lanes` =
 * min(batchLanes, the dataset's lanes): one series trains on a few lanes, many series on full batches.
 */
export function trainingKernel(backend: BackendCandidate, lanes: number): TrainingKernel {
  if (backend === 'tensorflow-gpu') return 'tf';
  return lanes <= JS_KERNEL_MAX_LANES ? 'js' : 'tf';
}

export function createTrainingModel(kernel: TrainingKernel, init: ConstructorParameters<typeof JsGruTrainingModel>[0], opts: TrainingModelOptions = {}): TrainingModel {
  return kernel === 'js' ? new JsGruTrainingModel(init, opts) : new GruTrainingModel(init, opts);
}
