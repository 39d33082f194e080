import { describe, expect, it } from 'vitest';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { memberInit, splitGruMembers } from '../../../src/forecasting/gru/gruMembers.js';
import { buildDatasets } from '../../../src/training/datasetBuilder.js';
import { weightsLoss } from '../../../src/training/evaluateLoss.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import { trainLoop } from '../../../src/training/trainLoop.js';
import { trainMembers, type EvaluateModel } from '../../../src/training/trainMembers.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';

const layout = featureLayout(['hourOfDay'], 24);
const horizon = 6;
const quantiles = [0.1, 0.5, 0.9];
const dims = { layout, units: 6, horizon, quantiles };

function datasets() {
  const h = new SeriesHistory({ stepMs: HOUR, capacity: 4096 });
  for (const s of ['a', 'b', 'c']) for (const st of seasonalSteps(s, { n: 500, noise: 2, seed: s.charCodeAt(0) })) h.append(st);
  return buildDatasets([...h.series()].map((s) => h.windowOf(s)!), { layout, horizon, context: 48, valFraction: 0.2 });
}

describe('trainMembers', () => {
  it('trains each member on its own from seed + k and reports the merged model\'s held-out loss', async () => {
    const { train, validation } = datasets();
    const init = memberInit(undefined, dims, 2, 1);
    expect(init.cell.units).toBe(12);
    const evaluate: EvaluateModel = (w) => weightsLoss(w, validation);
    const opts = { epochs: 3, seed: 1, learningRate: 1e-2 };
    const out = await trainMembers(train, validation, init, opts, {}, dims.units, evaluate);
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    expect(out.weights.cell.units).toBe(12);
    // Each member is what trainLoop makes of it alone, with its own seed.
    const [m0, m1] = splitGruMembers(init, dims.units);
    const alone0 = await trainLoop(train, validation, m0!, opts);
    const alone1 = await trainLoop(train, validation, m1!, { ...opts, seed: 2 });
    if (alone0.status !== 'done' || alone1.status !== 'done') throw new Error('trainLoop cancelled');
    const [t0, t1] = splitGruMembers(out.weights, dims.units);
    expect(Array.from(t0!.cell.recurrentKernel)).toEqual(Array.from(alone0.weights.cell.recurrentKernel));
    expect(Array.from(t1!.cell.recurrentKernel)).toEqual(Array.from(alone1.weights.cell.recurrentKernel));
    expect(out.epochs).toBe(alone0.epochs + alone1.epochs);
    expect(out.valLoss).toBeCloseTo((await weightsLoss(out.weights, validation))!, 6);
    expect(out.initialValLoss).toBeCloseTo((await weightsLoss(init, validation))!, 6);
    expect(out.valLoss!).toBeLessThan(out.initialValLoss!);
  });

  it('members trained elsewhere give the outcome of training them here; a failure elsewhere fails the job', async () => {
    const { train, validation } = datasets();
    const init = memberInit(undefined, dims, 3, 1);
    const evaluate: EvaluateModel = (w) => weightsLoss(w, validation);
    const opts = { epochs: 2, seed: 1, learningRate: 1e-2 };
    const here = await trainMembers(train, validation, init, opts, {}, dims.units, evaluate);
    const asked: number[] = [];
    // Member 1 elsewhere (as a helper thread would: trainLoop on its own init and options), member 2 here.
    const away = await trainMembers(train, validation, init, opts, {}, dims.units, evaluate, (k, memberInit, o) => {
      asked.push(k, o.seed);
      return k === 1 ? trainLoop(train, validation, memberInit, o) : undefined;
    });
    expect(asked).toEqual([1, 2, 2, 3]);
    if (here.status !== 'done' || away.status !== 'done') throw new Error('cancelled');
    expect(Array.from(away.weights.cell.recurrentKernel)).toEqual(Array.from(here.weights.cell.recurrentKernel));
    expect(Array.from(away.weights.head.kernel)).toEqual(Array.from(here.weights.head.kernel));
    expect([away.valLoss, away.bestEpoch, away.epochs, away.history]).toEqual([here.valLoss, here.bestEpoch, here.epochs, here.history]);
    await expect(trainMembers(train, validation, init, opts, {}, dims.units, evaluate, (k) => (k === 2 ? Promise.reject(new Error('thread died')) : undefined))).rejects.toThrow('thread died');
  });

  it('one member is trainLoop itself; a cancel during a member or the merged evaluation is a cancel', async () => {
    const { train, validation } = datasets();
    const one = initGruModelWeights(dims, 3);
    const opts = { epochs: 2, seed: 1, learningRate: 1e-2 };
    const evaluate: EvaluateModel = (w) => weightsLoss(w, validation);
    const a = await trainMembers(train, validation, one, opts, {}, dims.units, evaluate);
    const b = await trainLoop(train, validation, one, opts);
    if (a.status !== 'done' || b.status !== 'done') throw new Error('cancelled');
    expect(a.valLoss).toBe(b.valLoss);
    const two = memberInit(undefined, dims, 2, 1);
    let polls = 0;
    // Cancelled while the members train.
    const cancelled = await trainMembers(train, validation, two, opts, { shouldCancel: () => ++polls > 30 }, dims.units, evaluate);
    expect(cancelled.status).toBe('cancelled');
    const atEvaluation = await trainMembers(train, validation, two, opts, {}, dims.units, async () => 'cancelled');
    expect(atEvaluation.status).toBe('cancelled');
  });

  it('memberInit keeps the members in service and starts the missing ones from seed + k', () => {
    const single = initGruModelWeights(dims, 5, 4);
    const padded = memberInit(single, dims, 2, 9);
    const [kept, fresh] = splitGruMembers(padded, dims.units);
    expect(Array.from(kept!.cell.kernel)).toEqual(Array.from(single.cell.kernel));
    expect(Array.from(fresh!.cell.kernel)).toEqual(Array.from(initGruModelWeights(dims, 10).cell.kernel));
    expect(padded.version).toBe(4);
    // A fresh model: member 0 is the single model's init from the same seed.
    const [first] = splitGruMembers(memberInit(undefined, dims, 3, 9), dims.units);
    expect(Array.from(first!.cell.kernel)).toEqual(Array.from(initGruModelWeights(dims, 9).cell.kernel));
    // Fewer members asked for than in service: the first ones.
    expect(memberInit(padded, dims, 1, 9).cell.units).toBe(dims.units);
  });
});
