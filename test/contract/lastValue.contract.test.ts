import { LastValueForecaster } from '../../src/forecasting/baseline/lastValue.js';
import { CONTRACT_STEP_MS, runForecasterContract } from './forecasterContract.js';

runForecasterContract(
  'LastValueForecaster',
  () => new LastValueForecaster({ name: 'last-value', stepMs: CONTRACT_STEP_MS, horizon: 12, quantiles: [0.1, 0.5, 0.9] }),
);

// Small residual windows exercise the empirical band (and its eviction) within short inputs.
runForecasterContract(
  'LastValueForecaster (residual window 4, min 2)',
  () =>
    new LastValueForecaster({
      name: 'last-value',
      stepMs: CONTRACT_STEP_MS,
      horizon: 3,
      quantiles: [0.05, 0.25, 0.5, 0.75, 0.95],
      residualWindow: 4,
      minResiduals: 2,
    }),
);
