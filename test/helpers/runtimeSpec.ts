import { parseSpec } from '../../src/spec/loadSpec.js';
import type { PipelineSpec } from '../../src/spec/pipelineSpec.js';

/** The small hourly GRU pipeline the model-runtime tests share (H = 8, context 24, horizon 4); `retrain` overrides. */
export function runtimeSpec(retrain: Record<string, unknown> = {}): PipelineSpec {
  return parseSpec({
    name: 'rt',
    input: { topic: 'in.rt' },
    output: { topic: 'out.rt' },
    window: { step: '1h' },
    impute: { strategy: 'ffill', maxGap: '6h' },
    model: { type: 'gru', hidden: 8, context: 24, horizon: 4, quantiles: [0.1, 0.5, 0.9], timeFeatures: ['hourOfDay'] },
    baseline: { type: 'seasonal-naive', season: '1d' },
    retrain: { every: '2d', minHistory: 200, epochs: 1, promote: { mustBeat: 'both' }, ...retrain },
  });
}
