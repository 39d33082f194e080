import type { PipelineSpec } from './pipelineSpec.js';

// What each component takes from a pipeline spec, written once: the operator chain, the state
// store's cores, the forecasters and the commands all build their options here, so a spec field
// reaches every copy of a component the same way. The return types are structural: the
// components' own option types live in layers above the spec and are checked where these are
// passed to them.

/** The event-time resampler (pipeline/core/resampler.ts). */
export function resamplerOptions(spec: PipelineSpec) {
  return {
    stepMs: spec.window.step,
    aggregate: spec.window.aggregate,
    align: spec.window.align,
    latenessMs: spec.window.lateness,
    idleCloseMs: spec.window.idleClose,
    maxJumpMs: spec.window.maxJump,
    jumpConfirm: spec.window.jumpConfirm,
  };
}

/** The gap imputer (pipeline/core/imputer.ts). */
export function imputerOptions(spec: PipelineSpec) {
  return {
    stepMs: spec.window.step,
    strategy: spec.impute.strategy,
    maxGapMs: spec.impute.maxGap,
    seasonMs: spec.impute.season,
  };
}

/** The online normalizer (pipeline/core/normalizer.ts). */
export function normalizerOptions(spec: PipelineSpec) {
  return { stepMs: spec.window.step, halfLifeMs: spec.normalize.halfLife };
}

/** The micro-batcher in front of the model (pipeline/operators/microBatch.ts). */
export function microBatchOptions(spec: PipelineSpec) {
  return { maxSize: spec.batch.maxSize, maxWaitMs: spec.batch.maxWait };
}

/** What every forecaster of the pipeline shares (forecasting/forecaster.ts ForecasterOptions). */
export function forecasterOptions(spec: PipelineSpec) {
  return { name: spec.name, stepMs: spec.window.step, horizon: spec.model.horizon, quantiles: spec.model.quantiles };
}

/** The baseline forecaster (forecasting/baseline/createBaseline.ts). */
export function baselineOptions(spec: PipelineSpec) {
  return { type: spec.baseline.type, seasonMs: spec.baseline.season };
}
