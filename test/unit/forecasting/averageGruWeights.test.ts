import { describe, expect, it } from 'vitest';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { averageGruWeights, initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { ConfigError } from '../../../src/domain/errors.js';

const layout = featureLayout(['hourOfDay'], 24);
const dims = { layout, units: 4, horizon: 3, quantiles: [0.1, 0.5, 0.9] };

describe('averageGruWeights', () => {
  it('is the element-wise mean of every array, keeping the first model\'s version and shape', () => {
    const a = initGruModelWeights(dims, 1, 7);
    const b = initGruModelWeights(dims, 2, 8);
    const c = initGruModelWeights(dims, 3, 9);
    const m = averageGruWeights([a, b, c]);
    expect(m.version).toBe(7);
    expect(m.layout).toEqual(a.layout);
    const arrays = (w: typeof a) => [w.cell.kernel, w.cell.recurrentKernel, w.cell.bias, w.head.kernel, w.head.bias];
    arrays(m).forEach((got, i) => {
      const [x, y, z] = [arrays(a)[i]!, arrays(b)[i]!, arrays(c)[i]!];
      expect(got.length).toBe(x.length);
      for (let j = 0; j < got.length; j++) expect(got[j]).toBeCloseTo((x[j]! + y[j]! + z[j]!) / 3, 6);
    });
    // The inputs are left as they were.
    expect(a.cell.kernel).toEqual(initGruModelWeights(dims, 1, 7).cell.kernel);
  });

  it('refuses models of different shapes, or none', () => {
    const a = initGruModelWeights(dims, 1);
    const wider = initGruModelWeights({ ...dims, units: 5 }, 1);
    expect(() => averageGruWeights([a, wider])).toThrow(ConfigError);
    expect(() => averageGruWeights([])).toThrow(ConfigError);
  });
});
