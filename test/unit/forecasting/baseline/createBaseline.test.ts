import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/domain/errors.js';
import { createBaseline } from '../../../../src/forecasting/baseline/createBaseline.js';
import { LastValueForecaster } from '../../../../src/forecasting/baseline/lastValue.js';
import { SeasonalNaiveForecaster } from '../../../../src/forecasting/baseline/seasonalNaive.js';

const opts = { name: 'cpu-load', stepMs: 60_000, horizon: 12, quantiles: [0.1, 0.5, 0.9] };

describe('createBaseline', () => {
  it('builds a seasonal-naive forecaster with the season in steps', () => {
    const f = createBaseline({ type: 'seasonal-naive', seasonMs: 86_400_000 }, opts);
    expect(f).toBeInstanceOf(SeasonalNaiveForecaster);
    expect((f as SeasonalNaiveForecaster).seasonSteps).toBe(1440);
    expect(f.info).toEqual({ name: 'cpu-load', version: 0, kind: 'baseline' });
    expect(f.horizon).toBe(12);
    expect(f.quantiles).toEqual([0.1, 0.5, 0.9]);
  });

  it('builds a last-value forecaster, ignoring the season', () => {
    expect(createBaseline({ type: 'last-value', seasonMs: 1 }, opts)).toBeInstanceOf(LastValueForecaster);
  });

  it('says how to fix a season that is not a whole number of steps', () => {
    expect(() => createBaseline({ type: 'seasonal-naive', seasonMs: 90_000 }, opts)).toThrow(ConfigError);
    expect(() => createBaseline({ type: 'seasonal-naive', seasonMs: 90_000 }, opts)).toThrow(
      /baseline.season \(90s\) must be a whole number of steps \(window.step = 1m\)/,
    );
  });
});
