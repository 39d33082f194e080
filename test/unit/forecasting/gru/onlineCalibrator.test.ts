import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../../src/domain/forecast.js';
import { mulberry32, normalSource } from '../../../../src/domain/random.js';
import { identityCalibration } from '../../../../src/forecasting/gru/calibration.js';
import { OnlineCalibrator } from '../../../../src/forecasting/gru/onlineCalibrator.js';

const STEP = 60_000;
const Q = [0.1, 0.5, 0.9];

function fc(series: string, ts: number, rows: readonly [number, number, number][], kind: 'gru' | 'baseline' = 'gru'): Forecast {
  return {
    series,
    ts,
    step: STEP,
    imputed: false,
    model: { name: 'p', version: 1, kind },
    forecast: rows.map(([lo, mid, hi], k) => ({ h: k + 1, ts: ts + (k + 1) * STEP, mean: mid, q: { '0.1': lo, '0.5': mid, '0.9': hi } })),
  };
}

/**
 * A random walk y; the "model" forecasts y[t] + bias with an interval of ± width; the baseline
 * forecasts y[t] − 3. Returns realized coverage and MAE of the calibrated forecasts over the last
 * half, per horizon.
 */
function simulate(cal: OnlineCalibrator, opts: { steps: number; bias: number; width: number; series?: number; seed?: number }) {
  const H = cal.horizon;
  const normal = normalSource(mulberry32(opts.seed ?? 1));
  const S = opts.series ?? 1;
  const ys: number[][] = Array.from({ length: S }, () => [0]);
  const served: Forecast[][] = Array.from({ length: S }, () => []);
  for (let t = 1; t < opts.steps; t++) {
    for (let s = 0; s < S; s++) {
      const y = ys[s]!.at(-1)! + normal();
      ys[s]!.push(y);
      const ts = t * STEP;
      cal.observe(`s${s}`, ts, y, true);
      const model = fc(`s${s}`, ts, Array.from({ length: H }, (): [number, number, number] => [y + opts.bias - opts.width, y + opts.bias, y + opts.bias + opts.width]));
      const base = fc(`s${s}`, ts, Array.from({ length: H }, (): [number, number, number] => [y - 3, y - 3, y - 3]), 'baseline');
      served[s]!.push(cal.serve(model, y, base));
    }
  }
  const cover = new Array<number>(H).fill(0);
  const abs = new Array<number>(H).fill(0);
  let n = 0;
  for (let s = 0; s < S; s++) {
    for (let t = Math.floor(opts.steps / 2); t + H < opts.steps - 1; t++) {
      const f = served[s]![t - 1]!;
      for (let h = 1; h <= H; h++) {
        const y = ys[s]![t + h]!;
        const q = f.forecast[h - 1]!.q;
        if (y >= q['0.1']! && y <= q['0.9']!) cover[h - 1] = cover[h - 1]! + 1;
        abs[h - 1] = abs[h - 1]! + Math.abs(y - f.forecast[h - 1]!.mean);
      }
      n++;
    }
  }
  return { coverage: cover.map((c) => c / n), mae: abs.map((a) => a / n) };
}

describe('OnlineCalibrator', () => {
  it('widens intervals that are too narrow until realized coverage is nominal, per horizon', () => {
    const cal = new OnlineCalibrator({ horizon: 3, quantiles: Q, stepMs: STEP });
    // A random walk's h-step spread is √h; the model claims ±0.1 at every horizon.
    const { coverage } = simulate(cal, { steps: 6000, bias: 0, width: 0.1 });
    for (const c of coverage) {
      expect(c).toBeGreaterThan(0.76);
      expect(c).toBeLessThan(0.84);
    }
    expect(cal.current.scale[2]!).toBeGreaterThan(5);
    // Longer horizons need wider intervals.
    expect(cal.current.scale[3 * 2 + 2]!).toBeGreaterThan(cal.current.scale[2]!);
  });

  it('moves the centre to the last value when the model is biased, and keeps an unbiased model', () => {
    const biased = new OnlineCalibrator({ horizon: 2, quantiles: Q, stepMs: STEP });
    const { mae } = simulate(biased, { steps: 3000, bias: 4, width: 1 });
    // Any blend whose biases cancel (model +4, baseline −3) is as good as the last value.
    const [w0, , w2] = Array.from(biased.current.blend.subarray(0, 3));
    expect(Math.abs(4 * w0! - 3 * w2!)).toBeLessThan(0.5);
    // The last value is the best forecast of a random walk: MAE ≈ E|N(0, h)| = 0.8·√h, far below the bias of 4.
    expect(mae[0]!).toBeLessThan(1);
    const fine = new OnlineCalibrator({ horizon: 2, quantiles: Q, stepMs: STEP });
    simulate(fine, { steps: 3000, bias: 0, width: 1 });
    expect(fine.current.blend[0]!).toBe(1);
  });

  it('starts from the initial calibration until it has seen enough cells, and after a reset', () => {
    const init = { ...identityCalibration(1, Q), blend: Float32Array.from([0, 0, 1]), scale: Float32Array.from([2, 1, 2]) };
    const cal = new OnlineCalibrator({ horizon: 1, quantiles: Q, stepMs: STEP, minCells: 1000 }, init);
    const out = cal.serve(fc('a', STEP, [[9, 10, 11]]), 20, fc('a', STEP, [[30, 30, 30]], 'baseline'));
    expect(out.forecast[0]).toMatchObject({ mean: 30, q: { '0.1': 28, '0.5': 30, '0.9': 32 } });
    simulate(cal, { steps: 200, bias: 0, width: 1 });
    expect(Array.from(cal.current.blend)).toEqual([0, 0, 1]);
    cal.reset();
    expect(Array.from(cal.current.blend)).toEqual([1, 0, 0]);
    expect(Array.from(cal.current.scale)).toEqual([1, 1, 1]);
  });

  it('follows up at most sampleSeries series, and is deterministic', () => {
    const run = () => {
      const cal = new OnlineCalibrator({ horizon: 2, quantiles: Q, stepMs: STEP, sampleSeries: 3 });
      const r = simulate(cal, { steps: 800, bias: 0, width: 0.2, series: 10, seed: 4 });
      return { r, cal: cal.current };
    };
    const a = run();
    const b = run();
    expect(a.r).toEqual(b.r);
    expect(Array.from(a.cal.scale)).toEqual(Array.from(b.cal.scale));
    // Three series followed up over ~800 steps: each cell counted once per horizon.
    expect(a.cal.cells).toBeLessThanOrEqual(3 * 800 * 2);
    expect(a.cal.cells).toBeGreaterThan(3 * 700 * 2);
  });
});
