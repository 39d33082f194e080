/**
 * The synthetic serving load of the runtime benches (combinerStep.ts, membersServing.ts): a
 * 5-minute pipeline with a GRU of 64 units, and `series` series stepping a noisy daily sine
 * together, in batches of `perBatch` series (default all of one step).
 */
import type { NormalizedStep } from '../src/domain/step.js';
import type { PipelineSpec } from '../src/spec/pipelineSpec.js';
import { parseSpec } from '../src/spec/loadSpec.js';

const STEP = 300_000;

export function servingSpec(model: Record<string, unknown> = {}): PipelineSpec {
  return parseSpec({
    name: 'bench',
    input: { topic: 'in.bench' },
    output: { topic: 'out.bench' },
    window: { step: '5m' },
    impute: { strategy: 'ffill', maxGap: '6h' },
    model: { type: 'gru', hidden: 64, context: 96, horizon: 12, quantiles: [0.1, 0.5, 0.9], timeFeatures: ['hourOfDay', 'dayOfWeek'], ...model },
    baseline: { type: 'seasonal-naive', season: '1d' },
  });
}

export function servingBatches(series: number, steps: number, perBatch = series): NormalizedStep[][] {
  const out: NormalizedStep[][] = [];
  let seed = 7;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let t = 0; t < steps; t++) {
    let batch: NormalizedStep[] = [];
    for (let s = 0; s < series; s++) {
      const value = 100 + 10 * Math.sin((2 * Math.PI * t) / 288) + rand();
      batch.push({ series: `s${s}`, ts: (t + 1) * STEP, value, observed: true, imputed: false, sinceObserved: 0, reset: t === 0, z: (value - 100) / 10, scale: { mean: 100, std: 10 } });
      if (batch.length === perBatch) {
        out.push(batch);
        batch = [];
      }
    }
    if (batch.length > 0) out.push(batch);
  }
  return out;
}
