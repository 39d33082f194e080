import { ModelRuntime } from '../forecasting/modelRuntime.js';
import type { ModelRuntimeOptions } from '../forecasting/modelRuntime.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import { Retrainer } from './retrainer.js';
import type { RetrainerOptions } from './retrainer.js';

/** A pipeline's model: the runtime that serves and swaps it, and the retrainer that loads, retrains and saves it. */
export interface ModelLifecycle {
  readonly runtime: ModelRuntime;
  readonly retrainer: Retrainer;
}

export type ModelLifecycleOptions = Omit<ModelRuntimeOptions, 'spec'> & Omit<RetrainerOptions, 'spec' | 'servingCopy'>;

/**
 * Builds a pipeline's model lifecycle (what the composition root wires): the runtime and its
 * retrainer, attached. With no options it never retrains and loads nothing: the baseline serves.
 * Closing the runtime closes the retrainer (stopping a running retrain, terminating its worker).
 */
export function createModelLifecycle(spec: PipelineSpec, opts: ModelLifecycleOptions = {}): ModelLifecycle {
  const { stateless, snapshotHistorySteps, historySteps, base, calibrate, initial, logger, registry, ...retrain } = opts;
  const runtime = new ModelRuntime({
    spec,
    ...(stateless !== undefined ? { stateless } : {}),
    ...(snapshotHistorySteps !== undefined ? { snapshotHistorySteps } : {}),
    ...(historySteps !== undefined ? { historySteps } : {}),
    ...(base !== undefined ? { base } : {}),
    ...(calibrate !== undefined ? { calibrate } : {}),
    ...(initial !== undefined ? { initial } : {}),
    ...(logger !== undefined ? { logger } : {}),
    ...(registry !== undefined ? { registry } : {}),
  });
  const retrainer = new Retrainer(runtime, {
    ...retrain,
    spec,
    ...(calibrate !== undefined ? { calibrate } : {}),
    ...(logger !== undefined ? { logger } : {}),
    // The held-out calibration replays a candidate through the serving code itself: a runtime of
    // its own (no retrainer, nothing loaded), as stateless as the one in service.
    servingCopy: (weights) => new ModelRuntime({ spec, initial: weights, ...(stateless === true ? { stateless: true } : {}) }),
  });
  return { runtime, retrainer };
}
