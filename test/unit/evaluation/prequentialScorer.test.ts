import { describe, expect, it } from 'vitest';
import { ConfigError, StreamcastError } from '../../../src/domain/errors.js';
import type { Forecast } from '../../../src/domain/forecast.js';
import type { NormalizedStep } from '../../../src/domain/step.js';
import { PrequentialScorer } from '../../../src/evaluation/prequentialScorer.js';
import { LastValueForecaster } from '../../../src/forecasting/baseline/lastValue.js';
import { SeasonalNaiveForecaster } from '../../../src/forecasting/baseline/seasonalNaive.js';
import { STEP_MS, T0, gaussian, rng, seriesSteps } from '../../helpers/normalizedSteps.js';

const relClose = (a: number | null, b: number) => {
  expect(a).not.toBeNull();
  expect(Math.abs(a! - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)));
};

/** A forecast with a given mean (and a ±1 band) for every horizon. */
function fcst(series: string, ts: number, H: number, mean: (h: number) => number, model = 'm'): Forecast {
  return {
    series,
    ts,
    step: STEP_MS,
    forecast: Array.from({ length: H }, (_, i) => {
      const m = mean(i + 1);
      return { h: i + 1, ts: ts + (i + 1) * STEP_MS, mean: m, q: { '0.1': m - 1, '0.5': m, '0.9': m + 1 } };
    }),
    model: { name: model, version: 0, kind: 'baseline' },
    imputed: false,
  };
}

function actual(series: string, i: number, value: number, observed = true) {
  return { series, ts: T0 + i * STEP_MS, value, observed };
}

