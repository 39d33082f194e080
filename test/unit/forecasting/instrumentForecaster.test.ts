import { describe, expect, it } from 'vitest';
import { createBaseline } from '../../../src/forecasting/baseline/createBaseline.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { instrumentForecaster } from '../../../src/forecasting/instrumentForecaster.js';

describe('instrumentForecaster', () => {
  it('announces the serving model once and reports each batch with its size and duration', () => {
    const events: PipelineEvent[] = [];
    const inner = createBaseline({ type: 'last-value', seasonMs: 1000 }, { name: 'p', stepMs: 1000, horizon: 2, quantiles: [0.1, 0.9] });
    let t = 0;
    const f = instrumentForecaster(inner, { events: (e) => events.push(e), now: () => (t += 2.5) });
    expect(events).toEqual([{ type: 'model_info', version: 0, kind: 'baseline', backend: 'js', trainBackend: 'none' }]);
    const step = { series: 's', ts: 0, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: false, z: 0, scale: { mean: 0, std: 1 } };
    const out = f.step([step, { ...step, series: 'u' }]);
    expect(out).toHaveLength(2);
    expect(f.size).toBe(2);
    expect(events.slice(1)).toEqual([{ type: 'batch', size: 2, durationMs: 2.5, backend: 'js' }]);
    f.step([]);
    expect(events).toHaveLength(2);
  });
});

describe('instrumentForecaster follows the compute backends', () => {
  it('re-announces model_info when the serving or training backend changes (a promotion, a started trainer)', () => {
    const events: PipelineEvent[] = [];
    const base = createBaseline({ type: 'last-value', seasonMs: 1000 }, { name: 'p', stepMs: 1000, horizon: 2, quantiles: [0.1, 0.9] });
    let backend = 'js';
    let trainBackend = 'none';
    const runtime = Object.create(base, { backend: { get: () => backend }, trainBackend: { get: () => trainBackend } }) as typeof base;
    const f = instrumentForecaster(runtime, { events: (e) => events.push(e), now: () => 0 });
    const step = { series: 's', ts: 0, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: false, z: 0, scale: { mean: 0, std: 1 } };
    trainBackend = 'tensorflow';
    f.step([step]);
    backend = 'wasm';
    f.step([step]);
    const infos = events.filter((e) => e.type === 'model_info');
    expect(infos.map((e) => [e.backend, e.trainBackend])).toEqual([
      ['js', 'none'],
      ['js', 'tensorflow'],
      ['wasm', 'tensorflow'],
    ]);
    expect(events.filter((e) => e.type === 'batch').map((e) => e.backend)).toEqual(['js', 'wasm']);
  });
});

describe('instrumentForecaster passes the runtime lifecycle through', () => {
  it('forwards pendingWork, stepAsync and close when the inner forecaster has them', async () => {
    const inner = createBaseline({ type: 'last-value', seasonMs: 60_000 }, { name: 'x', stepMs: 60_000, horizon: 2, quantiles: [0.1, 0.9] });
    const calls: string[] = [];
    const runtime = Object.assign(Object.create(inner) as typeof inner, {
      pendingWork: () => (calls.push('pending'), undefined),
      stepAsync: async (b: Parameters<typeof inner.step>[0]) => (calls.push('stepAsync'), inner.step(b)),
      close: async () => void calls.push('close'),
    });
    const events: PipelineEvent[] = [];
    const wrapped = instrumentForecaster(runtime, { events: (e) => events.push(e), now: () => 0 });
    expect(wrapped.pendingWork?.()).toBeUndefined();
    const step = { series: 's', ts: 0, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: true, z: 0, scale: { mean: 1, std: 1 } };
    expect(await wrapped.stepAsync?.([step])).toHaveLength(1);
    await wrapped.close?.();
    expect(calls).toEqual(['pending', 'stepAsync', 'close']);
    expect(events.some((e) => e.type === 'batch')).toBe(true);
  });

  it('adds none of them to a plain forecaster', () => {
    const inner = createBaseline({ type: 'last-value', seasonMs: 60_000 }, { name: 'x', stepMs: 60_000, horizon: 2, quantiles: [0.1, 0.9] });
    const wrapped = instrumentForecaster(inner, { events: () => undefined, now: () => 0 });
    expect(wrapped.close).toBeUndefined();
    expect(wrapped.stepAsync).toBeUndefined();
  });
});
