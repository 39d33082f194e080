import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import { StreamcastError } from '../../../src/domain/errors.js';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { GruForecaster } from '../../../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import type { GruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import type { ResidualBase } from '../../../src/forecasting/gru/residualBase.js';
import { ModelRuntime } from '../../../src/forecasting/modelRuntime.js';
import type { TrainerLike } from '../../../src/forecasting/modelRuntime.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { ArtifactStore } from '../../../src/training/artifactStore.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import { Trainer } from '../../../src/training/trainer.js';
import type { TrainRequest, TrainResult } from '../../../src/training/trainer.js';
import { runtimeSpec } from '../../helpers/runtimeSpec.js';
import { seasonalSteps } from '../../helpers/trainingSeries.js';

const spec = runtimeSpec();
const CONTEXT = spec.model.context;

function weights(seed: number, base?: ResidualBase, version = 0): GruModelWeights {
  const layout = featureLayout(['hourOfDay'], 6, undefined, base);
  return initGruModelWeights({ layout, units: 8, horizon: 4, quantiles: [0.1, 0.5, 0.9] }, seed, version);
}

/** A trainer that returns fixed weights and losses at once, recording what it was asked. */
function fakeTrainer(answer: (req: TrainRequest) => Partial<TrainResult>): { factory: () => TrainerLike; requests: TrainRequest[]; closed: () => number } {
  const requests: TrainRequest[] = [];
  let closed = 0;
  const trainer: TrainerLike = {
    train: async (req) => {
      requests.push(req);
      return { status: 'done', weights: req.init, valLoss: 0.01, initialValLoss: 1, currentValLoss: undefined, bestEpoch: 1, epochs: 1, history: [], durationMs: 1, backend: 'fake', ...answer(req) };
    },
    cancel: () => undefined,
    close: async () => {
      closed++;
    },
  };
  return { factory: () => trainer, requests, closed: () => closed };
}

async function feed(rt: ModelRuntime, steps: readonly NormalizedStep[], batch = 37) {
  const out = [];
  for (let i = 0; i < steps.length; i += batch) out.push(...(await rt.stepAsync(steps.slice(i, i + batch))));
  return out;
}

const series = seasonalSteps('a', { n: 400, seed: 3 });

