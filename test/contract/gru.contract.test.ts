import { beforeAll } from 'vitest';
import { selectBackend } from '../../src/forecasting/gru/backend.js';
import { featureLayout } from '../../src/forecasting/gru/featureLayout.js';
import { GruForecaster } from '../../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../../src/forecasting/gru/gruWeights.js';
import { CONTRACT_STEP_MS, runForecasterContract } from './forecasterContract.js';

beforeAll(async () => {
  await selectBackend();
});

const weights = initGruModelWeights(
  { layout: featureLayout(['hourOfDay', 'dayOfWeek'], 30), units: 16, horizon: 6, quantiles: [0.1, 0.5, 0.9] },
  42,
  1,
);

for (const kernel of ['js', 'tf'] as const) {
  runForecasterContract(
    `GruForecaster (untrained, H=16, ${kernel} kernel)`,
    () => new GruForecaster({ name: 'gru', stepMs: CONTRACT_STEP_MS, horizon: 6, quantiles: [0.1, 0.5, 0.9], weights, kernel }),
    { numRuns: 30 },
  );
}
