import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../src/domain/forecast.js';
import type { ImputedStep } from '../../../src/domain/step.js';
import { createBaseline } from '../../../src/forecasting/baseline/createBaseline.js';
import { LatestForecasts } from '../../../src/observability/latestForecasts.js';
import { LiveAccuracy } from '../../../src/observability/liveAccuracy.js';
import { createPipelineCores } from '../../../src/pipeline/build.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import { SeriesStateStore, type StateBounds } from '../../../src/state/seriesStateStore.js';

const STEP = 60_000;
const spec = parseSpec({
  name: 'forget-test',
  input: { topic: 'in' },
  output: { topic: 'out' },
  window: { step: '1m', lateness: '1m', idleClose: '5m' },
  impute: { strategy: 'ffill', maxGap: '30m' },
  model: { type: 'baseline', horizon: 3, quantiles: [0.1, 0.5, 0.9] },
  baseline: { type: 'last-value', season: '1h' },
});

/**
 * The state store with what is kept beside it, wired as `streamcast run` wires them (the
 * pipeline's onSeriesDropped is the store's onDrop): every series the store drops is forgotten
 * by the latest-forecast map of /series/:id and by live accuracy.
 */
function setup(bounds: StateBounds) {
  const now = { t: 0 };
  const forecaster = createBaseline({ type: 'last-value', seasonMs: 3_600_000 }, { name: 'forget-test', stepMs: STEP, horizon: 3, quantiles: [0.1, 0.5, 0.9] });
  const store = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster }, now: () => now.t, bounds });
  store.own([0]);
  const latest = new LatestForecasts();
  const accuracy = new LiveAccuracy({ events: () => undefined, horizon: 3 });
  store.onDrop((series) => {
    latest.delete(series);
    accuracy.drop(series);
  });
  /** A point read at clock time `at`, its step forecast, scored and kept as the pipeline does. */
  const point = (series: string, at: number) => {
    now.t = at;
    store.touch(series, 0, at);
    const step: ImputedStep = { series, ts: at - (at % STEP), value: at / STEP, observed: true, imputed: false, sinceObserved: 0, reset: false };
    const [f] = forecaster.step([{ ...step, z: 0, scale: { mean: 0, std: 1 } }]) as [Forecast];
    accuracy.observe([step], new Map([['baseline', [f]]]));
    latest.set(series, f);
  };
  return { store, latest, accuracy, point };
}

describe('what is kept beside the state store forgets the series the store drops', () => {
  it('state.maxSeries: the evicted series leaves /series/:id and live accuracy', () => {
    const { store, latest, accuracy, point } = setup({ maxSeries: 100 });
    for (let i = 0; i < 1000; i++) point(`s${i}`, i * STEP);
    expect(store.size).toBe(100);
    expect(latest.size).toBe(100);
    expect(accuracy.seriesCount).toBe(100);
    // Only the last 100 remain; the first is gone everywhere.
    expect(latest.get('s0')).toBeUndefined();
    expect(accuracy.scaleOf('s0')).toBeUndefined();
    expect(latest.get('s999')?.series).toBe('s999');
    // Pending cells of the kept series only: one forecast of 3 horizons each.
    expect(accuracy.pendingCells).toBe(300);
  });

  it('state.ttl: expired series leave both', () => {
    const { store, latest, accuracy, point } = setup({ ttlMs: 10 * STEP });
    for (let i = 0; i < 50; i++) point(`s${i}`, i * STEP);
    expect(latest.size).toBe(50);
    // At 54.5 min the series last seen before 44.5 min have been idle for more than 10 min.
    expect(store.expire(54.5 * STEP)).toBe(45);
    expect(latest.size).toBe(5);
    expect(accuracy.seriesCount).toBe(5);
    expect(accuracy.pendingCells).toBe(15);
    expect(store.expire(1000 * STEP)).toBe(5);
    expect(latest.size).toBe(0);
    expect(accuracy.seriesCount).toBe(0);
    expect(accuracy.pendingCells).toBe(0);
  });

  it('revoked partitions: their series leave both', () => {
    const { store, latest, accuracy, point } = setup({});
    for (let i = 0; i < 20; i++) point(`s${i}`, i * STEP);
    expect(store.dropPartitions([0])).toBe(20);
    expect(latest.size).toBe(0);
    expect(accuracy.seriesCount).toBe(0);
  });
});
