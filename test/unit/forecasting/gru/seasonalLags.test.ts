import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/domain/errors.js';
import type { NormalizedStep } from '../../../../src/domain/step.js';
import { featureLayout, inputNames, lagsFromNames, lagSpan, layoutInputSize, sameLayout, writeInput, writeLagInputs } from '../../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../../src/forecasting/gru/gruWeights.js';
import { lagOffsets, MAX_LAG_OFFSETS, seasonalLags } from '../../../../src/forecasting/gru/seasonalLags.js';
import { parseSpec } from '../../../../src/spec/loadSpec.js';

const lags = [
  { steps: 24, offsets: [1, 2, 3] },
  { steps: 168, offsets: [1, 4] },
];
const layout = featureLayout(['hourOfDay'], 6, 10, undefined, false, lags);

function spec(model: Record<string, unknown>, step = '1h', baseline: Record<string, unknown> = { type: 'seasonal-naive', season: '1d' }) {
  return parseSpec({ name: 'l', input: { topic: 'in' }, output: { topic: 'out' }, window: { step }, model: { type: 'gru', horizon: 48, ...model }, baseline });
}

describe('seasonal-lag inputs: layout', () => {
  it('sizes and names a flag and one column per offset after the time features', () => {
    expect(layoutInputSize(layout)).toBe(5 + 4 + 3);
    expect(inputNames(layout).slice(5)).toEqual(['lag24.known', 'lag24+1', 'lag24+2', 'lag24+3', 'lag168.known', 'lag168+1', 'lag168+4']);
    expect(lagSpan(layout)).toBe(167);
    expect(lagSpan(featureLayout(['hourOfDay'], 6))).toBe(0);
  });

  it('round-trips through the input names an artifact stores; an artifact from before lags reads as none', () => {
    const back = featureLayout(['hourOfDay'], 6, 10, undefined, false, lagsFromNames(inputNames(layout)));
    expect(back.lags).toEqual(layout.lags);
    expect(sameLayout(back, layout)).toBe(true);
    const old = featureLayout(['hourOfDay'], 6);
    expect(lagsFromNames(inputNames(old))).toEqual([]);
    expect(sameLayout(old, layout)).toBe(false);
    expect(sameLayout(featureLayout(['hourOfDay'], 6, 10, undefined, false, [{ steps: 24, offsets: [1, 2, 3] }, { steps: 168, offsets: [1, 5] }]), layout)).toBe(false);
    expect(() => lagsFromNames(['z', 'lag24+1'])).toThrow(ConfigError);
  });

  it('rejects a lag of under 2 steps, a repeated lag and offsets outside 1 … m − 1', () => {
    expect(() => featureLayout([], 6, 10, undefined, false, [{ steps: 1, offsets: [1] }])).toThrow(ConfigError);
    expect(() => featureLayout([], 6, 10, undefined, false, [{ steps: 24, offsets: [1] }, { steps: 24, offsets: [2] }])).toThrow(ConfigError);
    expect(() => featureLayout([], 6, 10, undefined, false, [{ steps: 24, offsets: [24] }])).toThrow(/offsets/);
    expect(() => featureLayout([], 6, 10, undefined, false, [{ steps: 24, offsets: [3, 2] }])).toThrow(/increasing/);
  });
});

describe('seasonal-lag inputs: initial weights', () => {
  it('start the lag rows of the input kernel at zero and draw the others as without lags', () => {
    const dims = { units: 4, horizon: 2, quantiles: [0.1, 0.5, 0.9] };
    const plain = initGruModelWeights({ ...dims, layout: featureLayout(['hourOfDay'], 6) }, 5);
    const withLags = initGruModelWeights({ ...dims, layout }, 5);
    const own = 5 * 12;
    expect(withLags.cell.kernel.length).toBe(12 * 12);
    expect(withLags.cell.kernel.subarray(0, own)).toEqual(plain.cell.kernel);
    expect(withLags.cell.kernel.subarray(own).every((v) => v === 0)).toBe(true);
    expect(withLags.cell.recurrentKernel).toEqual(plain.cell.recurrentKernel);
  });
});

