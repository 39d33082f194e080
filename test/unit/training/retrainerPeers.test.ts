import { describe, expect, it, vi } from 'vitest';
import { StreamcastError } from '../../../src/domain/errors.js';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import type { SeriesWindow } from '../../../src/state/seriesWindow.js';
import { createModelLifecycle } from '../../../src/training/modelLifecycle.js';
import { mergePeerWindows } from '../../../src/training/peerWindows.js';
import type { PeerWindowSource, PeerWindowsRequest } from '../../../src/training/peerWindows.js';
import type { TrainerLike, TrainRequest } from '../../../src/training/trainer.js';
import { runtimeSpec } from '../../helpers/runtimeSpec.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';

/**
 * The Retrainer with a source of the other instances' windows (RetrainerOptions.peerWindows):
 * what it merges, what it reports and logs, and that a failed or abandoned read never fails a
 * retrain. The Kafka source itself: test/unit/runtime/peerHistory.test.ts.
 */

const spec = runtimeSpec();

function windowsOf(...series: NormalizedStep[][]): SeriesWindow[] {
  const h = new SeriesHistory({ stepMs: HOUR, capacity: 1000 });
  for (const steps of series) for (const s of steps) h.append(s);
  return [...h.series()].flatMap((id) => h.segmentsOf(id));
}

function fakeTrainer(): { factory: () => TrainerLike; requests: TrainRequest[] } {
  const requests: TrainRequest[] = [];
  const trainer: TrainerLike = {
    train: async (req) => {
      requests.push(req);
      return { status: 'done', weights: req.init, valLoss: 0.001, initialValLoss: 1, currentValLoss: undefined, bestEpoch: 1, epochs: 1, history: [], durationMs: 1, backend: 'fake' };
    },
    cancel: () => undefined,
    close: async () => undefined,
  };
  return { factory: () => trainer, requests };
}

