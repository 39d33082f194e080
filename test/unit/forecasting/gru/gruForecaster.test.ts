import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Forecast } from '../../../../src/domain/forecast.js';
import { assertForecastHygiene } from '../../../../src/domain/quantiles.js';
import type { NormalizedStep } from '../../../../src/domain/step.js';
import { selectBackend } from '../../../../src/forecasting/gru/backend.js';
import { featureLayout } from '../../../../src/forecasting/gru/featureLayout.js';
import { GruForecaster } from '../../../../src/forecasting/gru/gruForecaster.js';
import type { GruForecasterOptions } from '../../../../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../../../../src/forecasting/gru/gruWeights.js';
import type { GruModelWeights } from '../../../../src/forecasting/gru/gruWeights.js';

const STEP = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 24);
const quantiles = [0.1, 0.5, 0.9];
const horizon = 4;

function weights(seed: number, version = 3): GruModelWeights {
  return initGruModelWeights({ layout, units: 16, horizon, quantiles }, seed, version);
}

const created: GruForecaster[] = [];
function forecaster(w: GruModelWeights, over: Partial<GruForecasterOptions> = {}): GruForecaster {
  const f = new GruForecaster({ name: 'test', stepMs: STEP, horizon, quantiles, weights: w, ...over });
  created.push(f);
  return f;
}

function step(series: string, i: number, z: number, over: Partial<NormalizedStep> = {}): NormalizedStep {
  return { series, ts: T0 + i * STEP, value: 10 + 2 * z, observed: true, imputed: false, sinceObserved: 0, reset: i === 0, z, scale: { mean: 10, std: 2 }, ...over };
}

/** A few series interleaved over `n` steps, several steps of a series per batch. */
function stream(n: number): NormalizedStep[][] {
  const batches: NormalizedStep[][] = [];
  for (let i = 0; i < n; i += 2) {
    const batch: NormalizedStep[] = [];
    for (const s of ['a', 'b', 'c']) {
      for (const j of [i, i + 1]) batch.push(step(s, j, Math.sin(j / 3 + s.charCodeAt(0))));
    }
    batches.push(batch);
  }
  return batches;
}

function hygiene(fs: readonly Forecast[]): void {
  for (const f of fs) assertForecastHygiene(f, { horizon, step: STEP, quantiles });
}

