import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, StreamcastError } from '../../../src/domain/errors.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { memberInit } from '../../../src/forecasting/gru/gruMembers.js';
import { buildDatasets } from '../../../src/training/datasetBuilder.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import { Trainer } from '../../../src/training/trainer.js';
import type { TrainProgress } from '../../../src/training/trainer.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';
import { contractBackends } from '../../helpers/computeBackends.js';
import { itWhen } from '../../helpers/describeWhen.js';
import { nativeInstalled } from '../../helpers/nativeInstalled.js';

function gpuPackageInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
    return true;
  } catch {
    return false;
  }
}

const layout = featureLayout(['hourOfDay'], 24);
const horizon = 8;
const quantiles = [0.1, 0.5, 0.9];

function request(epochs: number) {
  const h = new SeriesHistory({ stepMs: HOUR, capacity: 4096 });
  for (const s of ['a', 'b']) for (const st of seasonalSteps(s, { n: 1000, seed: s.charCodeAt(0) })) h.append(st);
  const { train, validation } = buildDatasets([...h.series()].map((s) => h.windowOf(s)!), { layout, horizon, context: 48, laneSteps: 96 });
  const init = initGruModelWeights({ layout, units: 16, horizon, quantiles }, 1);
  return { train, validation, init, current: init, options: { epochs, seed: 1, patience: 10 } };
}

// The thread-behaviour tests pin wasm; the backends themselves are covered below.
const trainer = new Trainer({ backend: 'wasm' });
afterAll(async () => {
  await trainer.close();
});

describe.each(contractBackends())('Trainer on %s', (backend) => {
  it('says which backend its worker chose, and trains there', async () => {
    const t = new Trainer({ backend });
    try {
      const choice = await t.backend();
      expect(choice.candidate).toBe(backend);
      expect(choice.name).toBe(backend);
      const out = await t.train(request(1));
      expect(out.status).toBe('done');
      if (out.status === 'done') expect(out.backend).toBe(backend);
    } finally {
      await t.close();
    }
  });
});

describe('Trainer backend choice', () => {
  itWhen('auto trains on the native backend where installed (CI: always), not silently on wasm', [nativeInstalled() ? undefined : 'the native backend is not installed; `npm run native:install` adds it'], async () => {
    const t = new Trainer();
    try {
      expect((await t.backend()).candidate).toBe('tensorflow');
    } finally {
      await t.close();
    }
  });

  it.skipIf(gpuPackageInstalled())('a named backend that is missing fails backend() and jobs with a ConfigError naming the fix', async () => {
    const t = new Trainer({ backend: 'tensorflow-gpu' });
    try {
      await expect(t.backend()).rejects.toThrow(ConfigError);
      await expect(t.backend()).rejects.toThrow(/npm run native:install -- --gpu/);
      await expect(t.train(request(1))).rejects.toThrow(/training failed: compute backend "tensorflow-gpu" is not available/);
    } finally {
      await t.close();
    }
  });
});

describe('Trainer (worker thread)', () => {
  it('trains in the worker while the main event loop keeps ticking, reporting progress', async () => {
    const req = request(3);
    let ticks = 0;
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const progress: TrainProgress[] = [];
    const started = performance.now();
    const out = await trainer.train(req, (p) => progress.push(p));
    const wall = performance.now() - started;
    clearInterval(timer);
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    // The datasets were transferred, not copied.
    expect(req.train.x.length).toBe(0);
    expect(req.init.cell.kernel.length).toBeGreaterThan(0);
    expect(out.backend).toBe('wasm');
    expect(out.epochs).toBe(3);
    expect(progress.filter((p) => p.report !== undefined).map((p) => p.report!.epoch)).toEqual([1, 2, 3]);
    expect(progress.some((p) => p.report === undefined && p.fraction > 0 && p.fraction < 1)).toBe(true);
    expect(out.valLoss!).toBeLessThan(out.initialValLoss!);
    // Fine-tuning the model in service: its loss is the loop's initial one, not a second pass.
    expect(out.currentValLoss).toBe(out.initialValLoss);
    expect(out.weights.cell.kernel).toBeInstanceOf(Float32Array);
    // Training took a while, yet the main thread ran its timer throughout.
    // Blocking training would show one gap as long as the whole job (~1 s here).
    expect(wall).toBeGreaterThan(600);
    expect(ticks).toBeGreaterThan(wall / 5 / 4);
    expect(maxGap).toBeLessThan(250);
  });

  it('trains the second member of a model on a helper thread when given two threads, to the same weights', async () => {
    const two = memberInit(undefined, { layout, units: 8, horizon, quantiles }, 2, 1);
    // A job's datasets are transferred to the worker: each job builds its own.
    const job = (threads: number) => ({ ...request(2), init: two, current: two, memberUnits: 8, threads });
    const one = await trainer.train(job(1));
    const parallel = await trainer.train(job(2));
    if (one.status !== 'done' || parallel.status !== 'done') throw new Error('cancelled');
    expect(parallel.kernel).toBe('js');
    expect([one.membersElsewhere, parallel.membersElsewhere]).toEqual([0, 1]);
    expect(Array.from(parallel.weights.cell.recurrentKernel)).toEqual(Array.from(one.weights.cell.recurrentKernel));
    expect(Array.from(parallel.weights.head.kernel)).toEqual(Array.from(one.weights.head.kernel));
    expect([parallel.valLoss, parallel.epochs]).toEqual([one.valLoss, one.epochs]);
  });

  it('cancels a parallel job too, then runs the next one', async () => {
    const big = request(50);
    const two = memberInit(undefined, { layout, units: 8, horizon, quantiles }, 2, 1);
    const running = trainer.train({ ...big, init: two, current: two, memberUnits: 8, threads: 2 });
    await new Promise((r) => setTimeout(r, 300));
    trainer.cancel();
    expect((await running).status).toBe('cancelled');
    expect((await trainer.train(request(1))).status).toBe('done');
  });

  it('cancels a running job, then runs the next one on the same worker', async () => {
    let cancelled = false;
    const out = await trainer.train(request(50), (p) => {
      if (!cancelled && p.fraction > 0) {
        cancelled = true;
        trainer.cancel();
      }
    });
    expect(out.status).toBe('cancelled');
    await expect(Promise.all([trainer.train(request(1)), trainer.train(request(1))])).rejects.toThrow(/already running/);
    // Let the first of the two finish before the next test.
    while (trainer.busy) await new Promise((r) => setTimeout(r, 20));
    const again = await trainer.train(request(1));
    expect(again.status).toBe('done');
  });

  it('close() ends a running job as cancelled, is idempotent, and refuses later jobs', async () => {
    const t = new Trainer();
    const job = t.train(request(50));
    await new Promise((r) => setTimeout(r, 500));
    await t.close();
    await t.close();
    await expect(job).resolves.toMatchObject({ status: 'cancelled' });
    await expect(t.train(request(1))).rejects.toBeInstanceOf(StreamcastError);
  });
});