describe('seasonal-lag inputs: values', () => {
  // y[t − back] = 100 + back, so column k of lag m is (100 + m − k − y) / unit.
  const ago = (back: number): number => 100 + back;

  it('writes each column as (y[t+k−m] − y[t]) / unit, clipped like z, with the known flag', () => {
    const out = new Float32Array(7).fill(99);
    expect(writeLagInputs(layout, 110, 2, 500, ago, out, 0)).toBe(7);
    expect([...out]).toEqual([1, (123 - 110) / 2, (122 - 110) / 2, (121 - 110) / 2, 1, 10, 10]);
  });

  it('is unknown (flag 0, columns 0) until the m − 1 steps before t are held, lag by lag', () => {
    const out = new Float32Array(7).fill(99);
    writeLagInputs(layout, 110, 2, 22, ago, out, 0);
    expect([...out]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    writeLagInputs(layout, 110, 2, 23, ago, out, 0);
    expect(out[0]).toBe(1);
    expect(out.slice(4)).toEqual(new Float32Array([0, 0, 0]));
    // A non-finite past value or unit never reaches the model.
    writeLagInputs(layout, 110, 0, 500, ago, out, 0);
    expect([...out]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    writeLagInputs(layout, 110, 2, 500, () => Number.NaN, out, 0);
    expect([...out]).toEqual([1, 0, 0, 0, 1, 0, 0]);
  });

  it('writeInput copies a step\'s lag columns after the time features, zeros when the step has none', () => {
    const s: NormalizedStep = { series: 's', ts: 0, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: false, z: 0.5, scale: { mean: 0, std: 1 } };
    const out = new Float32Array(12).fill(99);
    expect(writeInput({ ...s, lagInputs: [1, 2, 3, 4, 5, 6, 7] }, layout, out, 0)).toBe(12);
    expect([...out.slice(5)]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    writeInput(s, layout, out, 0);
    expect([...out.slice(5)]).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('seasonal-lag inputs: from the spec', () => {
  it('offsets: every step up to min(horizon, m − 1) when few, else MAX_LAG_OFFSETS spread from 1 to the last', () => {
    expect(lagOffsets(48, 12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(lagOffsets(5, 12)).toEqual([1, 2, 3, 4]);
    const o = lagOffsets(24, 48);
    expect(o).toHaveLength(MAX_LAG_OFFSETS);
    expect(o[0]).toBe(1);
    expect(o.at(-1)).toBe(23);
    expect(o.every((k, i) => i === 0 || k > o[i - 1]!)).toBe(true);
  });

  it('auto: one day and one week where the step divides them, and the baseline season; without the season of a seasonal base', () => {
    expect(seasonalLags(spec({ lags: 'auto' })).map((l) => l.steps)).toEqual([24, 168]);
    expect(seasonalLags(spec({ lags: 'auto' }, '5m')).map((l) => l.steps)).toEqual([288, 2016]);
    expect(seasonalLags(spec({ lags: 'auto' }, '11m', { type: 'seasonal-naive', season: '110m' })).map((l) => l.steps)).toEqual([10]);
    expect(seasonalLags(spec({ lags: 'auto' }), { kind: 'seasonal', steps: 24 }).map((l) => l.steps)).toEqual([168]);
    expect(seasonalLags(spec({ lags: ['1w', '12h'] })).map((l) => l.steps)).toEqual([12, 168]);
    expect(seasonalLags(spec({ lags: 'none' }))).toEqual([]);
    // auto is the default: it keeps no season where none beats the last value (chooseLags).
    expect(spec({}).model.lags).toBe('auto');
  });

  it('rejects a season that is not 2 to 2,016 whole steps, or an empty list, naming the field', () => {
    for (const lags of [['90m'], ['1h'], ['100d'], [], 'sometimes', ['soon']]) {
      let err: unknown;
      try {
        spec({ lags });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(lags)).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain('model.lags');
    }
  });
});
