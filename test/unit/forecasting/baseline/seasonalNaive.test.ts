import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/domain/errors.js';
import { SeasonalNaiveForecaster } from '../../../../src/forecasting/baseline/seasonalNaive.js';
import { STEP_MS, seriesSteps } from '../../../helpers/normalizedSteps.js';

const make = (m: number, H: number) =>
  new SeasonalNaiveForecaster({ name: 'sn', stepMs: STEP_MS, horizon: H, quantiles: [0.1, 0.5, 0.9], seasonSteps: m });

describe('SeasonalNaiveForecaster', () => {
  it('forecasts y(t + h − m·⌈h/m⌉) once a season is seen, the last value before (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 60 }),
        (m, H, values) => {
          const f = make(m, H);
          const out = f.step(seriesSteps('a', values, { observed: (i) => i % 3 !== 1 }));
          out.forEach((o, t) => {
            const expected = Array.from({ length: H }, (_, i) => {
              const h = i + 1;
              return t + 1 >= m ? values[t + h - m * Math.ceil(h / m)]! : values[t]!;
            });
            expect(o.forecast.map((x) => x.mean)).toEqual(expected);
          });
        },
      ),
    );
  });

  it('reports warm-up: warm(series) after m steps, again after a reset', () => {
    const f = make(4, 2);
    expect(f.warmupSteps).toBe(4);
    expect(f.warm('a')).toBe(false);
    const steps = seriesSteps('a', [1, 2, 3, 4, 5, 6, 7], { reset: (i) => i === 0 || i === 5 });
    const warm: boolean[] = [];
    for (const s of steps) {
      f.step([s]);
      warm.push(f.warm('a'));
    }
    expect(warm).toEqual([false, false, false, true, true, false, false]);
  });

  it('starts the season afresh on reset: no pre-gap value is forecast', () => {
    const f = make(2, 2);
    const steps = seriesSteps('a', [1, 2, 3, 10, 20], { reset: (i) => i === 0 || i === 3 });
    const out = f.step(steps);
    expect(out[2]!.forecast.map((h) => h.mean)).toEqual([2, 3]);
    expect(out[3]!.forecast.map((h) => h.mean)).toEqual([10, 10]);
    expect(out[4]!.forecast.map((h) => h.mean)).toEqual([10, 20]);
  });

  it('keeps series apart in one batch', () => {
    const f = make(2, 2);
    const a = seriesSteps('a', [1, 2, 3]);
    const b = seriesSteps('b', [10, 20, 30]);
    const out = f.step([a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, b[2]!]);
    expect(out[4]!.forecast.map((h) => h.mean)).toEqual([2, 3]);
    expect(out[5]!.forecast.map((h) => h.mean)).toEqual([20, 30]);
  });

  it('rejects a season that is not a positive whole number of steps', () => {
    expect(() => make(0, 2)).toThrow(ConfigError);
    expect(() => make(1.5, 2)).toThrow(/seasonSteps/);
  });

  it('restore rejects a snapshot taken with another season', () => {
    const f = make(3, 2);
    f.step(seriesSteps('a', [1, 2, 3, 4]));
    expect(() => make(4, 2).restore('a', f.snapshot('a')!)).toThrow(/model parameter 3/);
  });
});