function logger() {
  return { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}

const own = seasonalSteps('own', { n: 300, seed: 1 });
const peerB = seasonalSteps('peer-b', { n: 150, seed: 2 });
const peerC = seasonalSteps('peer-c', { n: 80, seed: 3 });

describe('mergePeerWindows', () => {
  it('own windows first; peer windows of series held here, or under 2 steps, are left out; counts by origin', () => {
    const mine = windowsOf(own);
    const theirs = windowsOf(peerB, peerC, own.slice(0, 100), seasonalSteps('one-step', { n: 1 }));
    const merged = mergePeerWindows(mine, { windows: theirs, series: 4, sampledOut: 0, skipped: 0 });
    expect(merged.windows.map((w) => w.series)).toEqual(['own', 'peer-b', 'peer-c']);
    expect(merged.own).toEqual({ series: 1, steps: 300 });
    expect(merged.peer).toEqual({ series: 2, steps: 230 });
    expect(merged.windows[0]).toBe(mine[0]);
    expect(mergePeerWindows(mine, undefined)).toMatchObject({ own: { series: 1, steps: 300 }, peer: { series: 0, steps: 0 } });
  });
});

describe('Retrainer with peer windows', () => {
  it('trains on its own and the peers\' series, and reports and logs how many of each', async () => {
    const asked: PeerWindowsRequest[] = [];
    const source: PeerWindowSource = async (req) => {
      asked.push(req);
      return { windows: windowsOf(peerB, peerC), series: 2, sampledOut: 3, skipped: 1 };
    };
    const run = async (peerWindows?: PeerWindowSource) => {
      const fake = fakeTrainer();
      const log = logger();
      const { runtime, retrainer } = createModelLifecycle(spec, { retrain: 'off', trainer: fake.factory, logger: log, ...(peerWindows !== undefined ? { peerWindows } : {}) });
      runtime.step(own);
      const report = await retrainer.retrainNow();
      await runtime.close();
      return { report, request: fake.requests[0]!, log };
    };
    const alone = await run();
    const withPeers = await run(source);
    expect(asked).toHaveLength(1);
    expect(asked[0]!.capacity).toBeGreaterThanOrEqual(300);
    expect(asked[0]!.signal.aborted).toBe(false);
    expect(alone.report).toMatchObject({ outcome: 'promoted', own: { series: 1, steps: 300 }, peer: { series: 0, steps: 0 } });
    expect(withPeers.report).toMatchObject({ outcome: 'promoted', own: { series: 1, steps: 300 }, peer: { series: 2, steps: 230 } });
    // The peers' series are in the datasets: more lanes, more cells, training and held out.
    expect(withPeers.request.train.lanes).toBeGreaterThan(alone.request.train.lanes);
    expect(withPeers.request.train.cells).toBeGreaterThan(alone.request.train.cells);
    expect(withPeers.request.validation.cells).toBeGreaterThan(alone.request.validation.cells);
    const promotedLine = withPeers.log.info.mock.calls.find((c) => String(c[1]).includes('promoted'))!;
    expect(promotedLine[0]).toMatchObject({ ownSeries: 1, ownSteps: 300, peerSeries: 2, peerSteps: 230, peerSampledOut: 3, peerSkipped: 1 });
    const aloneLine = alone.log.info.mock.calls.find((c) => String(c[1]).includes('promoted'))!;
    expect(aloneLine[0]).toMatchObject({ ownSeries: 1, ownSteps: 300 });
    expect(aloneLine[0]).not.toHaveProperty('peerSeries');
  });

  it('chooses the residual base on its own series only: short peer tails would change which cells each candidate base is scored on', async () => {
    // Smooth peers: the last value is nearly right for them, and their 20-step tails are shorter
    // than a daily season. Chosen on all windows, the base came out seasonal:168 here (a weekly
    // lag no peer tail reaches), not the daily one the own series calls for.
    const smooth = Array.from({ length: 60 }, (_, i) => seasonalSteps(`smooth-${i}`, { n: 400, period: 2000, amplitude: 50, noise: 0.001, seed: 10 + i }).slice(-20));
    const run = async (peerWindows?: PeerWindowSource) => {
      const { runtime, retrainer } = createModelLifecycle(spec, { retrain: 'off', trainer: fakeTrainer().factory, ...(peerWindows !== undefined ? { peerWindows } : {}) });
      runtime.step(own);
      const report = await retrainer.retrainNow();
      await runtime.close();
      return report;
    };
    const alone = await run();
    const withPeers = await run(async () => ({ windows: windowsOf(...smooth), series: smooth.length, sampledOut: 0, skipped: 0 }));
    expect(alone.base).toBe('seasonal:24');
    expect(withPeers.peer?.series).toBe(60);
    expect(withPeers.base).toBe(alone.base);
  });

  it('a failed read costs only the peers\' windows: a warning, and the retrain goes on with its own history', async () => {
    const fake = fakeTrainer();
    const log = logger();
    const { runtime, retrainer } = createModelLifecycle(spec, {
      retrain: 'off',
      trainer: fake.factory,
      logger: log,
      peerWindows: async () => {
        throw new StreamcastError('retriable', 'broker away');
      },
    });
    runtime.step(own);
    const report = await retrainer.retrainNow();
    await runtime.close();
    expect(report).toMatchObject({ outcome: 'promoted', own: { series: 1, steps: 300 }, peer: { series: 0, steps: 0 } });
    // One retrain: a first model on a seasonal base, trained with and without base columns.
    expect(fake.requests.map((r) => r.init.layout.baseOffsets !== undefined)).toEqual([true, false]);
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(String(log.warn.mock.calls[0]![1])).toMatch(/broker away.*own history only/);
    expect(retrainer.trainingRuns).toEqual({ promoted: 1, rejected: 0, failed: 0 });
  });

  it('retraining turned off during the read stops it (its signal aborts) and the retrain is dropped, without a warning', async () => {
    const fake = fakeTrainer();
    const log = logger();
    let signal: AbortSignal | undefined;
    const { runtime, retrainer } = createModelLifecycle(spec, {
      retrain: 'background',
      trainer: fake.factory,
      logger: log,
      peerWindows: (req) => {
        signal = req.signal;
        return new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason), { once: true }));
      },
    });
    runtime.step(own.slice(0, 250)); // a scheduled retrain starts: the read is under way
    await vi.waitFor(() => expect(signal).toBeDefined());
    retrainer.setRetrain('off');
    expect(signal!.aborted).toBe(true);
    await runtime.close();
    expect(fake.requests).toHaveLength(0);
    expect(log.warn).not.toHaveBeenCalled();
    expect(retrainer.trainingRuns).toEqual({ promoted: 0, rejected: 0, failed: 0 });
  });

  it('close() stops a read in progress (shutdown does not wait for the peers)', async () => {
    let signal: AbortSignal | undefined;
    const { runtime } = createModelLifecycle(spec, {
      retrain: 'background',
      trainer: fakeTrainer().factory,
      peerWindows: (req) => {
        signal = req.signal;
        return new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason), { once: true }));
      },
    });
    runtime.step(own.slice(0, 250));
    await vi.waitFor(() => expect(signal).toBeDefined());
    await runtime.close();
    expect(signal!.aborted).toBe(true);
  });
});
