import { describe, expect, it } from 'vitest';
import { StreamcastError } from '../../../../src/domain/errors.js';
import { normalQuantile } from '../../../../src/domain/quantiles.js';
import { LastValueForecaster } from '../../../../src/forecasting/baseline/lastValue.js';
import { SeasonalNaiveForecaster } from '../../../../src/forecasting/baseline/seasonalNaive.js';
import { STEP_MS, T0, gaussian, rng, seriesSteps } from '../../../helpers/normalizedSteps.js';

const opts = { name: 'lv', stepMs: STEP_MS, horizon: 4, quantiles: [0.1, 0.5, 0.9] };

describe('LastValueForecaster', () => {
  it('forecasts the last value (imputed or not) for every horizon, at origin + h·step', () => {
    const f = new LastValueForecaster(opts);
    const steps = seriesSteps('a', [3, 7, -2], { observed: (i) => i !== 1 });
    const out = f.step(steps);
    out.forEach((o, i) => {
      expect(o.ts).toBe(steps[i]!.ts);
      expect(o.step).toBe(STEP_MS);
      expect(o.imputed).toBe(i === 1);
      expect(o.model).toEqual({ name: 'lv', version: 0, kind: 'baseline' });
      expect(o.forecast.map((h) => h.mean)).toEqual([1, 2, 3, 4].map(() => steps[i]!.value));
      expect(o.forecast.map((h) => h.ts)).toEqual([1, 2, 3, 4].map((h) => steps[i]!.ts + h * STEP_MS));
      expect(o.forecast.map((h) => Object.keys(h.q))).toEqual([1, 2, 3, 4].map(() => ['0.1', '0.5', '0.9']));
    });
  });

  it('starts with a Gaussian band from the normalizer scale, widening with √h', () => {
    const f = new LastValueForecaster(opts);
    const [o] = f.step(seriesSteps('a', [10], { scale: { mean: 0, std: 2 } }));
    const z = normalQuantile(0.9);
    o!.forecast.forEach((hf) => {
      expect(hf.q['0.5']).toBe(10);
      expect(hf.q['0.9']).toBeCloseTo(10 + z * 2 * Math.sqrt(hf.h), 12);
      expect(hf.q['0.1']).toBeCloseTo(10 - z * 2 * Math.sqrt(hf.h), 12);
    });
  });

  it('never scores an imputed value as an actual', () => {
    const f = new LastValueForecaster({ ...opts, horizon: 1, residualWindow: 2, minResiduals: 1 });
    // Residuals [0, 0] after five observed zeros; step 5 is imputed at 1e6.
    const steps = seriesSteps('a', [0, 0, 0, 0, 0, 1e6], { observed: (i) => i < 5, scale: { mean: 0, std: 1 } });
    const out = f.step(steps);
    const q = out[5]!.forecast[0]!.q;
    // Had the imputed 1e6 been scored, the residual window would be [0, 1e6] and the band wide.
    expect(q).toEqual({ '0.1': 1e6, '0.5': 1e6, '0.9': 1e6 });
  });

  it('bands from its own recent errors once enough residuals exist', () => {
    const f = new LastValueForecaster({ ...opts, horizon: 1, residualWindow: 5, minResiduals: 5 });
    // Alternating 0, 1: one-step residuals alternate +1, −1.
    const values = Array.from({ length: 12 }, (_, i) => i % 2);
    const out = f.step(seriesSteps('a', values, { scale: { mean: 0, std: 100 } }));
    const last = out[11]!.forecast[0]!;
    // Residuals y(t) − y(t−1) for t = 7..11: [+1, −1, +1, −1, +1], sorted [−1, −1, 1, 1, 1]:
    // type-7 positions 0.4 → −1 + 0.4·0 = −1, 2 → 1, 3.6 → 1.
    expect(last.mean).toBe(1);
    expect(last.q).toEqual({ '0.1': 0, '0.5': 2, '0.9': 2 });
  });

  it('starts afresh on reset, and on a step that does not follow the previous one', () => {
    for (const mode of ['reset', 'jump'] as const) {
      const f = new LastValueForecaster({ ...opts, minResiduals: 3 });
      const noise = gaussian(rng(1));
      const values = Array.from({ length: 40 }, () => noise() * 5);
      const steps = seriesSteps('a', values, { scale: { mean: 0, std: 1 } });
      f.step(steps);
      const next = { ...steps[39]!, ts: steps[39]!.ts + (mode === 'jump' ? 3 : 1) * STEP_MS, value: 100, reset: mode === 'reset' };
      const [o] = f.step([next]);
      // Residual windows were cleared: back to the Gaussian band from std = 1.
      expect(o!.forecast[0]!.q['0.9']).toBeCloseTo(100 + normalQuantile(0.9), 12);
    }
  });

  it('drop() forgets and size counts series', () => {
    const f = new LastValueForecaster(opts);
    f.step([...seriesSteps('a', [1, 2]), ...seriesSteps('b', [3])]);
    expect(f.size).toBe(2);
    expect(f.warm('a')).toBe(true);
    f.drop('a');
    expect(f.size).toBe(1);
    expect(f.warm('a')).toBe(false);
    expect(f.snapshot('a')).toBeUndefined();
  });

  it('treats a non-finite input value as missing rather than poisoning its state', () => {
    const f = new LastValueForecaster(opts);
    const steps = seriesSteps('a', [4, Number.NaN, 5]);
    const out = f.step(steps);
    expect(out[1]!.forecast[0]!.mean).toBe(4);
    expect(out[2]!.forecast[0]!.mean).toBe(5);
    for (const o of out) for (const hf of o.forecast) for (const v of Object.values(hf.q)) expect(Number.isFinite(v)).toBe(true);
  });

  it('restore rejects snapshots of another kind, layout or version', () => {
    const lv = new LastValueForecaster(opts);
    lv.step(seriesSteps('a', [1, 2, 3]));
    const snap = lv.snapshot('a')!;
    const sn = new SeasonalNaiveForecaster({ ...opts, seasonSteps: 2 });
    expect(() => sn.restore('a', snap)).toThrow(StreamcastError);
    expect(() => sn.restore('a', snap)).toThrow(/baseline kind 1/);
    expect(() => new LastValueForecaster({ ...opts, horizon: 5 }).restore('a', snap)).toThrow(/horizon 4/);
    expect(() => new LastValueForecaster(opts).restore('a', snap.subarray(0, 20))).toThrow(/bytes/);
    const wrongVersion = snap.slice();
    wrongVersion[0] = 99;
    expect(() => new LastValueForecaster(opts).restore('a', wrongVersion)).toThrow(/version 99/);
    const ok = new LastValueForecaster(opts);
    ok.restore('a', snap);
    expect(ok.snapshot('a')).toEqual(snap);
  });
});

