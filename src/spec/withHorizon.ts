import { ConfigError } from '../domain/errors.js';
import type { PipelineSpec } from './pipelineSpec.js';

/**
 * The spec with `model.horizon` set to `horizon` (a command's `--horizon`, checked as the spec's own
 * field is): everything built from it, the trained model included, forecasts that far.
 */
export function withHorizon(spec: PipelineSpec, horizon: number | undefined): PipelineSpec {
  if (horizon === undefined || horizon === spec.model.horizon) return spec;
  if (!Number.isInteger(horizon) || horizon < 1 || horizon > 1000) throw new ConfigError(`--horizon must be a whole number of steps from 1 to 1000, got ${horizon}`);
  return Object.freeze({ ...spec, model: Object.freeze({ ...spec.model, horizon }) });
}
