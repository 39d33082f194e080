import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../src/domain/forecast.js';
import type { ImputedStep } from '../../../src/domain/step.js';
import { mulberry32 } from '../../../src/domain/random.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { LiveAccuracy, type ScoredCell } from '../../../src/observability/liveAccuracy.js';
import { MapLiveAccuracy } from './reference/mapLiveAccuracy.js';

const STEP = 60_000;
const T0 = 1_700_000_040_000;

interface Batch {
  readonly steps: ImputedStep[];
  readonly byModel: Map<string, Forecast[]>;
  readonly drops: string[];
}

/**
 * A random stream as the pipeline produces it, with what it rarely does: two models in either
 * order, imputed steps, gaps, a series that jumps back in time (re-based), forecasts without
 * their step in the batch, replayed forecasts with other values, cells with a NaN mean, and
 * dropped series.
 */
function stream(seed: number, horizon: number, quantiles: readonly string[], batches: number): Batch[] {
  const rnd = mulberry32(seed);
  const series = Array.from({ length: 6 }, (_, i) => `s${i}`);
  const next = new Map(series.map((s) => [s, Math.floor(rnd() * 5)]));
  const made: { model: string; f: Forecast }[] = [];
  const forecast = (s: string, t: number, kind: 'gru' | 'baseline'): Forecast => {
    const level = 100 * rnd();
    return {
      series: s,
      ts: T0 + t * STEP,
      step: STEP,
      imputed: false,
      model: { name: 'eq', version: 1, kind },
      forecast: Array.from({ length: horizon }, (_, i) => {
        const mean = rnd() < 0.02 ? Number.NaN : level + 10 * (rnd() - 0.5);
        const q: Record<string, number> = {};
        for (const [j, k] of quantiles.entries()) q[k] = mean + (j - (quantiles.length - 1) / 2) * 8 * rnd();
        if (quantiles.length > 1 && rnd() < 0.02) q[quantiles[0]!] = Number.POSITIVE_INFINITY;
        return { h: i + 1, ts: T0 + (t + i + 1) * STEP, mean, q };
      }),
    };
  };
  const out: Batch[] = [];
  for (let b = 0; b < batches; b++) {
    const steps: ImputedStep[] = [];
    const byModel = new Map<string, Forecast[]>(rnd() < 0.5 ? [['gru', []], ['baseline', []]] : [['baseline', []], ['gru', []]]);
    const n = 1 + Math.floor(rnd() * 8);
    for (let i = 0; i < n; i++) {
      const s = series[Math.floor(rnd() * series.length)]!;
      let t = next.get(s)!;
      if (rnd() < 0.1) t += 1 + Math.floor(rnd() * 3); // a gap
      if (rnd() < 0.02) t -= 5 + Math.floor(rnd() * 5); // re-based onto an earlier clock
      next.set(s, t + 1);
      const observed = rnd() < 0.8;
      steps.push({ series: s, ts: T0 + t * STEP, value: rnd() < 0.01 ? 1e308 : 100 * rnd(), observed, imputed: !observed, sinceObserved: observed ? 0 : 1, reset: false });
      for (const model of ['gru', 'baseline'] as const) {
        if (rnd() < 0.85) {
          const f = forecast(s, t, model);
          byModel.get(model)!.push(f);
          made.push({ model, f });
        }
      }
    }
    // A replay of an earlier forecast (same model and origin, other values; now and then fewer
    // horizons), passed without its step.
    if (made.length > 0 && rnd() < 0.3) {
      const old = made[Math.floor(rnd() * made.length)]!;
      const t = Math.round((old.f.ts - T0) / STEP);
      const again = forecast(old.f.series, t, old.f.model.kind);
      byModel.get(old.model)!.push(rnd() < 0.3 ? { ...again, forecast: again.forecast.slice(Math.floor(rnd() * 2), horizon - 1) } : again);
    }
    const drops = rnd() < 0.05 ? [series[Math.floor(rnd() * series.length)]!] : [];
    out.push({ steps, byModel, drops });
  }
  return out;
}

function sorted<T>(xs: readonly T[]): T[] {
  return xs
    .map((x) => [JSON.stringify(x), x] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, x]) => x);
}

