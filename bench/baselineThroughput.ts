/**
 * Baseline forecaster throughput: series-steps per second on one core at horizon 12 with three
 * quantiles (target ≥ 100k/s).   npm run bench -- baseline
 */
import type { NormalizedStep } from '../src/domain/step.js';
import type { Forecaster } from '../src/forecasting/forecaster.js';
import { LastValueForecaster } from '../src/forecasting/baseline/lastValue.js';
import { SeasonalNaiveForecaster } from '../src/forecasting/baseline/seasonalNaive.js';

const H = 12;
const STEP = 60_000;
const T0 = 28_333_333 * 3_600_000;
const nSeries = 1000;
const nSteps = 600;

let seed = 1;
const uniform = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const batch = (t: number): NormalizedStep[] =>
  Array.from({ length: nSeries }, (_, s) => ({
    series: `s${s}`,
    ts: T0 + t * STEP,
    value: Math.sin(t / 8) + uniform(),
    observed: uniform() > 0.05,
    imputed: false,
    sinceObserved: 0,
    reset: t === 0,
    z: 0,
    scale: { mean: 0, std: 1 },
  }));

function measure(name: string, f: Forecaster): Record<string, unknown> {
  const warm = 100;
  for (let t = 0; t < warm; t++) f.step(batch(t));
  let busy = 0;
  for (let t = warm; t < nSteps; t++) {
    const b = batch(t); // built outside the timed region
    const start = performance.now();
    f.step(b);
    busy += performance.now() - start;
  }
  const rate = ((nSteps - warm) * nSeries) / (busy / 1000);
  return { forecaster: name, 'series-steps/s': Math.round(rate), series: nSeries, horizon: H };
}

export async function benchBaselines(): Promise<Record<string, unknown>[]> {
  const opts = { name: 'bench', stepMs: STEP, horizon: H, quantiles: [0.1, 0.5, 0.9] };
  return [
    measure('last-value', new LastValueForecaster(opts)),
    measure('seasonal-naive (m=48)', new SeasonalNaiveForecaster({ ...opts, seasonSteps: 48 })),
    measure('seasonal-naive (m=1440)', new SeasonalNaiveForecaster({ ...opts, seasonSteps: 1440 })),
  ];
}