describe('PrequentialScorer: exactness against plain loops', () => {
  it('matches per-horizon MAE, sMAPE, MASE and coverage of last-value and seasonal-naive computed independently', () => {
    const H = 5;
    const m = 4;
    const warmup = 6;
    const quantiles = [0.1, 0.5, 0.9];
    const noise = gaussian(rng(11));
    const lengths = [80, 57, 33];
    const data = lengths.map((n, s) => {
      const values = Array.from({ length: n }, (_, t) => 50 * s + 10 * Math.sin((2 * Math.PI * t) / m) + noise() * (s + 1));
      const observed = values.map((_, t) => (t * 7 + s) % 5 !== 0);
      return { id: `s${s}`, values, observed };
    });
    const stepsOf = data.map((d) => seriesSteps(d.id, d.values, { observed: (t) => d.observed[t]! }));
    // Interleave series; batches of up to 3 steps of a series at a time.
    const stream: NormalizedStep[] = [];
    for (let t = 0; t < 80; t += 3) for (const st of stepsOf) stream.push(...st.slice(t, t + 3));

    const opts = { name: 'x', stepMs: STEP_MS, horizon: H, quantiles };
    const lv = new LastValueForecaster(opts);
    const sn = new SeasonalNaiveForecaster({ ...opts, seasonSteps: m });
    const scorer = new PrequentialScorer({ models: ['last-value', 'seasonal-naive-4'], horizon: H, stepMs: STEP_MS, quantiles, warmupSteps: warmup });
    const produced = new Map<string, Forecast[]>();
    for (let i = 0; i < stream.length; i += 7) {
      const batch = stream.slice(i, i + 7);
      const a = lv.step(batch);
      const b = sn.step(batch);
      batch.forEach((step, j) => {
        scorer.addActual(step);
        scorer.addForecasts('last-value', [a[j]!]);
        scorer.addForecasts('seasonal-naive-4', [b[j]!]);
        const key = `${step.series}/sn`;
        produced.set(key, [...(produced.get(key) ?? []), b[j]!]);
      });
    }
    const summary = scorer.summary({ input: 'synthetic', pipeline: 'p' });

    // Independent: forecasts from the definitions, cells by the rules, metrics by the formulas.
    const lvPoint = (v: number[], t: number) => v[t]!;
    const snPoint = (v: number[], t: number, h: number) => (t + 1 >= m ? v[t + h - m * Math.ceil(h / m)]! : v[t]!);
    const abs = { lv: new Array<number>(H).fill(0), sn: new Array<number>(H).fill(0) };
    const sm = { lv: new Array<number>(H).fill(0), sn: new Array<number>(H).fill(0) };
    const cells = new Array<number>(H).fill(0);
    const perSeries: { lv: number[]; sn: number[]; n: number[]; scale: number }[] = [];
    let covHits = 0;
    let covN = 0;
    const smape = (y: number, f: number) => (y === 0 && f === 0 ? 0 : (200 * Math.abs(y - f)) / (Math.abs(y) + Math.abs(f)));
    for (const d of data) {
      const ps = { lv: new Array<number>(H).fill(0), sn: new Array<number>(H).fill(0), n: new Array<number>(H).fill(0), scale: 0 };
      let diffs = 0;
      let nd = 0;
      for (let t = 1; t < d.values.length; t++) {
        if (d.observed[t] && d.observed[t - 1]) {
          diffs += Math.abs(d.values[t]! - d.values[t - 1]!);
          nd++;
        }
      }
      ps.scale = diffs / nd;
      const snForecasts = produced.get(`${d.id}/sn`)!;
      for (let t = warmup; t < d.values.length; t++) {
        for (let h = 1; h <= H && t + h < d.values.length; h++) {
          if (!d.observed[t + h]) continue;
          const y = d.values[t + h]!;
          const f1 = lvPoint(d.values, t);
          const f2 = snPoint(d.values, t, h);
          cells[h - 1]!++;
          ps.n[h - 1]!++;
          abs.lv[h - 1]! += Math.abs(y - f1);
          abs.sn[h - 1]! += Math.abs(y - f2);
          ps.lv[h - 1]! += Math.abs(y - f1);
          ps.sn[h - 1]! += Math.abs(y - f2);
          sm.lv[h - 1]! += smape(y, f1);
          sm.sn[h - 1]! += smape(y, f2);
          const q = snForecasts[t]!.forecast[h - 1]!.q;
          covN++;
          if (y >= q['0.1']! && y <= q['0.9']!) covHits++;
        }
      }
      perSeries.push(ps);
    }

    expect(summary.scoredCells).toBe(cells.reduce((a, b) => a + b, 0));
    expect(summary.series).toBe(3);
    expect(summary.step).toBe(STEP_MS);
    expect(summary.warmupSteps).toBe(warmup);
    for (const [name, key] of [['last-value', 'lv'], ['seasonal-naive-4', 'sn']] as const) {
      const got = summary.models[name]!;
      const mae = abs[key].map((x, i) => x / cells[i]!);
      mae.forEach((x, i) => relClose(got.mae[i]!, x));
      relClose(got.maeMean, mae.reduce((a, b) => a + b, 0) / H);
      sm[key].forEach((x, i) => relClose(got.smape[i]!, x / cells[i]!));
      for (let i = 0; i < H; i++) {
        const per = perSeries.filter((p) => p.n[i]! > 0).map((p) => p[key][i]! / p.n[i]! / p.scale);
        relClose(got.mase[i]!, per.reduce((a, b) => a + b, 0) / per.length);
      }
    }
    relClose(summary.models['seasonal-naive-4']!.coverage['0.1-0.9']!, covHits / covN);
    // Seasonal naive wins on a noisy sine whose season it knows.
    expect(summary.best_baseline).toBe('seasonal-naive-4');
    expect(summary.skill).toBeNull();
  });
});