describe('GruForecaster', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  afterAll(() => {
    for (const f of created) f.dispose();
  });

  it('returns one valid gru forecast per input step, in input order', () => {
    const f = forecaster(weights(1));
    for (const batch of stream(10)) {
      const out = f.step(batch);
      expect(out.map((o) => [o.series, o.ts])).toEqual(batch.map((s) => [s.series, s.ts]));
      hygiene(out);
      expect(out[0]!.model).toEqual({ name: 'test', version: 3, kind: 'gru' });
      expect(out[0]!.forecast[2]!.ts).toBe(batch[0]!.ts + 3 * STEP);
    }
    expect(f.size).toBe(3);
  });

  it('denormalizes with the step scale: the untrained model forecasts mean ± 1.28 std-ish', () => {
    const f = forecaster(weights(1));
    const [out] = f.step([step('a', 0, 0, { scale: { mean: 1000, std: 10 }, value: 1000 })]);
    for (const hf of out!.forecast) {
      expect(hf.q['0.5']).toBeGreaterThan(970);
      expect(hf.q['0.5']).toBeLessThan(1030);
      expect(hf.q['0.9']! - hf.q['0.1']!).toBeGreaterThan(5);
      expect(hf.mean).toBe(hf.q['0.5']);
    }
  });

  it('is deterministic with a seed, and the seed matters', () => {
    const runAll = (seed: number): Forecast[] => {
      const f = forecaster(weights(seed));
      return stream(12).flatMap((b) => f.step(b));
    };
    expect(runAll(7)).toEqual(runAll(7));
    expect(runAll(7)).not.toEqual(runAll(8));
  });

  it('carries state: the same input forecasts differently after different histories', () => {
    const f = forecaster(weights(2));
    f.step([step('a', 0, 2), step('b', 0, -2)]);
    const [a, b] = f.step([step('a', 1, 0), step('b', 1, 0)]);
    expect(a!.forecast[0]!.q['0.5']).not.toBeCloseTo(b!.forecast[0]!.q['0.5']!, 6);
  });

  it('a reset step starts from a zero state, like a new series', () => {
    const f = forecaster(weights(2));
    for (let i = 0; i < 5; i++) f.step([step('a', i, 3)]);
    const probe = step('a', 5, 0.3, { reset: true });
    const [afterReset] = f.step([probe]);
    const [fresh] = forecaster(weights(2)).step([{ ...probe, series: 'new' }]);
    expect(afterReset!.forecast).toEqual(fresh!.forecast);
    // Control: without the reset flag the history shows.
    const g = forecaster(weights(2));
    for (let i = 0; i < 5; i++) g.step([step('a', i, 3)]);
    const [carried] = g.step([{ ...probe, reset: false }]);
    expect(carried!.forecast).not.toEqual(fresh!.forecast);
  });

  it('snapshot/restore moves a series to another instance mid-stream', () => {
    const f = forecaster(weights(4));
    for (let i = 0; i < 6; i++) f.step([step('a', i, Math.cos(i))]);
    const snap = f.snapshot('a')!;
    expect(f.snapshot('zzz')).toBeUndefined();
    const g = forecaster(weights(4));
    g.restore('a', snap);
    const next = step('a', 6, 0.7);
    expect(g.step([next])).toEqual(f.step([next]));
    f.drop('a');
    expect(f.size).toBe(0);
    expect(f.snapshot('a')).toBeUndefined();
  });

  it('js and tf kernels give the same forecasts to 1e-4 on a batch above the crossover', () => {
    const batch = Array.from({ length: 40 }, (_, i) => step(`s${i}`, 0, Math.sin(i)));
    const js = forecaster(weights(5), { kernel: 'js' });
    const tfk = forecaster(weights(5), { kernel: 'tf' });
    const before = tf.memory().numTensors;
    for (let t = 1; t < 5; t++) {
      const a = js.step(batch.map((s) => ({ ...s, ts: s.ts + t * STEP, reset: false })));
      const b = tfk.step(batch.map((s) => ({ ...s, ts: s.ts + t * STEP, reset: false })));
      a.forEach((fa, i) => fa.forecast.forEach((hf, h) => expect(Math.abs(hf.q['0.9']! - b[i]!.forecast[h]!.q['0.9']!)).toBeLessThan(1e-4)));
    }
    // The tf kernel's 4 weight tensors appear on first use; steps themselves leave nothing behind.
    expect(tf.memory().numTensors).toBe(before + 4);
  });

  it('no NaN, no Infinity, no crossing under arbitrary inputs, scales and weight magnitudes', () => {
    const finiteish = fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constantFrom(NaN, Infinity, -Infinity, 1e300, -1e300));
    const stepArb = fc.record({
      series: fc.constantFrom('a', 'b', 'c', 'd'),
      i: fc.integer({ min: 0, max: 10_000 }),
      z: finiteish,
      observed: fc.boolean(),
      sinceObserved: fc.integer({ min: 0, max: 1000 }),
      reset: fc.boolean(),
      mean: fc.double({ min: -1e9, max: 1e9, noNaN: true }),
      std: fc.double({ min: 1e-9, max: 1e9, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(stepArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }), fc.constantFrom(0.1, 1, 30), fc.boolean(), (batches, gain, corrupt) => {
        const w = weights(11);
        const cell = { ...w.cell, recurrentKernel: w.cell.recurrentKernel.map((v) => v * gain), kernel: w.cell.kernel.map((v) => v * gain) };
        const headBias = w.head.bias.slice();
        if (corrupt) headBias[1] = NaN;
        const f = forecaster({ ...w, cell, head: { ...w.head, bias: headBias } }, { kernel: 'js' });
        for (const b of batches) {
          const out = f.step(
            b.map((s) => ({ series: s.series, ts: T0 + s.i * STEP, value: Number.isFinite(s.z) ? s.z : 0, observed: s.observed, imputed: !s.observed, sinceObserved: s.sinceObserved, reset: s.reset, z: s.z, scale: { mean: s.mean, std: s.std } })),
          );
          expect(out).toHaveLength(b.length);
          hygiene(out);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('refuses weights that do not match the pipeline', () => {
    expect(() => forecaster(weights(1), { horizon: 5 })).toThrow(/trained for 4/);
    expect(() => forecaster(weights(1), { quantiles: [0.05, 0.5, 0.95] })).toThrow(/quantiles/);
  });
});
