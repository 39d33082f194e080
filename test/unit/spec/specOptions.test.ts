import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import { baselineOptions, forecasterOptions, imputerOptions, microBatchOptions, normalizerOptions, resamplerOptions } from '../../../src/spec/specOptions.js';

// Every field a different value, so that a field mapped from the wrong place shows.
const spec = parseSpec({
  name: 'opts',
  input: { topic: 'in' },
  output: { topic: 'out' },
  window: { step: '1m', aggregate: 'max', align: 'centre', lateness: '2m', idleClose: '7m', maxJump: '3h', jumpConfirm: 4 },
  impute: { strategy: 'seasonal', maxGap: '30m', season: '2h' },
  normalize: { halfLife: '5h' },
  model: { horizon: 6, quantiles: [0.05, 0.5, 0.95] },
  baseline: { type: 'last-value', season: '1d' },
  batch: { maxSize: 17, maxWait: '25ms' },
});
const MIN = 60_000;

describe('specOptions: one mapping per component', () => {
  it('resampler', () => {
    expect(resamplerOptions(spec)).toEqual({ stepMs: MIN, aggregate: 'max', align: 'centre', latenessMs: 2 * MIN, idleCloseMs: 7 * MIN, maxJumpMs: 180 * MIN, jumpConfirm: 4 });
  });

  it('imputer', () => {
    expect(imputerOptions(spec)).toEqual({ stepMs: MIN, strategy: 'seasonal', maxGapMs: 30 * MIN, seasonMs: 120 * MIN });
  });

  it('normalizer and micro-batcher', () => {
    expect(normalizerOptions(spec)).toEqual({ stepMs: MIN, halfLifeMs: 300 * MIN });
    expect(microBatchOptions(spec)).toEqual({ maxSize: 17, maxWaitMs: 25 });
  });

  it('forecaster and baseline', () => {
    expect(forecasterOptions(spec)).toEqual({ name: 'opts', stepMs: MIN, horizon: 6, quantiles: [0.05, 0.5, 0.95] });
    expect(baselineOptions(spec)).toEqual({ type: 'last-value', seasonMs: 1440 * MIN });
  });

  it('defaults that depend on other fields come through resolved', () => {
    const plain = parseSpec({ name: 'plain', input: { topic: 'in' }, output: { topic: 'out' }, window: { step: '1m' }, model: {}, baseline: { season: '1h' } });
    expect(resamplerOptions(plain)).toMatchObject({ latenessMs: 0, idleCloseMs: 5 * MIN });
    expect(imputerOptions(plain)).toMatchObject({ strategy: 'ffill', seasonMs: 60 * MIN });
  });
});
