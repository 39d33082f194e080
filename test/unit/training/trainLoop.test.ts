import { beforeAll, describe, expect, it } from 'vitest';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { buildDatasets } from '../../../src/training/datasetBuilder.js';
import { baselineLoss, weightsLoss } from '../../../src/training/evaluateLoss.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import type { EpochReport } from '../../../src/training/trainLoop.js';
import { trainLoop } from '../../../src/training/trainLoop.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';
import { contractBackends, useBackend } from '../../helpers/computeBackends.js';

const layout = featureLayout(['hourOfDay'], 24);
const horizon = 6;
const quantiles = [0.1, 0.5, 0.9];

function windows() {
  const h = new SeriesHistory({ stepMs: HOUR, capacity: 4096 });
  for (const s of ['a', 'b', 'c']) for (const st of seasonalSteps(s, { n: 800, noise: 2, seed: s.charCodeAt(0) })) h.append(st);
  return [...h.series()].map((s) => h.windowOf(s)!);
}

describe.each(contractBackends())('trainLoop on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('learns a noisy daily cycle: loss falls and beats seasonal naive and last value on the held-out tail', async () => {
    const ws = windows();
    const { train, validation } = buildDatasets(ws, { layout, horizon, context: 48, valFraction: 0.2 });
    const reports: EpochReport[] = [];
    const out = await trainLoop(train, validation, initGruModelWeights({ layout, units: 16, horizon, quantiles }, 1), { epochs: 6, seed: 1, learningRate: 1e-2 }, { onEpoch: (r) => reports.push(r) });
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    expect(reports.length).toBe(out.epochs);
    expect(reports.at(-1)!.trainLoss).toBeLessThan(reports[0]!.trainLoss);
    expect(out.valLoss!).toBeLessThan(0.5 * out.initialValLoss!);
    const seasonal = baselineLoss(ws, { horizon, quantiles, valFraction: 0.2, seasonSteps: 24 })!;
    const last = baselineLoss(ws, { horizon, quantiles, valFraction: 0.2, seasonSteps: 1 })!;
    expect(seasonal).toBeLessThan(last);
    expect(out.valLoss!).toBeLessThan(seasonal);
    // The reported loss is the returned weights' loss on the same cells.
    expect(await weightsLoss(out.weights, validation)).toBeCloseTo(out.valLoss!, 5);
  });

  it('stops early when validation stops improving and returns the best epoch', async () => {
    const ws = windows();
    const { train, validation } = buildDatasets(ws, { layout, horizon, context: 48, valFraction: 0.2 });
    // A huge step size makes later epochs worse than the first.
    const out = await trainLoop(train, validation, initGruModelWeights({ layout, units: 8, horizon, quantiles }, 2), { epochs: 20, seed: 1, learningRate: 0.3, clipNorm: 100, patience: 2 });
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    expect(out.epochs).toBeLessThan(20);
    const best = Math.min(...out.history.map((r) => r.valLoss!), out.initialValLoss!);
    // The best epoch's, or a mean of epochs around it that beats it on the same cells.
    if (out.averaged === 1) expect(out.valLoss).toBe(best);
    else expect(out.valLoss!).toBeLessThan(best);
    expect(out.epochs - out.bestEpoch).toBe(2);
  });

  it('keeps the mean of consecutive epochs\' weights only where it beats the best epoch on the held-out cells', async () => {
    const ws = windows();
    const { train, validation } = buildDatasets(ws, { layout, horizon, context: 48, valFraction: 0.2 });
    const run = (averageEpochs: number) => trainLoop(train, validation, initGruModelWeights({ layout, units: 16, horizon, quantiles }, 3), { epochs: 6, seed: 2, learningRate: 3e-2, averageEpochs });
    const plain = await run(1);
    const averaged = await run(3);
    if (plain.status !== 'done' || averaged.status !== 'done') throw new Error('not done');
    expect(plain.averaged).toBe(1);
    // Same seed, same epochs: only the choice at the end differs.
    expect(averaged.history).toEqual(plain.history);
    expect(averaged.bestEpoch).toBe(plain.bestEpoch);
    expect(averaged.averaged).toBeGreaterThan(1);
    expect(averaged.valLoss!).toBeLessThan(plain.valLoss!);
    expect(await weightsLoss(averaged.weights, validation)).toBeCloseTo(averaged.valLoss!, 5);
    expect(await weightsLoss(plain.weights, validation)).toBeCloseTo(plain.valLoss!, 5);
  });

  it('can be cancelled between chunks', async () => {
    const { train, validation } = buildDatasets(windows(), { layout, horizon, context: 48, valFraction: 0.2 });
    let polls = 0;
    const out = await trainLoop(train, validation, initGruModelWeights({ layout, units: 8, horizon, quantiles }, 2), { epochs: 5, seed: 1 }, { shouldCancel: () => ++polls >= 3 });
    expect(out).toMatchObject({ status: 'cancelled', epochs: 0 });
    expect(polls).toBe(3);
  });

  it('can be cancelled while it scores the means of epochs after the last one', async () => {
    const { train, validation } = buildDatasets(windows(), { layout, horizon, context: 48, valFraction: 0.2 });
    let last = false;
    let pausesAfter = 0;
    const out = await trainLoop(
      train,
      validation,
      initGruModelWeights({ layout, units: 8, horizon, quantiles }, 2),
      { epochs: 3, seed: 1, learningRate: 1e-2, patience: 10 },
      {
        onEpoch: (r) => (last = r.epoch === r.epochs),
        pause: async () => {
          if (last) pausesAfter++;
        },
        shouldCancel: () => last && pausesAfter > 0,
      },
    );
    // One mean was being scored (the pauses after the last epoch), then the cancel was heard.
    expect(pausesAfter).toBeGreaterThan(0);
    expect(out).toMatchObject({ status: 'cancelled', epochs: 3 });
  });
});
