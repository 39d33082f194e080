import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { Forecaster } from './forecaster.js';
import { ModelRuntime } from './modelRuntime.js';
import type { ModelRuntimeOptions } from './modelRuntime.js';

export type { ModelRuntimeOptions } from './modelRuntime.js';

/**
 * The forecaster that serves a pipeline without retraining: a ModelRuntime, which forecasts with
 * the spec's baseline (`model.kind: "baseline"`) until weights are installed (`initial`, `adopt`).
 * A pipeline that loads, retrains or saves models gets its runtime from createModelLifecycle
 * (training/modelLifecycle.ts) instead, with a Retrainer attached.
 */
export function createForecaster(spec: PipelineSpec, opts: Omit<ModelRuntimeOptions, 'spec'> = {}): Forecaster & ModelRuntime {
  return new ModelRuntime({ ...opts, spec });
}
