import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import { StreamcastError } from '../../../src/domain/errors.js';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { featureLayout, type FeatureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { GruForecaster } from '../../../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import type { GruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import type { ResidualBase } from '../../../src/forecasting/gru/residualBase.js';
import { baseName } from '../../../src/forecasting/gru/residualBase.js';
import { ChangeScales } from '../../../src/forecasting/gru/changeScale.js';
import type { Forecaster } from '../../../src/forecasting/forecaster.js';
import { ModelRuntime } from '../../../src/forecasting/modelRuntime.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import type { PipelineSpec } from '../../../src/spec/pipelineSpec.js';
import { ArtifactStore } from '../../../src/training/artifactStore.js';
import type { ArtifactInfo } from '../../../src/training/artifactStore.js';
import { createModelLifecycle } from '../../../src/training/modelLifecycle.js';
import type { ModelLifecycleOptions } from '../../../src/training/modelLifecycle.js';
import { Retrainer } from '../../../src/training/retrainer.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import { Trainer } from '../../../src/training/trainer.js';
import type { TrainerLike, TrainRequest, TrainResult } from '../../../src/training/trainer.js';
import { runtimeSpec } from '../../helpers/runtimeSpec.js';
import { seasonalSteps } from '../../helpers/trainingSeries.js';

const spec = runtimeSpec();
const CONTEXT = spec.model.context;

function weights(seed: number, base?: ResidualBase | FeatureLayout, version = 0): GruModelWeights {
  // A layout as the retrainer asked for it (its base columns too), or the plain one on `base`.
  const layout = base !== undefined && 'timeFeatures' in base ? base : featureLayout(['hourOfDay'], 6, undefined, base);
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

/** A runtime with its retrainer, as the composition root builds them; `rt` is the runtime. */
function lifecycle(opts: ModelLifecycleOptions & { spec: PipelineSpec }): ModelRuntime & { retrainer: Retrainer } {
  const { spec: s, ...rest } = opts;
  const { runtime, retrainer } = createModelLifecycle(s, rest);
  return Object.assign(runtime, { retrainer });
}

const series = seasonalSteps('a', { n: 400, seed: 3 });

describe('Retrainer (with its ModelRuntime)', () => {
  it('serves the baseline until a model is promoted, then the GRU (fine-tuning it on later retrains)', async () => {
    const events: PipelineEvent[] = [];
    const fake = fakeTrainer((req) => ({ weights: weights(5, req.init.layout) }));
    const rt = lifecycle({ spec, retrain: 'blocking', trainer: fake.factory, events: (e) => events.push(e) });
    const out = await feed(rt, series);
    // The first retrain is triggered at the 200th step, so the 201st is served by the GRU.
    expect(out.slice(0, 200).every((f) => f.model.kind === 'baseline')).toBe(true);
    expect(out[200]!.model).toEqual({ name: 'rt', version: 1, kind: 'gru' });
    expect(out.at(-1)!.model.kind).toBe('gru');
    expect(rt.info.kind).toBe('gru');
    // Retrains every 2 days of event time: at steps 200, 248, 296, 344, 392; the first (a first
    // model, on the seasonal base this series gets) trains twice, with and without base columns.
    expect(fake.requests).toHaveLength(6);
    expect(fake.requests[0]!.init.layout.base?.kind).toBe('seasonal');
    expect(fake.requests[0]!.init.layout.baseOffsets?.length).toBeGreaterThan(0);
    expect(fake.requests[1]!.init.layout.baseOffsets).toBeUndefined();
    expect(fake.requests[0]!.current).toBeUndefined();
    expect(fake.requests[1]!.current).toBeUndefined();
    // Equal held-out losses keep the base columns; later retrains fine-tune that model alone.
    for (const r of fake.requests.slice(2)) {
      expect(r.current).toBeDefined();
      expect(r.init.layout).toEqual(fake.requests[0]!.init.layout);
    }
    expect(events.filter((e) => e.type === 'training_run').map((e) => (e as { outcome: string }).outcome)).toEqual(Array(5).fill('promoted'));
    for (const f of out) for (const h of f.forecast) expect(Number.isFinite(h.mean)).toBe(true);
    await rt.close();
    expect(fake.closed()).toBe(1);
  });

  for (const better of ['with', 'without'] as const) {
    it(`a first model on a seasonal base keeps base columns only when they lower the held-out loss (here: ${better})`, async () => {
      // The candidate with base columns scores 0.02, the one without 0.01, or the reverse.
      const loss = (req: TrainRequest) => ((req.init.layout.baseOffsets !== undefined) === (better === 'with') ? 0.01 : 0.02);
      const fake = fakeTrainer((req) => ({ weights: weights(5, req.init.layout), valLoss: loss(req) }));
      const rt = lifecycle({ spec, retrain: 'blocking', trainer: fake.factory });
      await feed(rt, series);
      expect(rt.info.kind).toBe('gru');
      expect(rt.servedWeights!.layout.baseOffsets !== undefined).toBe(better === 'with');
      // Two candidates at the first retrain, then one per retrain on the chosen layout.
      expect(fake.requests).toHaveLength(6);
      for (const r of fake.requests.slice(2)) expect(r.init.layout).toEqual(rt.servedWeights!.layout);
      await rt.close();
    });
  }

  it('gives the same forecasts however the stream is cut into batches', async () => {
    const run = async (batch: number) => {
      const rt = lifecycle({ spec, retrain: 'blocking', trainer: fakeTrainer((req) => ({ weights: weights(5, req.init.layout) })).factory });
      const out = await feed(rt, series, batch);
      await rt.close();
      return out;
    };
    expect(await run(400)).toEqual(await run(7));
  });

  it('calibrates the GRU online from the stream once promoted (calibrate: false serves the head as is)', async () => {
    const run = async (calibrate: boolean) => {
      const custom = runtimeSpec({ every: '30d', minHistory: 200 });
      const rt = lifecycle({ spec: custom, retrain: 'blocking', calibrate, trainer: fakeTrainer((req) => ({ weights: weights(5, req.init.layout) })).factory });
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
    // Before the promotion the spec's baseline is served as is, calibration or not.
    expect(on.slice(0, 200).every((f) => f.model.kind === 'baseline')).toBe(true);
    expect(on.slice(0, 201)).toEqual(off.slice(0, 201));
    for (const f of gruOn) {
      for (const h of f.forecast) {
        expect(Number.isFinite(h.mean) && Number.isFinite(h.q['0.1']!) && Number.isFinite(h.q['0.9']!)).toBe(true);
        expect(h.q['0.1']!).toBeLessThanOrEqual(h.q['0.5']!);
        expect(h.q['0.5']!).toBeLessThanOrEqual(h.q['0.9']!);
      }
    }
  });

  it('rejects a candidate that does not beat the baseline, and counts it', async () => {
    const events: PipelineEvent[] = [];
    const fake = fakeTrainer(() => ({ valLoss: 1e6 }));
    const rt = lifecycle({ spec, retrain: 'blocking', trainer: fake.factory, events: (e) => events.push(e) });
    const out = await feed(rt, series);
    expect(out.every((f) => f.model.kind === 'baseline')).toBe(true);
    expect(rt.retrainer.trainingRuns).toEqual({ promoted: 0, rejected: 5, failed: 0 });
    expect(events.some((e) => e.type === 'training_run' && e.outcome === 'rejected')).toBe(true);
    await rt.close();
  });

  it('rejects a candidate that does not beat the model in service (mustBeat: both)', async () => {
    const fake = fakeTrainer((req) => ({ valLoss: 0.01, currentValLoss: req.current ? 0.005 : undefined }));
    const rt = lifecycle({ spec, retrain: 'blocking', trainer: fake.factory });
    await feed(rt, series);
    expect(rt.retrainer.trainingRuns).toEqual({ promoted: 1, rejected: 4, failed: 0 });
    expect(rt.info.version).toBe(1);
    await rt.close();
  });

  for (const base of [{ kind: 'none' }, { kind: 'last-value' }, { kind: 'last-value', changeHalfLife: 24 }, { kind: 'seasonal', steps: 24 }] as const) {
    it(`re-warms a series lazily under new weights as if they had stepped its history (base ${baseName(base)})`, async () => {
      const w1 = weights(1, base, 1);
      const w2 = weights(2, base);
      const fake = fakeTrainer(() => ({ weights: w2 }));
      // Retrains once, at step 300 (minHistory), with nothing before it but w1 serving.
      const custom = runtimeSpec({ every: '30d', minHistory: 300 });
      const rt = lifecycle({ spec: custom, retrain: 'blocking', trainer: fake.factory, initial: w1, historySteps: 400, calibrate: false });
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
      // Under a change-scale base, the unit at step 300: the change scale over the steps served so
      // far (w1 served them all; the state is handed over with the same half-life).
      const changes = new ChangeScales(24, 3_600_000);
      let unit = Number.NaN;
      for (const s of series.slice(0, 301)) unit = changes.push(s.series, s.ts, s.value, s.observed, s.scale.std);
      const view = (s: NormalizedStep, lagged: number): NormalizedStep =>
        base.kind === 'seasonal' ? { ...s, value: s.value - lagged, z: (s.value - lagged) / s.scale.std, scale: { mean: 0, std: s.scale.std } } : base.kind === 'last-value' ? { ...s, scale: { mean: s.value, std: 'changeHalfLife' in base ? unit : s.scale.std } } : s;
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

  // A slow cycle (no daily season to speak of): the last value is the base, its unit to be chosen.
  const drifting = seasonalSteps('d', { n: 400, period: 1000, amplitude: 30, noise: 0.5, seed: 4 });
  for (const stdWins of [true, false]) {
    it(`a first model on the last value trains in both units and keeps the lower std-unit held-out loss (${stdWins ? 'std' : 'change'}); later retrains keep its base and train once`, async () => {
      const info = vi.fn();
      const logger = { debug: vi.fn(), info, warn: vi.fn(), error: vi.fn() };
      const std = stdWins ? 1e-6 : 1e6;
      // Fine-tunes later on are asked for a loss below the current one's (0.01), so that they promote.
      const fake = fakeTrainer((req) => ({ weights: weights(5, req.init.layout), valLoss: req.current !== undefined ? 0.005 : req.init.layout.base?.kind === 'last-value' && req.init.layout.base.changeHalfLife === undefined ? std : 0.01, currentValLoss: req.current !== undefined ? 0.01 : undefined }));
      const rt = lifecycle({ spec, retrain: 'blocking', trainer: fake.factory, calibrate: false, logger });
      await feed(rt, drifting);
      const bases = fake.requests.map((r) => baseName(r.init.layout.base));
      const chosen = stdWins ? 'last-value' : `last-value:change:${Math.round(spec.normalize.halfLife / spec.window.step)}`;
      // Retrains at steps 200, 248, 296, 344, 392: the first trains twice (change unit, then std), the others once on the chosen base.
      expect(bases).toEqual([`last-value:change:${Math.round(spec.normalize.halfLife / spec.window.step)}`, 'last-value', chosen, chosen, chosen, chosen]);
      expect(fake.requests.slice(0, 2).every((r) => r.current === undefined && r.options.seed === fake.requests[0]!.options.seed && r.options.epochs === fake.requests[0]!.options.epochs)).toBe(true);
      expect(fake.requests.slice(2).every((r) => r.current !== undefined)).toBe(true);
      expect(baseName(rt.weights!.layout.base)).toBe(chosen);
      expect(rt.retrainer.trainingRuns).toEqual({ promoted: 5, rejected: 0, failed: 0 });
      const promotions = (info.mock.calls as Array<[Record<string, unknown>, string]>).filter(([, m]) => /promoted/.test(m)).map(([o]) => o);
      expect(promotions).toHaveLength(5);
      const choice = promotions[0]!['unitChoice'] as { change: number; std: number; chosen: string };
      // The change candidate's loss is its weights' on the held-out cells in std units (evaluated here, not the trainer's 0.01).
      expect(Number.isFinite(choice.change) && choice.change > 0 && choice.change !== 0.01).toBe(true);
      expect(choice).toMatchObject({ std, chosen: stdWins ? 'std' : 'change' });
      // The gate ran on the chosen candidate's own loss, against the baseline in its own unit.
      expect(promotions[0]).toMatchObject({ base: chosen, valLoss: stdWins ? std : 0.01 });
      expect(promotions.slice(1).every((o) => o['unitChoice'] === undefined)).toBe(true);
      await rt.close();
    });
  }

  it('stops between the two trainings of a first model when retraining is turned off', async () => {
    const requests: TrainRequest[] = [];
    let rt: ReturnType<typeof lifecycle> | undefined;
    const t: TrainerLike = {
      train: async (req) => {
        requests.push(req);
        // Another instance takes over training while the first candidate trains.
        rt!.retrainer.setRetrain('off');
        return { status: 'done', weights: weights(5, req.init.layout), valLoss: 0.01, initialValLoss: 1, currentValLoss: undefined, bestEpoch: 1, epochs: 1, history: [], durationMs: 1, backend: 'fake' };
      },
      cancel: () => undefined,
      close: async () => undefined,
    };
    rt = lifecycle({ spec, retrain: 'blocking', trainer: () => t, calibrate: false });
    const out = await feed(rt, drifting);
    expect(requests).toHaveLength(1);
    expect(out.every((f) => f.model.kind === 'baseline')).toBe(true);
    expect(rt.retrainer.trainingRuns).toEqual({ promoted: 0, rejected: 0, failed: 0 });
    await rt.close();
  });

  it('retrains on the event-time schedule: first once a series holds minHistory steps, then every retrain.every', async () => {
    const at: number[] = [];
    let rt: ModelRuntime | undefined;
    const fake = fakeTrainer(() => (at.push(rt!.eventTime), { valLoss: 1e6 }));
    rt = lifecycle({ spec, retrain: 'blocking', trainer: fake.factory });
    await feed(rt, series);
    // minHistory 200 (step index 199), then every 2 days (48 hourly steps) of event time; with no
    // model promoted, each is a first model's: trained with and without base columns.
    expect(at).toEqual([199, 247, 295, 343, 391].flatMap((i) => [series[i]!.ts, series[i]!.ts]));
    await rt.close();
  });

  it('counts and trains on the steps before a gap: a series with a reset every 150 steps still retrains at 200 held steps', async () => {
    const at: number[] = [];
    let rt: ModelRuntime | undefined;
    const fake = fakeTrainer(() => (at.push(rt!.eventTime), { valLoss: 1e6 }));
    rt = lifecycle({ spec, retrain: 'blocking', trainer: fake.factory });
    // A gap past maxGap every 150 steps (the step after it says reset): no segment reaches minHistory 200.
    const gapped = series.map((s, i) => (i > 0 && i % 150 === 0 ? { ...s, reset: true } : s));
    await feed(rt, gapped);
    expect(at[0]).toBe(series[199]!.ts);
    // The first retrain's data cover both segments (150 + 50 steps), not the 50 since the gap.
    const req = fake.requests[0]!;
    expect(req.train.cells + req.validation.cells).toBeGreaterThan(100 * spec.model.horizon);
    await rt.close();
  });

  it('does not retrain while off, and background retrains do not hold up the stream', async () => {
    const fake = fakeTrainer(() => ({ valLoss: 1e6 }));
    const off = lifecycle({ spec, retrain: 'off', trainer: fake.factory });
    await feed(off, series);
    expect(fake.requests).toHaveLength(0);
    expect(off.pendingWork()).toBeUndefined();
    await off.close();
    const releases: (() => void)[] = [];
    const held: TrainerLike = {
      train: (req) => new Promise((resolve) => releases.push(() => resolve({ status: 'done', weights: req.init, valLoss: 1e6, initialValLoss: 1, currentValLoss: undefined, bestEpoch: 1, epochs: 1, history: [], durationMs: 1, backend: 'fake' }))),
      cancel: () => undefined,
      close: async () => undefined,
    };
    const bg = lifecycle({ spec, retrain: 'background', trainer: () => held });
    const out = await feed(bg, series);
    // The first retrain is still training: the stream went on past every later trigger.
    expect(out).toHaveLength(400);
    expect(bg.pendingWork()).toBeUndefined();
    await vi.waitFor(() => expect(releases).toHaveLength(1));
    // Its two trainings (with and without base columns) end one after the other.
    releases[0]!();
    await vi.waitFor(() => expect(releases).toHaveLength(2));
    releases[1]!();
    await vi.waitFor(() => expect(bg.retrainer.trainingRuns.rejected).toBe(1));
    await bg.close();
  });

  it('the gate: a candidate equal to the best baseline is rejected, one just below it is promoted; equal to the model in service is rejected', async () => {
    const base = runtimeSpec({ every: '30d', minHistory: 300, promote: { mustBeat: 'baseline' } });
    const probe = lifecycle({ spec: base, retrain: 'off', initial: weights(1, undefined, 1), calibrate: false, trainer: fakeTrainer(() => ({ valLoss: 1e6 })).factory });
    await feed(probe, series.slice(0, 300));
    const first = await probe.retrainer.retrainNow();
    await probe.close();
    expect(first.outcome).toBe('rejected');
    const bar = first.baselineLoss!;
    expect(Number.isFinite(bar)).toBe(true);
    const withLoss = async (s: PipelineSpec, valLoss: number, currentValLoss?: number) => {
      const rt = lifecycle({ spec: s, retrain: 'off', initial: weights(1, undefined, 1), trainer: fakeTrainer((req) => ({ valLoss, currentValLoss: req.current ? currentValLoss : undefined })).factory, calibrate: false });
      await feed(rt, series.slice(0, 300));
      const report = await rt.retrainer.retrainNow();
      await rt.close();
      return report;
    };
    expect((await withLoss(base, bar)).outcome).toBe('rejected');
    expect(await withLoss(base, bar * (1 - 1e-9))).toMatchObject({ outcome: 'promoted', version: 2, baselineLoss: bar });
    const both = runtimeSpec({ every: '30d', minHistory: 300, promote: { mustBeat: 'both' } });
    expect(await withLoss(both, 0.001, 0.001)).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/current model/) });
    expect((await withLoss(both, 0.001, 0.0011)).outcome).toBe('promoted');
  });

  it('a fine-tune that no epoch improved is rejected as "did not improve", not as a tie of the current model with itself', async () => {
    const s = runtimeSpec({ every: '30d', minHistory: 300, promote: { mustBeat: 'both' } });
    const history = [
      { epoch: 1, epochs: 3, trainLoss: 0.2, valLoss: 0.0843125 },
      { epoch: 2, epochs: 3, trainLoss: 0.19, valLoss: 0.0843371 },
    ];
    const rt = lifecycle({
      spec: s,
      retrain: 'off',
      initial: weights(1, undefined, 1),
      calibrate: false,
      // What the worker answers when the initial weights (the current model) stay best: epoch 0, its own loss twice.
      trainer: fakeTrainer((req) => ({ weights: req.init, valLoss: 0.0843051, initialValLoss: 0.0843051, currentValLoss: 0.0843051, bestEpoch: 0, epochs: 2, history })).factory,
    });
    await feed(rt, series.slice(0, 300));
    const report = await rt.retrainer.retrainNow();
    await rt.close();
    expect(report.outcome).toBe('rejected');
    expect(report.reason).toBe('fine-tuning did not improve on the current model: none of 2 epochs beat its held-out loss (best epoch 0.0843125 vs current 0.0843051); the current model stays');
    expect(rt.servedWeights?.version).toBe(1);
  });

  it('retrainNow: the same path as a scheduled retrain, force promotes a rejected candidate, the outcome is in service at once', async () => {
    const rt = lifecycle({ spec, retrain: 'off', trainer: fakeTrainer(() => ({ valLoss: 1e6 })).factory });
    await feed(rt, series.slice(0, 300));
    const report = await rt.retrainer.retrainNow({ force: true });
    expect(report).toMatchObject({ outcome: 'promoted', version: 1, reason: expect.stringMatching(/\(forced\)$/), backend: 'fake' });
    expect(rt.info).toEqual({ name: 'rt', version: 1, kind: 'gru' });
    expect(rt.servedWeights?.version).toBe(1);
    expect(rt.retrainer.trainingRuns).toEqual({ promoted: 1, rejected: 0, failed: 0 });
    expect(rt.trainBackend).toBe('fake');
    await rt.close();
  });

  it('fits the offline calibration by replaying the candidate through a serving copy it is given (no second runtime of its own)', async () => {
    const served: GruModelWeights[] = [];
    let closed = 0;
    const runtime = new ModelRuntime({ spec });
    const retrainer = new Retrainer(runtime, {
      spec,
      retrain: 'blocking',
      trainer: fakeTrainer((req) => ({ weights: weights(5, req.init.layout) })).factory,
      servingCopy: (w): Forecaster => {
        served.push(w);
        const copy = new ModelRuntime({ spec, initial: w });
        return Object.assign(copy, { close: async () => void closed++ });
      },
    });
    // 40 series of 201 steps: 40 × 31 held-out targets, enough for a fit (≥ 1,000 per horizon).
    const many = Array.from({ length: 40 }, (_, k) => seasonalSteps(`m${k}`, { n: 201, seed: 10 + k }));
    const interleaved = many[0]!.flatMap((_, i) => many.map((m) => m[i]!));
    await feed(runtime, interleaved, 40 * 7);
    expect(retrainer.trainingRuns.promoted).toBe(1);
    expect(served).toHaveLength(1);
    expect(served[0]!.calibration).toBeUndefined();
    expect(served[0]!.version).toBeGreaterThanOrEqual(1);
    expect(closed).toBe(1);
    await runtime.close();
  });

  it('skips the calibration replay when the held-out slice holds fewer targets than a fit needs (one short series)', async () => {
    const served: GruModelWeights[] = [];
    const runtime = new ModelRuntime({ spec });
    const retrainer = new Retrainer(runtime, {
      spec,
      retrain: 'blocking',
      trainer: fakeTrainer((req) => ({ weights: weights(5, req.init.layout) })).factory,
      servingCopy: (w): Forecaster => {
        served.push(w);
        return new ModelRuntime({ spec, initial: w });
      },
    });
    await feed(runtime, series.slice(0, 201));
    expect(retrainer.trainingRuns.promoted).toBe(1);
    expect(served).toHaveLength(0);
    expect(runtime.servedWeights?.calibration ?? runtime.weights?.calibration).toBeUndefined();
    await runtime.close();
  });

  it("retrains only while switched on; a promotion here is reported to onPromoted, numbered above an adopted version; switching off cancels", async () => {
    const requests: TrainRequest[] = [];
    let cancels = 0;
    const t: TrainerLike = {
      train: async (req) => {
        requests.push(req);
        return { status: 'done', weights: req.init, valLoss: 0.001, initialValLoss: 1, currentValLoss: undefined, bestEpoch: 1, epochs: 1, history: [], durationMs: 1, backend: 'fake' };
      },
      cancel: () => void cancels++,
      close: async () => undefined,
    };
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
    };
    const promoted: Array<{ version: number; info: ArtifactInfo }> = [];
    const rt = lifecycle({ spec: runtimeSpec({ promote: { mustBeat: 'baseline' } }), retrain: 'off', trainer: () => t, onPromoted: (w, info) => promoted.push({ version: w.version, info }) });
    rt.step(series.slice(0, 300));
    await settle();
    expect(requests).toHaveLength(0);
    rt.adopt(weights(1, undefined, 6));
    rt.retrainer.setRetrain('background');
    expect(rt.retrainer.retrainMode).toBe('background');
    rt.step(series.slice(300, 301));
    await settle();
    expect(requests).toHaveLength(1);
    expect(promoted.map((p) => p.version)).toEqual([7]);
    expect(promoted[0]!.info.backend).toBe('fake');
    expect(rt.step(series.slice(301, 302))[0]!.model.version).toBe(7);
    rt.retrainer.setRetrain('off');
    expect(cancels).toBe(1);
    rt.step(series.slice(302, 400)); // past retrain.every: would retrain if on
    await settle();
    expect(requests).toHaveLength(1);
    await rt.close();
  });

  it('close() cancels a running retrain and terminates the trainer worker; idempotent', async () => {
    let trainer: Trainer | undefined;
    const rt = lifecycle({
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
      const rt = lifecycle({ spec, store: new ArtifactStore(path.join(dir, 'bad'), new ManualClock(0)), logger });
      await rt.pendingWork();
      expect(warn).toHaveBeenCalledTimes(1);
      const out = await feed(rt, series.slice(0, 10));
      expect(out.every((f) => f.model.kind === 'baseline')).toBe(true);
      await rt.close();
    });

    it('persists promoted models and serves the current one at the next start', async () => {
      const store = new ArtifactStore(path.join(dir, 'good'), new ManualClock(0));
      const fake = fakeTrainer((req) => ({ weights: weights(5, req.init.layout) }));
      const rt = lifecycle({ spec, retrain: 'blocking', trainer: fake.factory, store, base: { kind: 'last-value' } });
      const first = await feed(rt, series.slice(0, 260));
      await rt.close();
      expect(first.at(-1)!.model).toEqual({ name: 'rt', version: 2, kind: 'gru' });
      expect(await store.currentVersion('rt')).toBe(2);
      const again = lifecycle({ spec, store });
      await again.pendingWork();
      const [f] = await feed(again, series.slice(0, 1));
      expect(f!.model).toEqual({ name: 'rt', version: 2, kind: 'gru' });
      await again.close();
    });
  });
});
