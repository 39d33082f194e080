import { SeasonalNaiveForecaster } from '../../src/forecasting/baseline/seasonalNaive.js';
import { CONTRACT_STEP_MS, runForecasterContract } from './forecasterContract.js';

runForecasterContract(
  'SeasonalNaiveForecaster (season 5 steps, horizon 12)',
  () =>
    new SeasonalNaiveForecaster({
      name: 'seasonal-naive',
      stepMs: CONTRACT_STEP_MS,
      horizon: 12,
      quantiles: [0.1, 0.5, 0.9],
      seasonSteps: 5,
    }),
);

runForecasterContract(
  'SeasonalNaiveForecaster (season 1 step, residual window 3)',
  () =>
    new SeasonalNaiveForecaster({
      name: 'seasonal-naive',
      stepMs: CONTRACT_STEP_MS,
      horizon: 4,
      quantiles: [0.2, 0.8],
      seasonSteps: 1,
      residualWindow: 3,
      minResiduals: 1,
    }),
);
