import { describe, expect, it } from 'vitest';
import { featureLayout, inputSize } from '../../../src/forecasting/gru/featureLayout.js';
import { buildDatasets, chunkBatch, horizonWeights, splitIndex, type TbpttDataset } from '../../../src/training/datasetBuilder.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import type { SeriesWindow } from '../../../src/state/seriesWindow.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';

const layout = featureLayout(['hourOfDay'], 24);
const I = inputSize(layout.timeFeatures);

function windowsOf(n: number, series: string[], missing?: (i: number) => boolean): SeriesWindow[] {
  const h = new SeriesHistory({ stepMs: HOUR, capacity: 4096 });
  for (const s of series) for (const st of seasonalSteps(s, { n, ...(missing ? { missing } : {}), seed: s.length })) h.append(st);
  return series.map((s) => h.windowOf(s)!);
}

/** Every counted cell of a dataset as [lane, t, h, target]. */
function cellsOf(ds: ReturnType<typeof buildDatasets>['train']): Array<[number, number, number, number]> {
  const out: Array<[number, number, number, number]> = [];
  const C = ds.context;
  const x = new Float32Array(C * I);
  const y = new Float32Array(C * ds.horizon);
  const wt = new Float32Array(C * ds.horizon);
  for (let l = 0; l < ds.lanes; l++) {
    for (let c = 0; c < ds.chunks; c++) {
      chunkBatch(ds, [l], c, x, y, wt);
      for (let t = 0; t < C; t++) for (let h = 1; h <= ds.horizon; h++) if (wt[t * ds.horizon + h - 1]) out.push([l, c * C + t, h, y[t * ds.horizon + h - 1]!]);
    }
  }
  return out;
}

describe('buildDatasets', () => {
  it('has the documented shapes and splits cells into train and held-out without overlap', () => {
    const ws = windowsOf(400, ['a', 'b']);
    const { train, validation, info } = buildDatasets(ws, { layout, horizon: 6, context: 24, valFraction: 0.2, laneSteps: 100, burnIn: 12, valWarmup: 24 });
    expect(info).toMatchObject({ series: 2, steps: 800 });
    const split = splitIndex(400, 0.2);
    expect(split).toBe(320);
    // 320 training steps in lanes of ≥ 100: 3 lanes per series; the longest lane is 106 + 12 burn-in → 5 chunks.
    expect(train.lanes).toBe(6);
    expect(train.chunks).toBe(Math.ceil((Math.floor((3 * 320) / 3) - Math.floor((2 * 320) / 3) + 12) / 24));
    const T = train.chunks * 24;
    expect(train.x.length).toBe(train.lanes * T * I);
    expect(train.value.length).toBe(train.lanes * (T + 6));
    expect(train.lossMask.length).toBe(train.lanes * T);
    // Validation: one lane per series from split − H − warmup to the end.
    expect(validation.lanes).toBe(2);
    expect(validation.chunks).toBe(Math.ceil((400 - (split - 6 - 24)) / 24));
    // Every (origin, horizon) cell whose target is observed is in exactly one set.
    const trainCells = cellsOf(train);
    const valCells = cellsOf(validation);
    expect(trainCells.length).toBe(train.cells);
    expect(valCells.length).toBe(validation.cells);
    let expected = 0;
    for (let t = 0; t < 400; t++) for (let h = 1; h <= 6 && t + h < 400; h++) expected++;
    expect(train.cells + validation.cells).toBe(2 * expected);
  });

  it('expresses targets in the origin scale and masks unobserved targets (gaps)', () => {
    const missing = (i: number): boolean => i % 10 === 7 || (i >= 150 && i < 160);
    const [w] = windowsOf(300, ['a'], missing);
    const { train, validation } = buildDatasets([w!], { layout, horizon: 4, context: 16, valFraction: 0.25, laneSteps: 1000, burnIn: 0 });
    expect(train.lanes).toBe(1);
    const split = splitIndex(300, 0.25);
    const cells = cellsOf(train);
    for (const [, t, h, y] of cells) {
      expect(missing(t + h)).toBe(false);
      expect(t + h).toBeLessThan(split);
      const exact = (w!.z[t + h]! * w!.std[t + h]! + w!.mean[t + h]! - w!.mean[t]!) / w!.std[t]!;
      // The dataset stores targets as float32: equal up to that rounding (|y| is up to ~170 here).
      expect(y).toBe(Math.fround(exact));
    }
    let expected = 0;
    for (let t = 0; t < split; t++) for (let h = 1; h <= 4; h++) if (t + h < split && !missing(t + h)) expected++;
    expect(cells.length).toBe(expected);
    for (const [, t, h] of cellsOf(validation)) {
      // Validation lanes start before the split; map back to series index.
      const start = Math.max(0, split - 4 - 2 * 16);
      expect(start + t + h).toBeGreaterThanOrEqual(split);
      expect(missing(start + t + h)).toBe(false);
    }
    // Inputs carry the missing mask and time since the last observation.
    const row = (t: number): Float32Array => train.x.subarray(t * I, (t + 1) * I);
    expect(row(7)[1]).toBe(0);
    expect(row(8)[1]).toBe(1);
    expect(row(155)[2]).toBeGreaterThan(row(151)[2]!);
  });

  it('masks burn-in steps of lanes that start mid-series', () => {
    const [w] = windowsOf(400, ['a']);
    const { train } = buildDatasets([w!], { layout, horizon: 2, context: 10, valFraction: 0, laneSteps: 100, burnIn: 7 });
    expect(train.lanes).toBe(4);
    const T = train.chunks * 10;
    const masked = (l: number): number => {
      let n = 0;
      while (n < T && !train.lossMask[l * T + n]) n++;
      return n;
    };
    expect(masked(0)).toBe(0);
    expect(masked(1)).toBe(7);
    expect(masked(3)).toBe(7);
  });
});