describe('baseline bands on iid noise', () => {
  /** Fraction of observed targets inside the 0.1–0.9 band, per horizon, after a warm-up. */
  function coverage(f: LastValueForecaster | SeasonalNaiveForecaster, values: number[], H: number): number[] {
    const steps = seriesSteps('a', values, { scale: { mean: 0, std: 1 } });
    const out = f.step(steps);
    const hits = new Array<number>(H).fill(0);
    const n = new Array<number>(H).fill(0);
    for (let t = 500; t + H < values.length; t++) {
      for (let h = 1; h <= H; h++) {
        const hf = out[t]!.forecast[h - 1]!;
        const y = values[t + h]!;
        n[h - 1]!++;
        if (y >= hf.q['0.1']! && y <= hf.q['0.9']!) hits[h - 1]!++;
      }
    }
    return hits.map((x, i) => x / n[i]!);
  }

  it('last value: empirical 10–90% bands cover ≈ 80% of iid N(0,1) actuals at every horizon', () => {
    const noise = gaussian(rng(42));
    const values = Array.from({ length: 30_000 }, () => noise());
    const cov = coverage(new LastValueForecaster({ name: 'lv', stepMs: STEP_MS, horizon: 6, quantiles: [0.1, 0.5, 0.9] }), values, 6);
    for (const c of cov) {
      expect(c).toBeGreaterThan(0.76);
      expect(c).toBeLessThan(0.84);
    }
  });

  it('seasonal naive: the same on a seasonal signal plus noise', () => {
    const noise = gaussian(rng(7));
    const m = 24;
    const values = Array.from({ length: 30_000 }, (_, t) => 10 * Math.sin((2 * Math.PI * t) / m) + noise());
    const f = new SeasonalNaiveForecaster({ name: 'sn', stepMs: STEP_MS, horizon: 6, quantiles: [0.1, 0.5, 0.9], seasonSteps: m });
    for (const c of coverage(f, values, 6)) {
      expect(c).toBeGreaterThan(0.76);
      expect(c).toBeLessThan(0.84);
    }
  });
});
