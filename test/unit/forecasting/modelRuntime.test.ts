import { describe, expect, it } from 'vitest';
import { StreamcastError } from '../../../src/domain/errors.js';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import type { GruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import type { ResidualBase } from '../../../src/forecasting/gru/residualBase.js';
import { ModelRuntime } from '../../../src/forecasting/modelRuntime.js';
import type { RetrainHooks } from '../../../src/forecasting/retrainHooks.js';
import { runtimeSpec } from '../../helpers/runtimeSpec.js';
import { seasonalSteps } from '../../helpers/trainingSeries.js';

const spec = runtimeSpec({ promote: { mustBeat: 'baseline' } });
const CONTEXT = spec.model.context;

function weights(seed: number, version: number, units = 8, base?: ResidualBase): GruModelWeights {
  return initGruModelWeights({ layout: featureLayout(['hourOfDay'], 6, undefined, base), units, horizon: 4, quantiles: [0.1, 0.5, 0.9] }, seed, version);
}

async function feed(rt: ModelRuntime, steps: readonly NormalizedStep[], batch = 37) {
  const out = [];
  for (let i = 0; i < steps.length; i += batch) out.push(...(await rt.stepAsync(steps.slice(i, i + batch))));
  return out;
}

const steps = seasonalSteps('a', { n: 400, seed: 3 });

describe('ModelRuntime: serving and swapping', () => {

  it('observeBeforeCalibration hears each step\'s forecasts as made before online calibration: what a runtime without calibration serves', async () => {
    const calibrated = new ModelRuntime({ spec, initial: weights(1, 1) });
    const plain = new ModelRuntime({ spec, initial: weights(1, 1), calibrate: false });
    const heard: unknown[] = [];
    let calls = 0;
    calibrated.observeBeforeCalibration((batch, fs) => {
      calls++;
      expect(fs).toHaveLength(batch.length);
      heard.push(...fs);
    });
    const served = await feed(calibrated, steps);
    const expected = await feed(plain, steps);
    expect(calls).toBe(Math.ceil(steps.length / 37));
    expect(heard).toEqual(expected);
    // Online calibration changed the served forecasts once it had learnt (else the test proves nothing).
    expect(served).not.toEqual(expected);
    calibrated.observeBeforeCalibration(undefined);
    calibrated.step(seasonalSteps('a', { n: 401, seed: 3 }).slice(400));
    expect(calls).toBe(Math.ceil(steps.length / 37));
    await calibrated.close();
    await plain.close();
  });
  it('without a retrainer serves the baseline, has no pending work and trains on nothing', async () => {
    const rt = new ModelRuntime({ spec });
    const out = await feed(rt, steps);
    expect(out.every((f) => f.model.kind === 'baseline')).toBe(true);
    expect(rt.pendingWork()).toBeUndefined();
    expect(rt.trainBackend).toBe('none');
    expect(rt.backend).toBe('js');
    expect(rt.longestHistory).toBe(400);
    expect(rt.eventTime).toBe(steps.at(-1)!.ts);
    await rt.close();
  });

  it('adopt() serves a newer compatible model from the next step (lazy re-warm); older, equal and misfit versions are ignored', async () => {
    const rt = new ModelRuntime({ spec });
    expect(rt.step(steps.slice(0, 50))[0]!.model.kind).toBe('baseline');
    expect(rt.adopt(weights(1, 3))).toBe(true);
    expect(rt.adopt(weights(2, 3))).toBe(false);
    expect(rt.adopt(weights(2, 2))).toBe(false);
    expect(rt.adopt(weights(2, 9, 24))).toBe(false); // hidden 24: spec says 8 units × 1 or 2 members
    const fc = rt.step(steps.slice(50, 60));
    expect(fc.every((f) => f.model.kind === 'gru' && f.model.version === 3)).toBe(true);
    expect(rt.adopt(weights(4, 4))).toBe(true);
    expect(rt.step(steps.slice(60, 61))[0]!.model.version).toBe(4);
    expect(rt.adopt(weights(5, 5, 16))).toBe(true); // two members of 8
    expect(rt.step(steps.slice(61, 62))[0]!.model.version).toBe(5);
    await rt.close();
    expect(rt.adopt(weights(6, 6))).toBe(false);
  });

  it('install() is pending until the next step or applyPendingSwap(); servedWeights is what is in service', () => {
    const rt = new ModelRuntime({ spec });
    rt.install(weights(1, 1));
    expect(rt.weights?.version).toBe(1);
    expect(rt.servedWeights).toBeUndefined();
    expect(rt.residualBase).toBeUndefined();
    rt.applyPendingSwap();
    expect(rt.servedWeights?.version).toBe(1);
    expect(rt.residualBase).toEqual({ kind: 'none' });
    expect(rt.info).toEqual({ name: 'rt', version: 1, kind: 'gru' });
  });

  it('calls its retrainer after every step and for stepAsync, pendingWork, trainBackend and close; one retrainer only', async () => {
    const calls: string[] = [];
    const hooks: RetrainHooks = {
      trainBackend: 'fake',
      afterStep: () => void calls.push('afterStep'),
      stepAsync: async (batch, step) => (calls.push('stepAsync'), step(batch)),
      pendingWork: () => (calls.push('pendingWork'), undefined),
      close: async () => void calls.push('close'),
    };
    const rt = new ModelRuntime({ spec });
    rt.attach(hooks);
    expect(() => rt.attach(hooks)).toThrow(StreamcastError);
    rt.step(steps.slice(0, 2));
    await rt.stepAsync(steps.slice(2, 3));
    rt.pendingWork();
    expect(rt.trainBackend).toBe('fake');
    await rt.close();
    await rt.close();
    expect(calls).toEqual(['afterStep', 'stepAsync', 'afterStep', 'pendingWork', 'close']);
  });

  it('checkpoints a history tail (context + season), not the whole training history, unless asked to', async () => {
    const w = weights(3, 1, 8, { kind: 'seasonal', steps: 24 });
    const tailRt = new ModelRuntime({ spec, initial: w, historySteps: 400 });
    const allRt = new ModelRuntime({ spec, initial: w, historySteps: 400, snapshotHistorySteps: 'all' });
    await feed(tailRt, steps);
    await feed(allRt, steps);
    const tail = tailRt.snapshot('a')!;
    const all = allRt.snapshot('a')!;
    // History format 2: 48 header bytes + 5.125 per step.
    expect(all.byteLength - tail.byteLength).toBeGreaterThan((400 - (CONTEXT + 24 + 1)) * 5);
    // Restored from the tail, the series is served by the GRU at once, exactly as from the whole history.
    const next = seasonalSteps('a', { n: 401, seed: 3 }).slice(400);
    const fromTail = new ModelRuntime({ spec, initial: w, historySteps: 400 });
    const fromAll = new ModelRuntime({ spec, initial: w, historySteps: 400 });
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

  it('restores the hidden state saved under the version in service; under another version the series re-warms from history', async () => {
    const w = weights(3, 1);
    const src = new ModelRuntime({ spec, initial: w });
    await feed(src, steps.slice(0, 100));
    const snap = src.snapshot('a')!;
    const next = steps.slice(100, 101);
    const same = new ModelRuntime({ spec, initial: w, calibrate: false });
    same.step([]);
    same.restore('a', snap);
    const other = new ModelRuntime({ spec, initial: weights(3, 2), calibrate: false });
    other.step([]);
    other.restore('a', snap);
    const ref = new ModelRuntime({ spec, initial: w, calibrate: false });
    await feed(ref, steps.slice(0, 100));
    const [fs] = same.step(next);
    const [fr] = ref.step(next);
    // Same version: the hidden state is the stepped one, not a re-warm over the last context steps.
    expect(fs!.forecast).toEqual(fr!.forecast);
    expect(other.history.lengthOf('a')).toBeGreaterThanOrEqual(CONTEXT);
    expect(other.step(next)[0]!.model).toEqual({ name: 'rt', version: 2, kind: 'gru' });
    expect(() => same.restore('a', new Uint8Array(3))).toThrow(/corrupt/);
  });

  it('stateless mode resets the hidden state at every step', async () => {
    const w = weights(1, 1, 8, { kind: 'last-value' });
    const a = new ModelRuntime({ spec, initial: w });
    const b = new ModelRuntime({ spec, initial: w, stateless: true });
    const fa = await feed(a, steps.slice(0, 50));
    const fb = await feed(b, steps.slice(0, 50));
    expect(fa[0]).toEqual(fb[0]);
    expect(fa[49]!.forecast[0]!.mean).not.toBeCloseTo(fb[49]!.forecast[0]!.mean, 6);
  });

  it('drop() forgets a series everywhere: it is unknown to snapshot and its history is gone', async () => {
    const rt = new ModelRuntime({ spec, initial: weights(1, 1) });
    await feed(rt, [...steps.slice(0, 30), ...seasonalSteps('b', { n: 30, seed: 4 })]);
    expect(rt.size).toBe(2);
    rt.drop('a');
    expect(rt.size).toBe(1);
    expect(rt.snapshot('a')).toBeUndefined();
    expect(rt.history.lengthOf('a')).toBe(0);
    expect(rt.history.lengthOf('b')).toBe(30);
  });
});
