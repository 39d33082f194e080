import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { Forecaster } from './forecaster.js';
import { ModelRuntime } from './modelRuntime.js';
import type { ModelRuntimeOptions } from './modelRuntime.js';

export type { ModelRuntimeOptions, RetrainMode } from './modelRuntime.js';

/**
 * The forecaster that serves a pipeline: a ModelRuntime, which forecasts with the spec's baseline
 * (`model.kind: "baseline"`) until a trained GRU is loaded from `store` or promoted by retraining
 * (`retrain: 'background'` for live `run`, `'blocking'` for deterministic replays and backtests).
 * Without options it never retrains and loads nothing: the baseline serves. Call `close()` when
 * done: it stops a running retrain and terminates the trainer worker.
 */
export function createForecaster(spec: PipelineSpec, opts: Omit<ModelRuntimeOptions, 'spec'> = {}): Forecaster & ModelRuntime {
  return new ModelRuntime({ ...opts, spec });
}
