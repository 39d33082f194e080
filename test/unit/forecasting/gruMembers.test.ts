import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { featureLayout, layoutInputSize } from '../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights, type GruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { mergeGruMembers, splitGruMembers } from '../../../src/forecasting/gru/gruMembers.js';
import { JsStepKernel, independentBlocks } from '../../../src/forecasting/gru/jsStepKernel.js';
import { QuantileHead } from '../../../src/forecasting/gru/quantileHead.js';
import { mulberry32 } from '../../../src/domain/random.js';

const layout = featureLayout(['hourOfDay'], 24);
const dims = { layout, units: 5, horizon: 3, quantiles: [0.1, 0.5, 0.9] };

/** A model with every weight drawn (an init has zero biases, which would hide a misplaced bias). */
function drawn(seed: number): GruModelWeights {
  const w = initGruModelWeights(dims, seed);
  const u = mulberry32(seed + 100);
  for (const a of [w.cell.bias, w.head.bias, w.head.kernel]) for (let i = 0; i < a.length; i++) a[i] = u() - 0.5;
  return w;
}

/** Quantiles after `steps` GRU steps from a zero state on the same inputs. */
function run(w: GruModelWeights, xs: Float32Array[]): Float32Array {
  const kernel = new JsStepKernel(w.cell);
  let h = new Float32Array(w.cell.units);
  for (const x of xs) {
    const next = new Float32Array(w.cell.units);
    kernel.step(x, h, next, 1);
    h = next;
  }
  const head = new QuantileHead(w.head);
  const out = new Float32Array(head.outputs);
  head.apply(h, 1, out);
  return out;
}

const I = layoutInputSize(layout);
const u = mulberry32(9);
const inputs = Array.from({ length: 12 }, () => Float32Array.from({ length: I }, () => 2 * u() - 1));

describe('mergeGruMembers / splitGruMembers', () => {
  it('serves the mean of the members\' centres, each member running on its own state', () => {
    const members = [drawn(1), drawn(2), drawn(3)];
    const merged = mergeGruMembers(members);
    expect(merged.cell.units).toBe(15);
    expect(merged.head.units).toBe(15);
    const got = run(merged, inputs);
    const each = members.map((m) => run(m, inputs));
    const Q = dims.quantiles.length;
    for (let h = 0; h < dims.horizon; h++) {
      const anchor = h * Q + 1;
      expect(got[anchor]).toBeCloseTo((each[0]![anchor]! + each[1]![anchor]! + each[2]![anchor]!) / 3, 5);
      // Never crossed.
      expect(got[h * Q]).toBeLessThanOrEqual(got[anchor]!);
      expect(got[anchor]).toBeLessThanOrEqual(got[h * Q + 2]!);
    }
  });

  it('splits back into the members exactly while the merged model carries their head biases', () => {
    const members = [drawn(4), drawn(5)];
    const parts = splitGruMembers({ ...mergeGruMembers(members), version: 3 }, dims.units);
    parts.forEach((p, k) => {
      expect(Array.from(p.head.bias)).toEqual(Array.from(members[k]!.head.bias));
      expect(p.memberHeadBias).toBeUndefined();
      expect(p.version).toBe(3);
    });
  });

  it('splits back into the members (the head bias as their mean when read back without theirs), and one member is itself', () => {
    const members = [drawn(4), drawn(5)];
    const { memberHeadBias: _dropped, ...readBack } = mergeGruMembers(members);
    const parts = splitGruMembers(readBack, dims.units);
    expect(parts).toHaveLength(2);
    parts.forEach((p, k) => {
      const m = members[k]!;
      expect(p.cell.units).toBe(dims.units);
      expect(Array.from(p.cell.kernel)).toEqual(Array.from(m.cell.kernel));
      expect(Array.from(p.cell.recurrentKernel)).toEqual(Array.from(m.cell.recurrentKernel));
      expect(Array.from(p.cell.bias)).toEqual(Array.from(m.cell.bias));
      p.head.kernel.forEach((v, i) => expect(v).toBeCloseTo(m.head.kernel[i]!, 6));
      p.head.bias.forEach((v, i) => expect(v).toBeCloseTo((members[0]!.head.bias[i]! + members[1]!.head.bias[i]!) / 2, 6));
    });
    const one = drawn(6);
    expect(splitGruMembers(one, dims.units)).toEqual([one]);
    expect(mergeGruMembers([one])).toBe(one);
  });

  it('is stepped block by block, as the dense step would (a dense model is one block)', () => {
    const merged = mergeGruMembers([drawn(7), drawn(8), drawn(9)]);
    expect(independentBlocks(merged.cell)).toBe(3);
    expect(new JsStepKernel(merged.cell).blocks).toBe(3);
    expect(independentBlocks(drawn(7).cell)).toBe(1);
    // One weight between blocks, too small to change a value: the kernel must step it densely.
    const recurrentKernel = merged.cell.recurrentKernel.slice();
    recurrentKernel[0 * 3 * 15 + 14] = 1e-30;
    const dense = { ...merged, cell: { ...merged.cell, recurrentKernel } };
    expect(new JsStepKernel(dense.cell).blocks).toBe(1);
    const a = run(merged, inputs);
    const b = run(dense, inputs);
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
  });

  it('refuses members of different shapes and units that do not divide', () => {
    const wider = initGruModelWeights({ ...dims, units: 6 }, 1);
    expect(() => mergeGruMembers([drawn(1), wider])).toThrow(ConfigError);
    expect(() => mergeGruMembers([])).toThrow(ConfigError);
    expect(() => splitGruMembers(mergeGruMembers([drawn(1), drawn(2)]), 4)).toThrow(ConfigError);
  });
});
