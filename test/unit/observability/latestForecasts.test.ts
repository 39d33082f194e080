import { beforeAll, describe, expect, it } from 'vitest';
import type { Forecast } from '../../../src/domain/forecast.js';
import { mulberry32 } from '../../../src/domain/random.js';
import { createBaseline } from '../../../src/forecasting/baseline/createBaseline.js';
import { selectBackend } from '../../../src/forecasting/gru/backend.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { GruForecaster } from '../../../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { LatestForecasts } from '../../../src/observability/latestForecasts.js';
import { STEP_MS, T0, seriesSteps } from '../../helpers/normalizedSteps.js';

beforeAll(async () => {
  await selectBackend();
});

/** What GET /series/:id answers: the JSON of what the lookup returns. */
const body = (f: Forecast | undefined) => JSON.stringify(f);

function forecast(series: string, t: number, opts: { horizon?: number; keys?: readonly string[]; version?: number; kind?: 'gru' | 'baseline'; imputed?: boolean; value?: (h: number, j: number) => number } = {}): Forecast {
  const { horizon = 3, keys = ['0.1', '0.5', '0.9'], version = 1, kind = 'baseline', imputed = false, value = (h, j) => h * 10 + j + 0.123456789 } = opts;
  return {
    series,
    ts: T0 + t * STEP_MS,
    step: STEP_MS,
    forecast: Array.from({ length: horizon }, (_, i) => ({
      h: i + 1,
      ts: T0 + (t + i + 1) * STEP_MS,
      mean: value(i + 1, -1),
      q: Object.fromEntries(keys.map((k, j) => [k, value(i + 1, j)])),
    })),
    model: { name: 'latest-test', version, kind },
    imputed,
  };
}

describe('LatestForecasts', () => {
  it('answers the JSON of the forecasts the baseline and the GRU make, byte for byte', () => {
    const baseline = createBaseline({ type: 'seasonal-naive', seasonMs: 10 * STEP_MS }, { name: 'base', stepMs: STEP_MS, horizon: 12, quantiles: [0.05, 0.1, 0.5, 0.9, 0.95] });
    const weights = initGruModelWeights({ layout: featureLayout(['hourOfDay', 'dayOfWeek'], 30), units: 8, horizon: 6, quantiles: [0.1, 0.5, 0.9] }, 42, 1);
    const gru = new GruForecaster({ name: 'gru', stepMs: STEP_MS, horizon: 6, quantiles: [0.1, 0.5, 0.9], weights, kernel: 'js' });
    const latest = new LatestForecasts();
    const reference = new Map<string, Forecast>();
    const rnd = mulberry32(3);
    for (const [i, model] of [baseline, gru].entries()) {
      for (let s = 0; s < 20; s++) {
        const series = `m${i}-s${s}`;
        const steps = seriesSteps(series, Array.from({ length: 30 }, () => 1000 * rnd() - 500), { observed: () => rnd() < 0.9 });
        for (const f of model.step(steps)) {
          latest.set(f.series, f);
          reference.set(f.series, f);
          expect(body(latest.get(f.series))).toBe(body(f));
        }
      }
    }
    expect(latest.size).toBe(40);
    for (const [series, f] of reference) expect(body(latest.get(series))).toBe(body(f));
  });

  it('agrees with a Map of the forecast objects over random sets and deletes', () => {
    const latest = new LatestForecasts();
    const reference = new Map<string, Forecast>();
    const rnd = mulberry32(11);
    const odd = [Number.NaN, -0, 1e308, -1e-300, 5e-324, 0.1 + 0.2, 123456789.123456789];
    for (let i = 0; i < 5000; i++) {
      const series = `s${Math.floor(rnd() * 50)}`;
      const r = rnd();
      if (r < 0.1) {
        expect(latest.delete(series)).toBe(reference.delete(series));
        continue;
      }
      const f = forecast(series, Math.floor(rnd() * 1000), {
        horizon: r < 0.15 ? 5 : 3,
        keys: r < 0.2 ? ['0.5'] : r < 0.25 ? ['0.9', '0.1', '0.5'] : ['0.1', '0.5', '0.9'],
        version: Math.floor(rnd() * 4),
        kind: rnd() < 0.5 ? 'gru' : 'baseline',
        imputed: rnd() < 0.2,
        value: () => (rnd() < 0.05 ? odd[Math.floor(rnd() * odd.length)]! : (rnd() - 0.5) * 1e6),
      });
      latest.set(series, f);
      reference.set(series, f);
      expect(latest.size).toBe(reference.size);
    }
    for (let s = 0; s < 50; s++) {
      expect(latest.has(`s${s}`)).toBe(reference.has(`s${s}`));
      expect(body(latest.get(`s${s}`))).toBe(body(reference.get(`s${s}`)));
    }
  });

  it('keeps a forecast that fits no shape as it is (a horizon ts that is no exact float distance from the origin)', () => {
    const latest = new LatestForecasts();
    const f = forecast('a', 1);
    // 3 + (1e-20 - 3) is 0, not 1e-20.
    const odd: Forecast = { ...f, ts: 3, forecast: f.forecast.map((c, i) => ({ ...c, ts: 1e-20 * (i + 1) })) };
    latest.set('a', odd);
    expect(latest.get('a')).toBe(odd);
    latest.set('a', f);
    expect(body(latest.get('a'))).toBe(body(f));
    expect(latest.size).toBe(1);
  });

  it('forgets shapes with their last series (model versions come and go)', () => {
    const latest = new LatestForecasts();
    for (let v = 0; v < 100; v++) latest.set('a', forecast('a', v, { version: v }));
    expect(latest.shapeCount).toBe(1);
    latest.set('b', forecast('b', 0, { horizon: 7 }));
    expect(latest.shapeCount).toBe(2);
    latest.delete('a');
    latest.delete('b');
    expect(latest.size).toBe(0);
    expect(latest.shapeCount).toBe(0);
    expect(latest.get('a')).toBeUndefined();
  });
});