describe('LiveAccuracy against the Map implementation it replaced (test/unit/observability/reference)', () => {
  for (const [horizon, quantiles] of [
    [12, ['0.1', '0.5', '0.9']],
    [3, ['0.05', '0.5', '0.95']],
    [5, ['0.5']],
  ] as const) {
    it(`scores the same cells and emits the same metric events (horizon ${horizon}, quantiles ${quantiles.join(',')})`, () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const newEvents: PipelineEvent[] = [];
        const oldEvents: PipelineEvent[] = [];
        const opts = { models: ['gru', 'baseline'], horizon, ...(quantiles.length > 1 ? { interval: `${quantiles[0]}-${quantiles.at(-1)}` } : {}) };
        const acc = new LiveAccuracy({ ...opts, events: (e) => newEvents.push(e) });
        const ref = new MapLiveAccuracy({ ...opts, events: (e) => oldEvents.push(e) });
        expect(newEvents).toEqual(oldEvents);
        let scoredCells = 0;
        for (const batch of stream(seed, horizon, quantiles, 400)) {
          newEvents.length = 0;
          oldEvents.length = 0;
          const got: ScoredCell[] = acc.observe(batch.steps, batch.byModel);
          const want = ref.observe(batch.steps, batch.byModel);
          // Same values, each one computed in the same order (sums are bit for bit the same);
          // only the order of cells of one step may differ after a replay.
          expect(sorted(got)).toEqual(sorted(want));
          expect(sorted(newEvents)).toEqual(sorted(oldEvents));
          expect(acc.pendingCells).toBe(ref.pendingCells);
          for (const s of batch.steps) expect(acc.scaleOf(s.series)).toBe(ref.scaleOf(s.series));
          for (const s of batch.drops) {
            acc.drop(s);
            ref.drop(s);
          }
          scoredCells += got.length;
        }
        // The stream exercised scoring (the comparison above is not vacuous).
        expect(scoredCells).toBeGreaterThan(500);
      }
    });
  }

  it('in order too when nothing is replayed: the same cells and events in the same order', () => {
    const events: [PipelineEvent[], PipelineEvent[]] = [[], []];
    const acc = new LiveAccuracy({ events: (e) => events[0].push(e) });
    const ref = new MapLiveAccuracy({ events: (e) => events[1].push(e) });
    const rnd = mulberry32(9);
    for (let t = 0; t < 300; t++) {
      const steps: ImputedStep[] = [];
      const byModel = new Map<string, Forecast[]>([['gru', []], ['baseline', []]]);
      for (const s of ['a', 'b', 'c']) {
        const observed = rnd() < 0.9;
        steps.push({ series: s, ts: T0 + t * STEP, value: rnd() * 10, observed, imputed: !observed, sinceObserved: observed ? 0 : 1, reset: false });
        for (const [model, list] of byModel) {
          list.push({
            series: s,
            ts: T0 + t * STEP,
            step: STEP,
            imputed: !observed,
            model: { name: 'eq', version: 1, kind: model as 'gru' | 'baseline' },
            forecast: Array.from({ length: 6 }, (_, i) => ({ h: i + 1, ts: T0 + (t + i + 1) * STEP, mean: rnd() * 10, q: { '0.1': rnd() * 5, '0.9': 5 + rnd() * 5 } })),
          });
        }
      }
      expect(acc.observe(steps, byModel)).toEqual(ref.observe(steps, byModel));
    }
    expect(events[0]).toEqual(events[1]);
    expect(events[0].length).toBeGreaterThan(1000);
  });
});

describe('LiveAccuracy memory', () => {
  it('keeps at most about `horizon` records per series and model, and forgets a dropped series entirely', () => {
    const acc = new LiveAccuracy({ events: () => undefined, horizon: 4 });
    const H = 4;
    for (let t = 0; t < 100; t++) {
      const steps: ImputedStep[] = [];
      const forecasts: Forecast[] = [];
      for (let s = 0; s < 50; s++) {
        steps.push({ series: `s${s}`, ts: T0 + t * STEP, value: t, observed: true, imputed: false, sinceObserved: 0, reset: false });
        forecasts.push({
          series: `s${s}`,
          ts: T0 + t * STEP,
          step: STEP,
          imputed: false,
          model: { name: 'm', version: 0, kind: 'baseline' },
          forecast: Array.from({ length: H }, (_, i) => ({ h: i + 1, ts: T0 + (t + i + 1) * STEP, mean: t, q: { '0.1': t - 1, '0.9': t + 1 } })),
        });
      }
      acc.observe(steps, new Map([['baseline', forecasts]]));
      // H(H+1)/2 pending cells per series at most: H forecasts, the oldest with one cell left.
      expect(acc.pendingCells).toBeLessThanOrEqual((50 * H * (H + 1)) / 2);
    }
    expect(acc.seriesCount).toBe(50);
    for (let s = 0; s < 50; s++) acc.drop(`s${s}`);
    expect(acc.seriesCount).toBe(0);
    expect(acc.pendingCells).toBe(0);
    expect(acc.scaleOf('s0')).toBeUndefined();
  });

  it('takes forecasts with more horizons than it was sized for', () => {
    const events: PipelineEvent[] = [];
    const acc = new LiveAccuracy({ events: (e) => events.push(e), horizon: 1 });
    const f = (t: number, H: number): Forecast => ({
      series: 'a',
      ts: T0 + t * STEP,
      step: STEP,
      imputed: false,
      model: { name: 'm', version: 0, kind: 'baseline' },
      forecast: Array.from({ length: H }, (_, i) => ({ h: i + 1, ts: T0 + (t + i + 1) * STEP, mean: 10 * (i + 1), q: {} })),
    });
    const step = (t: number, value: number): ImputedStep => ({ series: 'a', ts: T0 + t * STEP, value, observed: true, imputed: false, sinceObserved: 0, reset: false });
    acc.observe([step(0, 0)], new Map([['baseline', [f(0, 1)]]]));
    acc.observe([step(1, 0)], new Map([['baseline', [f(1, 3)]]]));
    expect(acc.pendingCells).toBe(3);
    events.length = 0;
    const scored = acc.observe([step(2, 0), step(3, 0), step(4, 0)], new Map());
    expect(scored.map((c) => [c.h, c.absError])).toEqual([
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
  });
});