describe('ModelRuntime', () => {
  it('serves the baseline until a model is promoted, then the GRU (fine-tuning it on later retrains)', async () => {
    const events: PipelineEvent[] = [];
    const fake = fakeTrainer((req) => ({ weights: weights(5, req.init.layout.base) }));
    const rt = new ModelRuntime({ spec, retrain: 'blocking', trainer: fake.factory, events: (e) => events.push(e) });
    const out = await feed(rt, series);
    // The first retrain is triggered at the 200th step, so the 201st is served by the GRU.
    expect(out.slice(0, 200).every((f) => f.model.kind === 'baseline')).toBe(true);
    expect(out[200]!.model).toEqual({ name: 'rt', version: 1, kind: 'gru' });
    expect(out.at(-1)!.model.kind).toBe('gru');
    expect(rt.info.kind).toBe('gru');
    // Retrains every 2 days of event time: at steps 200, 248, 296, 344, 392.
    expect(fake.requests).toHaveLength(5);
    expect(fake.requests[0]!.current).toBeUndefined();
    expect(fake.requests[1]!.current).toBeDefined();
    expect(events.filter((e) => e.type === 'training_run').map((e) => (e as { outcome: string }).outcome)).toEqual(Array(5).fill('promoted'));
    for (const f of out) for (const h of f.forecast) expect(Number.isFinite(h.mean)).toBe(true);
    await rt.close();
    expect(fake.closed()).toBe(1);
  });

  it('gives the same forecasts however the stream is cut into batches', async () => {
    const run = async (batch: number) => {
      const rt = new ModelRuntime({ spec, retrain: 'blocking', trainer: fakeTrainer((req) => ({ weights: weights(5, req.init.layout.base) })).factory });
      const out = await feed(rt, series, batch);
      await rt.close();
      return out;
    };
    expect(await run(400)).toEqual(await run(7));
  });

  it('calibrates the GRU online from the stream once promoted (calibrate: false serves the head as is)', async () => {
    const run = async (calibrate: boolean) => {
      const custom = runtimeSpec({ every: '30d', minHistory: 200 });
      const rt = new ModelRuntime({ spec: custom, retrain: 'blocking', calibrate, trainer: fakeTrainer((req) => ({ weights: weights(5, req.init.layout.base) })).factory });
      const out = await feed(rt, series);
      await rt.close();
      return out;
    };
    const on = await run(true);
    const off = await run(false);
    const gruOn = on.slice(201);
    const gruOff = off.slice(201);
    expect(gruOn.every((f) => f.model.kind === 'gru')).toBe(true);
    // Same model, same hidden states: only the calibration differs (spreads at once, centres after 100 cells).
    expect(gruOn.map((f) => f.forecast[0]!.q['0.9'])).not.toEqual(gruOff.map((f) => f.forecast[0]!.q['0.9']));
    expect(gruOn.slice(-50).map((f) => f.forecast[0]!.mean)).not.toEqual(gruOff.slice(-50).map((f) => f.forecast[0]!.mean));
    expect(on.slice(0, 201)).toEqual(off.slice(0, 201));
    for (const f of gruOn) {
      for (const h of f.forecast) {
        expect(Number.isFinite(h.mean) && Number.isFinite(h.q['0.1']!) && Number.isFinite(h.q['0.9']!)).toBe(true);
        expect(h.q['0.1']!).toBeLessThanOrEqual(h.q['0.5']!);
        expect(h.q['0.5']!).toBeLessThanOrEqual(h.q['0.9']!);
      }
    }
  });

  it('checkpoints a history tail (context + season), not the whole training history, unless asked to', async () => {
    const w = weights(3, { kind: 'seasonal', steps: 24 }, 1);
    const tailRt = new ModelRuntime({ spec, initial: w, historySteps: 400 });
    const allRt = new ModelRuntime({ spec, initial: w, historySteps: 400, snapshotHistorySteps: 'all' });
    await feed(tailRt, series);
    await feed(allRt, series);
    const tail = tailRt.snapshot('a')!;
    const all = allRt.snapshot('a')!;
    // History format 2: 48 header bytes + 5.125 per step.
    expect(all.byteLength - tail.byteLength).toBeGreaterThan((400 - (CONTEXT + 24 + 1)) * 5);
    // Restored from the tail, the series is served by the GRU at once, exactly as from the whole history.
    const next = seasonalSteps('a', { n: 401, seed: 3 }).slice(400);
    const fromTail = new ModelRuntime({ spec, initial: w, historySteps: 400 });
    const fromAll = new ModelRuntime({ spec, initial: w, historySteps: 400 });
    await feed(fromTail, []);
    fromTail.step([]);
    fromAll.step([]);
    fromTail.restore('a', tail);
    fromAll.restore('a', all);
    const [a] = fromTail.step(next);
    const [b] = fromAll.step(next);
    expect(a!.model.kind).toBe('gru');
    expect(a!.forecast).toEqual(b!.forecast);
    for (const r of [tailRt, allRt, fromTail, fromAll]) await r.close();
  });

  it('rejects a candidate that does not beat the baseline, and counts it', async () => {
    const events: PipelineEvent[] = [];
    const fake = fakeTrainer(() => ({ valLoss: 1e6 }));
    const rt = new ModelRuntime({ spec, retrain: 'blocking', trainer: fake.factory, events: (e) => events.push(e) });
    const out = await feed(rt, series);
    expect(out.every((f) => f.model.kind === 'baseline')).toBe(true);
    expect(rt.trainingRuns).toEqual({ promoted: 0, rejected: 5, failed: 0 });
    expect(events.some((e) => e.type === 'training_run' && e.outcome === 'rejected')).toBe(true);
    await rt.close();
  });

  it('rejects a candidate that does not beat the model in service (mustBeat: both)', async () => {
    const fake = fakeTrainer((req) => ({ valLoss: 0.01, currentValLoss: req.current ? 0.005 : undefined }));
    const rt = new ModelRuntime({ spec, retrain: 'blocking', trainer: fake.factory });
    await feed(rt, series);
    expect(rt.trainingRuns).toEqual({ promoted: 1, rejected: 4, failed: 0 });
    expect(rt.info.version).toBe(1);
    await rt.close();
  });

  for (const base of [{ kind: 'none' }, { kind: 'last-value' }, { kind: 'seasonal', steps: 24 }] as const) {
    it(`re-warms a series lazily under new weights as if they had stepped its history (base ${base.kind})`, async () => {
      const w1 = weights(1, base, 1);
      const w2 = weights(2, base);
      const fake = fakeTrainer(() => ({ weights: w2 }));
      // Retrains once, at step 300 (minHistory), with nothing before it but w1 serving.
      const custom = runtimeSpec({ every: '30d', minHistory: 300 });
      const rt = new ModelRuntime({ spec: custom, retrain: 'blocking', trainer: fake.factory, initial: w1, historySteps: 400, calibrate: false });
      const out = await feed(rt, series.slice(0, 301));
      expect(out[299]!.model.version).toBe(1);
      expect(out[300]!.model.version).toBe(2);
      const got = out[300]!;

      // Reference: a fresh GRU with w2 stepped over the last context steps before step 300, as the
      // history holds them (float16 z), then step 300 itself.
      const h = new SeriesHistory({ stepMs: 3_600_000, capacity: 400 });
      for (const s of series.slice(0, 300)) h.append(s);
      const past = h.stepsOf('a');
      const m = base.kind === 'seasonal' ? base.steps : 0;
      const view = (s: NormalizedStep, lagged: number): NormalizedStep =>
        base.kind === 'seasonal' ? { ...s, value: s.value - lagged, z: (s.value - lagged) / s.scale.std, scale: { mean: 0, std: s.scale.std } } : base.kind === 'last-value' ? { ...s, scale: { mean: s.value, std: s.scale.std } } : s;
      const warm = past.slice(-CONTEXT).map((s, k) => ({ ...view(s, past[past.length - CONTEXT + k - m]?.value ?? Number.NaN), reset: k === 0 }));
      const ref = new GruForecaster({ name: 'rt', stepMs: 3_600_000, horizon: 4, quantiles: [0.1, 0.5, 0.9], weights: { ...w2, version: 2 } });
      ref.step(warm);
      const cur = series[300]!;
      const [want] = ref.step([view(cur, series[300 - m]!.value)]);
      for (let k = 0; k < 4; k++) {
        const offset = m > 0 ? series[300 + k + 1 - m]!.value : 0;
        expect(got.forecast[k]!.mean).toBeCloseTo(want!.forecast[k]!.mean + offset, 6);
        expect(got.forecast[k]!.q['0.9']).toBeCloseTo(want!.forecast[k]!.q['0.9']! + offset, 6);
      }
      // Without the re-warm (h₀ = 0 at step 300) the forecast is different: the test can fail.
      const cold = new GruForecaster({ name: 'rt', stepMs: 3_600_000, horizon: 4, quantiles: [0.1, 0.5, 0.9], weights: { ...w2, version: 2 } });
      const [coldF] = cold.step([{ ...view(cur, series[300 - m]!.value), reset: true }]);
      expect(Math.abs(coldF!.forecast[0]!.mean - want!.forecast[0]!.mean)).toBeGreaterThan(1e-4);
      await rt.close();
    });
  }

  it('stateless mode resets the hidden state at every step', async () => {
    const w = weights(1, { kind: 'last-value' }, 1);
    const a = new ModelRuntime({ spec, initial: w });
    const b = new ModelRuntime({ spec, initial: w, stateless: true });
    const fa = await feed(a, series.slice(0, 50));
    const fb = await feed(b, series.slice(0, 50));
    expect(fa[0]).toEqual(fb[0]);
    expect(fa[49]!.forecast[0]!.mean).not.toBeCloseTo(fb[49]!.forecast[0]!.mean, 6);
  });

  it('close() cancels a running retrain and terminates the trainer worker; idempotent', async () => {
    let trainer: Trainer | undefined;
    const rt = new ModelRuntime({
      spec: runtimeSpec({ every: '30d', epochs: 500 }),
      retrain: 'background',
      trainer: () => (trainer = new Trainer()),
    });
    rt.step(series.slice(0, 250));
    // The background retrain is under way (the worker starts lazily).
    await vi.waitFor(() => expect(trainer?.busy).toBe(true), { timeout: 20_000 });
    const started = performance.now();
    const closing = rt.close();
    expect(rt.close()).toBe(closing);
    await closing;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(trainer!.busy).toBe(false);
    await expect(trainer!.train({} as TrainRequest)).rejects.toBeInstanceOf(StreamcastError);
    expect(rt.info.kind).toBe('baseline');
  });

  describe('artifacts', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'streamcast-rt-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('a corrupt current artifact is logged and the baseline stays in service', async () => {
      mkdirSync(path.join(dir, 'bad', 'rt', '1'), { recursive: true });
      writeFileSync(path.join(dir, 'bad', 'rt', 'current'), '{"version": 1}\n');
      writeFileSync(path.join(dir, 'bad', 'rt', '1', 'meta.json'), '{ not json');
      const warn = vi.fn();
      const logger = { debug: vi.fn(), info: vi.fn(), warn, error: vi.fn() };
      const rt = new ModelRuntime({ spec, store: new ArtifactStore(path.join(dir, 'bad'), new ManualClock(0)), logger });
      await rt.pendingWork();
      expect(warn).toHaveBeenCalledTimes(1);
      const out = await feed(rt, series.slice(0, 10));
      expect(out.every((f) => f.model.kind === 'baseline')).toBe(true);
      await rt.close();
    });

    it('persists promoted models and serves the current one at the next start', async () => {
      const store = new ArtifactStore(path.join(dir, 'good'), new ManualClock(0));
      const fake = fakeTrainer((req) => ({ weights: weights(5, req.init.layout.base) }));
      const rt = new ModelRuntime({ spec, retrain: 'blocking', trainer: fake.factory, store, base: { kind: 'last-value' } });
      const first = await feed(rt, series.slice(0, 260));
      await rt.close();
      expect(first.at(-1)!.model).toEqual({ name: 'rt', version: 2, kind: 'gru' });
      expect(await store.currentVersion('rt')).toBe(2);
      const again = new ModelRuntime({ spec, store });
      await again.pendingWork();
      const [f] = await feed(again, series.slice(0, 1));
      expect(f!.model).toEqual({ name: 'rt', version: 2, kind: 'gru' });
      await again.close();
    });
  });
});
