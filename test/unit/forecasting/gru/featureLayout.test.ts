import { describe, expect, it } from 'vitest';
import type { NormalizedStep } from '../../../../src/domain/step.js';
import { baseOffsetsFromNames, DIFF_SCALE, featureLayout, inputNames, inputSize, layoutInputSize, writeBaseInputs, writeInput } from '../../../../src/forecasting/gru/featureLayout.js';

function step(over: Partial<NormalizedStep> = {}): NormalizedStep {
  return { series: 's', ts: Date.UTC(2024, 0, 1, 6), value: 5, observed: true, imputed: false, sinceObserved: 0, reset: false, z: 0.5, scale: { mean: 4, std: 2 }, ...over };
}

describe('featureLayout', () => {
  const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 24);

  it('sizes and names the input vector', () => {
    expect(inputSize(layout.timeFeatures)).toBe(7);
    expect(inputNames(layout)).toEqual(['z', 'observed', 'sinceObserved', 'hourOfDay.sin', 'hourOfDay.cos', 'dayOfWeek.sin', 'dayOfWeek.cos']);
  });

  it('writes z, mask, scaled gap and time features at the offset', () => {
    const out = new Float32Array(2 + 7).fill(99);
    const end = writeInput(step({ observed: false, imputed: true, sinceObserved: 3 }), layout, out, 2);
    expect(end).toBe(9);
    expect(out[0]).toBe(99);
    expect(out[2]).toBeCloseTo(0.5, 6);
    expect(out[3]).toBe(0);
    expect(out[4]).toBeCloseTo(Math.log1p(3) / Math.log1p(24), 6);
    // 06:00 UTC is a quarter of the day: sin = 1, cos = 0. 2024-01-01 is a Monday: phase 0.
    expect(out[5]).toBeCloseTo(1, 6);
    expect(out[6]).toBeCloseTo(0, 6);
    expect(out[8]).toBeCloseTo(Math.cos((2 * Math.PI * 0.25) / 7), 6);
  });

  it('clips z and the gap scale, and maps a non-finite z to 0', () => {
    const out = new Float32Array(7);
    writeInput(step({ z: 1e9, sinceObserved: 10_000 }), layout, out, 0);
    expect(out[0]).toBe(layout.zClip);
    expect(out[2]).toBe(1);
    writeInput(step({ z: -Infinity }), layout, out, 0);
    expect(out[0]).toBe(-layout.zClip);
    writeInput(step({ z: NaN }), layout, out, 0);
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(1);
  });

  it('with diff, writes the scaled, clipped change of z after the gap column (0 after a reset)', () => {
    const l = featureLayout(['hourOfDay'], 24, 10, undefined, true);
    expect(layoutInputSize(l)).toBe(6);
    expect(inputNames(l)).toEqual(['z', 'observed', 'sinceObserved', 'dz', 'hourOfDay.sin', 'hourOfDay.cos']);
    const step = { series: 's', ts: 0, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: false, z: 0.5, scale: { mean: 0, std: 1 } };
    const out = new Float32Array(6);
    expect(writeInput(step, l, out, 0, 0.25)).toBe(6);
    expect(out[3]).toBeCloseTo(DIFF_SCALE * 0.25, 6);
    writeInput(step, l, out, 0);
    expect(out[3]).toBe(0);
    writeInput({ ...step, z: 100 }, l, out, 0, -9);
    expect(out[0]).toBe(10);
    expect(out[3]).toBe(10);
    // Without diff the layout is unchanged.
    expect(layoutInputSize(featureLayout(['hourOfDay'], 24))).toBe(5);
  });

  it('under a seasonal base, names, sizes and writes the base columns: the base forecast at k as a change from now', () => {
    const bl = featureLayout(['hourOfDay'], 24, 3, { kind: 'seasonal', steps: 4 }, false, [], [1, 3]);
    expect(inputNames(bl)).toEqual(['dz@4', 'observed', 'sinceObserved', 'hourOfDay.sin', 'hourOfDay.cos', 'base+1', 'base+3']);
    expect(layoutInputSize(bl)).toBe(7);
    expect(baseOffsetsFromNames(inputNames(bl))).toEqual([1, 3]);
    // y[t−4..t−1] = 10, 11, 12, 13 (ago(4) … ago(1)); y[t] = 12, std 2: base+1 reads y[t−3] = 11, base+3 reads y[t−1] = 13.
    const past = [13, 12, 11, 10];
    const out = new Float32Array(2);
    expect(writeBaseInputs(bl, 12, 2, true, (back) => past[back - 1]!, out, 0)).toBe(2);
    expect([...out]).toEqual([-0.5, 0.5]);
    // Clipped to ±zClip; 0 where the season before t is not known.
    writeBaseInputs(bl, 100, 2, true, (back) => past[back - 1]!, out, 0);
    expect([...out]).toEqual([-3, -3]);
    writeBaseInputs(bl, 12, 2, false, (back) => past[back - 1]!, out, 0);
    expect([...out]).toEqual([0, 0]);
  });

  it('rejects a bad layout with a fix-it message', () => {
    expect(() => featureLayout(['hourOfDay'], 3, 10, { kind: 'last-value' }, false, [], [1])).toThrow(/seasonal base/);
    expect(() => featureLayout(['hourOfDay'], 3, 10, { kind: 'seasonal', steps: 4 }, false, [], [2, 1])).toThrow(/from 1 to 3/);
    expect(() => featureLayout(['hourOfDay'], 0)).toThrow(/maxGapSteps/);
    expect(() => featureLayout(['fortnight' as 'hourOfDay'], 3)).toThrow(/unknown time feature/);
  });
});