describe('PrequentialScorer: which cells count', () => {
  const opts = { models: ['a', 'b'], horizon: 2, stepMs: STEP_MS, quantiles: [0.1, 0.5, 0.9], warmupSteps: 0 };

  it('scores a cell only when every model forecast it', () => {
    const s = new PrequentialScorer(opts);
    for (let i = 0; i < 10; i++) {
      s.addActual(actual('x', i, i));
      s.addForecasts('a', [fcst('x', T0 + i * STEP_MS, 2, () => 0)]);
      if (i % 2 === 0) s.addForecasts('b', [fcst('x', T0 + i * STEP_MS, 2, () => 0)]);
    }
    // b forecast from origins 0,2,4,6,8 → targets with both: (o+1, h=1) and (o+2, h=2) for o ≤ 7 where target ≤ 9.
    const sum = s.summary({ input: '', pipeline: '' });
    expect(sum.scoredCells).toBe(5 + 4);
    expect(sum.models['a']!.mae[0]).toBe((1 + 3 + 5 + 7 + 9) / 5);
  });

  it('never scores an imputed actual, and skips origins inside the warm-up', () => {
    const s = new PrequentialScorer({ ...opts, models: ['a'], warmupSteps: 3 });
    for (let i = 0; i < 10; i++) {
      s.addActual(actual('x', i, 100, i !== 6));
      s.addForecasts('a', [fcst('x', T0 + i * STEP_MS, 2, (h) => h)]);
    }
    // Origins 3..8 (h=1 → targets 4..9), 3..7 (h=2 → targets 5..9); target 6 imputed.
    const sum = s.summary({ input: '', pipeline: '' });
    expect(sum.scoredCells).toBe(6 - 1 + (5 - 1));
    expect(sum.models['a']!.mae).toEqual([99, 98]);
    expect(sum.models['a']!.coverage['0.1-0.9']).toBe(0);
  });

  it('warm-up counts from the series first step, per series', () => {
    const s = new PrequentialScorer({ ...opts, models: ['a'], horizon: 1, warmupSteps: 2 });
    for (let i = 0; i < 4; i++) {
      s.addActual(actual('x', i, 1));
      s.addForecasts('a', [fcst('x', T0 + i * STEP_MS, 1, () => 1)]);
    }
    for (let i = 2; i < 6; i++) {
      s.addActual(actual('y', i, 1));
      s.addForecasts('a', [fcst('y', T0 + i * STEP_MS, 1, () => 1)]);
    }
    // x: origins 2 → target 3 (1 cell); y: origins 4 → target 5 (1 cell).
    expect(s.summary({ input: '', pipeline: '' }).scoredCells).toBe(2);
  });

  it('gives identical results when forecasts run far ahead of actuals (the ring grows)', () => {
    const run = (ahead: boolean) => {
      const s = new PrequentialScorer({ ...opts, models: ['a'], horizon: 3 });
      const fs = Array.from({ length: 40 }, (_, i) => fcst('x', T0 + i * STEP_MS, 3, (h) => Math.sin(i + h)));
      const as = Array.from({ length: 40 }, (_, i) => actual('x', i, Math.cos(i)));
      if (ahead) {
        for (let i = 0; i < 40; i += 20) {
          for (let j = i; j < i + 20; j++) s.addForecasts('a', [fs[j]!]);
          for (let j = i; j < i + 20; j++) s.addActual(as[j]!);
        }
      } else {
        for (let j = 0; j < 40; j++) {
          s.addActual(as[j]!);
          s.addForecasts('a', [fs[j]!]);
        }
      }
      return s.summary({ input: '', pipeline: '' });
    };
    const a = run(true);
    const b = run(false);
    expect(a.scoredCells).toBeGreaterThan(0);
    expect(a.scoredCells).toBe(b.scoredCells);
    a.models['a']!.mae.forEach((x, i) => relClose(x, b.models['a']!.mae[i]!));
  });

  it('keeps only pending targets, not the history', () => {
    const s = new PrequentialScorer({ ...opts, horizon: 12, models: ['a'] });
    for (let i = 0; i < 5000; i++) {
      s.addActual(actual('x', i, i));
      s.addForecasts('a', [fcst('x', T0 + i * STEP_MS, 12, () => i)]);
      expect(s.pending('x')).toBeLessThanOrEqual(12);
    }
    expect(s.pending('x')).toBe(12);
    expect(s.pending('unknown')).toBe(0);
  });

  it('ignores forecasts for targets whose actual already passed', () => {
    const s = new PrequentialScorer({ ...opts, models: ['a'], horizon: 1 });
    s.addActual(actual('x', 0, 1));
    s.addActual(actual('x', 1, 1));
    s.addForecasts('a', [fcst('x', T0, 1, () => 0)]);
    s.addActual(actual('x', 1, 1)); // a repeat is ignored too
    expect(s.summary({ input: '', pipeline: '' }).scoredCells).toBe(0);
  });

  it('rejects unknown models and bad options', () => {
    const s = new PrequentialScorer(opts);
    expect(() => s.addForecasts('c', [])).toThrow(StreamcastError);
    expect(() => new PrequentialScorer({ ...opts, models: [] })).toThrow(ConfigError);
    expect(() => new PrequentialScorer({ ...opts, models: ['a', 'a'] })).toThrow(/distinct/);
    expect(() => new PrequentialScorer({ ...opts, warmupSteps: -1 })).toThrow(ConfigError);
  });
});

