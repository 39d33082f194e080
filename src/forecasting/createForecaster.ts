import type { PipelineSpec } from '../pipeline/spec/pipelineSpec.js';
import { createBaseline } from './baseline/createBaseline.js';
import type { Forecaster } from './forecaster.js';

/**
 * The forecaster that serves a pipeline. Until a trained model has been promoted, the spec's
 * baseline forecasts (`model.kind: "baseline"`), as DESIGN.md requires.
 */
export function createForecaster(spec: PipelineSpec): Forecaster {
  return createBaseline(
    { type: spec.baseline.type, seasonMs: spec.baseline.season },
    { name: spec.name, stepMs: spec.window.step, horizon: spec.model.horizon, quantiles: spec.model.quantiles },
  );
}
