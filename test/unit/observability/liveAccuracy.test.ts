import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../src/domain/forecast.js';
import type { ImputedStep } from '../../../src/domain/step.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { LiveAccuracy, outerInterval } from '../../../src/observability/liveAccuracy.js';

const STEP = 1000;

function step(series: string, t: number, value: number, observed = true): ImputedStep {
  return { series, ts: t * STEP, value, observed, imputed: !observed, sinceObserved: observed ? 0 : 1, reset: false };
}

/** A forecast made at step t: mean m for every horizon, interval [m-1, m+1]. */
function forecast(series: string, t: number, m: number, horizon = 2, kind: 'baseline' | 'gru' = 'baseline'): Forecast {
  return {
    series,
    ts: t * STEP,
    step: STEP,
    imputed: false,
    model: { name: 'p', version: 0, kind },
    forecast: Array.from({ length: horizon }, (_, i) => ({ h: i + 1, ts: (t + i + 1) * STEP, mean: m, q: { '0.1': m - 1, '0.5': m, '0.9': m + 1 } })),
  };
}

function collect() {
  const events: PipelineEvent[] = [];
  return { events, listener: (e: PipelineEvent) => events.push(e) };
}

describe('LiveAccuracy', () => {
  it('scores each cell when its actual arrives, per model and horizon', () => {
    const { events, listener } = collect();
    const acc = new LiveAccuracy({ events: listener });
    acc.observe([step('a', 0, 10)], new Map([['baseline', [forecast('a', 0, 10)]], ['gru', [forecast('a', 0, 12, 2, 'gru')]]]));
    expect(events).toEqual([]);
    const cells = acc.observe([step('a', 1, 10.5)], new Map([['baseline', [forecast('a', 1, 10.5)]]]));
    expect(cells.map((c) => [c.model, c.h, c.absError, c.inInterval])).toEqual([
      ['baseline', 1, 0.5, true],
      ['gru', 1, 1.5, false],
    ]);
    expect(events).toContainEqual({ type: 'forecast_error', model: 'baseline', horizon: 1, absErrorSum: 0.5, count: 1 });
    expect(events).toContainEqual({ type: 'forecast_error', model: 'gru', horizon: 1, absErrorSum: 1.5, count: 1 });
    expect(events).toContainEqual({ type: 'interval_coverage', model: 'gru', interval: '0.1-0.9', hits: 0, total: 1 });
    events.length = 0;
    // Step 2 scores h=2 of the origin-0 forecasts and h=1 of the origin-1 one, aggregated per batch.
    acc.observe([step('a', 2, 13)], new Map());
    expect(events).toContainEqual({ type: 'forecast_error', model: 'baseline', horizon: 1, absErrorSum: 2.5, count: 1 });
    expect(events).toContainEqual({ type: 'forecast_error', model: 'baseline', horizon: 2, absErrorSum: 3, count: 1 });
    expect(events).toContainEqual({ type: 'forecast_error', model: 'gru', horizon: 2, absErrorSum: 1, count: 1 });
    expect(events).toContainEqual({ type: 'interval_coverage', model: 'baseline', interval: '0.1-0.9', hits: 0, total: 2 });
  });

  it('scores a forecast made earlier in the same batch', () => {
    const { events, listener } = collect();
    const acc = new LiveAccuracy({ events: listener });
    acc.observe([step('a', 0, 1), step('a', 1, 4)], new Map([['baseline', [forecast('a', 0, 1), forecast('a', 1, 4)]]]));
    expect(events).toEqual([
      { type: 'forecast_error', model: 'baseline', horizon: 1, absErrorSum: 3, count: 1 },
      { type: 'interval_coverage', model: 'baseline', interval: '0.1-0.9', hits: 0, total: 1 },
    ]);
  });

  it('never scores against imputed values, and forgets passed targets (bounded memory)', () => {
    const { events, listener } = collect();
    const acc = new LiveAccuracy({ events: listener });
    const H = 5;
    for (let t = 0; t < 200; t++) {
      acc.observe([step('a', t, t, t % 2 === 0)], new Map([['baseline', [forecast('a', t, t, H)]]]));
      expect(acc.pendingCells).toBeLessThanOrEqual((H * (H + 1)) / 2);
    }
    const scored = events.filter((e) => e.type === 'forecast_error').reduce((n, e) => n + (e.type === 'forecast_error' ? e.count : 0), 0);
    // Only observed (even) steps are actuals; at step t, origins max(0, t-H)..t-1 have a cell on t:
    // t=2 → 2 cells, t=4 → 4, each of t=6..198 (97 steps) → H.
    expect(scored).toBe(2 + 4 + 97 * H);
    acc.drop('a');
    expect(acc.pendingCells).toBe(0);
  });

  it('creates zero series for configured models so rate() sees them before the first score', () => {
    const { events, listener } = collect();
    new LiveAccuracy({ events: listener, models: ['gru'], horizon: 2, interval: '0.1-0.9' });
    expect(events).toEqual([
      { type: 'forecast_error', model: 'gru', horizon: 1, absErrorSum: 0, count: 0 },
      { type: 'scaled_forecast_error', model: 'gru', horizon: 1, scaledErrorSum: 0, count: 0 },
      { type: 'forecast_error', model: 'gru', horizon: 2, absErrorSum: 0, count: 0 },
      { type: 'scaled_forecast_error', model: 'gru', horizon: 2, scaledErrorSum: 0, count: 0 },
      { type: 'interval_coverage', model: 'gru', interval: '0.1-0.9', hits: 0, total: 0 },
    ]);
  });

  it('labels the outermost quantiles as the interval', () => {
    expect(outerInterval(['0.5', '0.05', '0.95'])?.label).toBe('0.05-0.95');
    expect(outerInterval(['0.5'])).toBeUndefined();
  });

  it('scales errors by each series\' mean absolute change between observed steps, so units do not matter', () => {
    // Two series with the same shape, one in units 1000 times larger: same scaled errors.
    const run = (series: string, k: number) => {
      const { events, listener } = collect();
      const acc = new LiveAccuracy({ events: listener });
      const values = [10, 12, 11, 15, 14].map((v) => v * k);
      const cells = [];
      for (const [t, v] of values.entries()) cells.push(...acc.observe([step(series, t, v)], new Map([['baseline', [forecast(series, t, v, 1)]]])));
      return { cells, events, scale: acc.scaleOf(series) };
    };
    const small = run('a', 1);
    const big = run('b', 1000);
    // Scale after the last step: mean of |2|, |1|, |4|, |1| = 2; each cell is scored with the scale
    // of the steps before it (none, then 2, then 1.5, then 7/3).
    expect(small.scale).toBe(2);
    expect(big.scale).toBe(2000);
    expect(small.cells.map((c) => c.scaledError)).toEqual([undefined, 1 / 2, 4 / 1.5, 1 / (7 / 3)]);
    expect(big.cells.map((c) => c.scaledError)).toEqual(small.cells.map((c) => c.scaledError));
    expect(small.events.filter((e) => e.type === 'scaled_forecast_error')).toEqual([
      { type: 'scaled_forecast_error', model: 'baseline', horizon: 1, scaledErrorSum: 0.5, count: 1 },
      { type: 'scaled_forecast_error', model: 'baseline', horizon: 1, scaledErrorSum: 4 / 1.5, count: 1 },
      { type: 'scaled_forecast_error', model: 'baseline', horizon: 1, scaledErrorSum: 1 / (7 / 3), count: 1 },
    ]);
  });

  it('learns the scale only from consecutive observed steps (an imputed neighbour is a guess)', () => {
    const { listener } = collect();
    const acc = new LiveAccuracy({ events: listener });
    acc.observe([step('a', 0, 0), step('a', 1, 100, false), step('a', 2, 3), step('a', 3, 4)], new Map());
    expect(acc.scaleOf('a')).toBe(1);
    acc.drop('a');
    expect(acc.scaleOf('a')).toBeUndefined();
  });
});