describe('PrequentialScorer: summary', () => {
  const models = ['gru', 'last-value', 'seasonal-naive-1d', 'seasonal-naive-1w', 'other'];
  const errors: Record<string, number> = { gru: 1, 'last-value': 4, 'seasonal-naive-1d': 3, 'seasonal-naive-1w': 2, other: 0.5 };

  function run(names: string[]) {
    const s = new PrequentialScorer({ models: names, horizon: 2, stepMs: STEP_MS, quantiles: [0.1, 0.5, 0.9], warmupSteps: 0 });
    for (let i = 0; i < 20; i++) {
      for (const series of ['x', 'y']) {
        s.addActual(actual(series, i, 10 + (i % 3)));
        for (const n of names) s.addForecasts(n, [fcst(series, T0 + i * STEP_MS, 2, (h) => 10 + ((i + h) % 3) + errors[n]!)]);
      }
    }
    return s.summary({ input: 'in.csv', pipeline: 'p' });
  }

  it('picks the best baseline among last-value*/seasonal-naive* and reports skill of "gru"', () => {
    const sum = run(models);
    expect(Object.keys(sum.models)).toEqual(models);
    expect(sum.models['gru']!.mae).toEqual([1, 1]);
    expect(sum.best_baseline).toBe('seasonal-naive-1w');
    expect(sum.skill).toBeCloseTo(1 - 1 / 2, 12);
    expect(sum.input).toBe('in.csv');
    expect(sum.pipeline).toBe('p');
    expect(sum.horizon).toBe(2);
    expect(sum.series).toBe(2);
    // Per-series MAE 2 on a series whose one-step naive scale is mean(|1|,|1|,|−2|) = 4/3.
    sum.models['seasonal-naive-1w']!.mase.forEach((x) => expect(x).toBeCloseTo(2 / (4 / 3), 1));
    expect(sum.models['gru']!.coverage).toEqual({ '0.1-0.9': 1 });
    expect(sum.models['last-value']!.coverage).toEqual({ '0.1-0.9': 0 });
  });

  it('skill is null without a "gru" model; best_baseline null without baselines', () => {
    expect(run(['last-value', 'other']).skill).toBeNull();
    const noBaseline = run(['gru', 'other']);
    expect(noBaseline.best_baseline).toBeNull();
    expect(noBaseline.skill).toBeNull();
  });

  it('is JSON without NaN when nothing was scored (nulls instead)', () => {
    const s = new PrequentialScorer({ models: ['gru', 'last-value'], horizon: 2, stepMs: STEP_MS, quantiles: [0.1, 0.9], warmupSteps: 0 });
    s.addActual(actual('x', 0, 5));
    const sum = s.summary({ input: '', pipeline: '' });
    expect(sum.scoredCells).toBe(0);
    expect(sum.models['gru']).toEqual({ mae: [null, null], maeMean: null, mase: [null, null], smape: [null, null], coverage: { '0.1-0.9': null }, coverageByHorizon: { '0.1-0.9': [null, null] } });
    expect(JSON.parse(JSON.stringify(sum))).toEqual(sum);
  });
});