describe('horizonWeights', () => {
  /** One lane of T origins; the value at step i is `at(i)`; every origin counts, every target is observed but `unobserved`. */
  function dataset(T: number, H: number, at: (i: number) => number, unobserved: ReadonlySet<number> = new Set()): TbpttDataset {
    return {
      inputSize: 1,
      horizon: H,
      context: T,
      lanes: 1,
      chunks: 1,
      x: new Float32Array(T),
      value: Float64Array.from({ length: T + H }, (_, i) => at(i)),
      mean: Float64Array.from({ length: T }, (_, i) => at(i)),
      std: new Float64Array(T).fill(2),
      lossMask: new Uint8Array(T).fill(1),
      targetOk: Uint8Array.from({ length: T + H }, (_, i) => (unobserved.has(i) ? 0 : 1)),
      cells: T * H,
    };
  }

  it('weighs each horizon by the inverse square root of its base error, to a mean of 1, and the batch carries them', () => {
    // A straight line rising 2 per step in std 2: the base (last value) misses by h at horizon h.
    const ds = dataset(20, 4, (i) => 2 * i);
    const w = horizonWeights(ds);
    const raw = [1, 2, 3, 4].map((h) => 1 / Math.sqrt(h));
    const mean = raw.reduce((a, b) => a + b, 0) / 4;
    for (let h = 0; h < 4; h++) expect(w[h]).toBeCloseTo(raw[h]! / mean, 12);
    expect(horizonWeights(ds, 1)[0]! / horizonWeights(ds, 1)[3]!).toBeCloseTo(4, 12);
    expect([...horizonWeights(ds, 0)]).toEqual([1, 1, 1, 1]);
    const x = new Float32Array(20);
    const target = new Float32Array(20 * 4);
    const weight = new Float32Array(20 * 4);
    chunkBatch(ds, [0], 0, x, target, weight, w);
    expect(weight[5 * 4 + 2]).toBeCloseTo(w[2]!, 6);
    expect(target[5 * 4 + 2]).toBeCloseTo(3, 12);
  });

  it('ignores cells that do not count, and gives a horizon with no error weight 1', () => {
    // A spike at step 9 (origin 7, h = 2) weighs only when that target counts.
    const at = (i: number) => (i === 9 ? 1e6 : i % 3);
    const unobserved = new Set([9]);
    const without = horizonWeights(dataset(8, 2, (i) => (i === 9 ? 0 : i % 3), unobserved));
    expect([...horizonWeights(dataset(8, 2, at, unobserved))]).toEqual([...without]);
    expect(horizonWeights(dataset(8, 2, at))[1]!).toBeLessThan(0.01);
    expect([...horizonWeights(dataset(8, 2, () => 5))]).toEqual([1, 1]);
  });
});
