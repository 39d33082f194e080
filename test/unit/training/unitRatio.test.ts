import { describe, expect, it } from 'vitest';
import { windowChangeScale } from '../../../src/forecasting/gru/changeScale.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import type { GruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { anchorIndex } from '../../../src/forecasting/gru/quantileHead.js';
import { buildDatasets, rebaseDataset, splitIndex, unitRatio } from '../../../src/training/datasetBuilder.js';
import type { TbpttDataset } from '../../../src/training/datasetBuilder.js';
import { weightsLoss } from '../../../src/training/evaluateLoss.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';
import type { SeriesWindow } from '../../../src/state/seriesWindow.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';

const H = 4;
const QS = [0.1, 0.5, 0.9];
const VAL = 0.2;
const layout = featureLayout(['hourOfDay'], 6, undefined, { kind: 'last-value' });

function windowsOf(n: number, series: string[]): SeriesWindow[] {
  const h = new SeriesHistory({ stepMs: HOUR, capacity: 4096 });
  for (const s of series) for (const st of seasonalSteps(s, { n, period: 50, noise: 2, seed: s.length + 3 })) h.append(st);
  return series.map((s) => h.windowOf(s)!);
}

/** The last-value validation set in the unit `originScale` gives (the std without one). */
function validationIn(ws: readonly SeriesWindow[], originScale?: (w: SeriesWindow) => Float64Array): TbpttDataset {
  const { validation } = buildDatasets(ws, { layout, horizon: H, context: 12, valFraction: VAL, ...(originScale !== undefined ? { originScale } : {}) });
  rebaseDataset(validation, { kind: 'last-value' });
  return validation;
}

/** A model whose every quantile is 0 (the last value itself, in any unit): a zero head, the levels beside the anchor pushed to +0. */
function lastValueModel(): GruModelWeights {
  const w = initGruModelWeights({ layout, units: 8, horizon: H, quantiles: QS }, 1);
  const a = anchorIndex(QS);
  const bias = Float32Array.from({ length: H * QS.length }, (_, i) => (i % QS.length === a ? 0 : -40));
  return { ...w, head: { ...w.head, kernel: new Float32Array(w.head.kernel.length), bias } };
}

/** By hand, from the windows: mean pinball of 0 against (y[t+h] − y[t]) / std[t] over the held-out cells and levels. */
function handStdLoss(ws: readonly SeriesWindow[]): number {
  let sum = 0;
  let cells = 0;
  for (const w of ws) {
    const v = (i: number) => w.z[i]! * w.std[i]! + w.mean[i]!;
    const split = splitIndex(w.length, VAL);
    for (let t = Math.max(0, split - H); t < w.length - 1; t++) {
      for (let h = 1; h <= H && t + h < w.length; h++) {
        if (t + h < split || !w.observed[t + h]) continue;
        const y = (v(t + h) - v(t)) / w.std[t]!;
        for (const tau of QS) sum += y >= 0 ? tau * y : (tau - 1) * y;
        cells++;
      }
    }
  }
  return sum / (cells * QS.length);
}

describe('unitRatio: a held-out loss in change units, expressed in std units', () => {
  const ws = windowsOf(300, ['a', 'bb']);
  const model = lastValueModel();

  it('a unit k × the std: the ratio is k at every counted origin, and the converted loss is k × the loss in that unit', async () => {
    const k = 3;
    const std = validationIn(ws);
    const scaled = validationIn(ws, (w) => w.std.map((s) => k * s));
    const ratio = unitRatio(scaled, std);
    const T = std.chunks * std.context;
    let counted = 0;
    for (let i = 0; i < std.lanes * T; i++) {
      if (!std.lossMask[i]) continue;
      expect(ratio[i]).toBeCloseTo(k, 12);
      counted++;
    }
    expect(counted).toBeGreaterThan(0);
    const hand = handStdLoss(ws);
    const inStd = (await weightsLoss(model, std))!;
    const inScaled = (await weightsLoss(model, scaled))!;
    const converted = (await weightsLoss(model, scaled, undefined, undefined, ratio))!;
    expect(inStd).toBeCloseTo(hand, 5);
    // The same forecast (the last value) scored in a unit k times larger: k times smaller a loss…
    expect(inScaled).toBeCloseTo(hand / k, 5);
    // …which the ratio turns back into std units (a mean over cells, not over the weights it multiplies).
    expect(converted).toBeCloseTo(hand, 5);
    expect(converted).toBeCloseTo(k * inScaled, 5);
  });

  it('the change scale (a per-origin ratio): the last value scores the same in std units from either dataset', async () => {
    const std = validationIn(ws);
    const change = validationIn(ws, (w) => windowChangeScale(w, 24));
    const ratio = unitRatio(change, std);
    const T = std.chunks * std.context;
    const seen = new Set<string>();
    for (let i = 0; i < std.lanes * T; i++) if (std.lossMask[i]) seen.add(ratio[i]!.toFixed(6));
    // Not one factor: the conversion is per origin.
    expect(seen.size).toBeGreaterThan(10);
    const hand = handStdLoss(ws);
    const inChange = (await weightsLoss(model, change))!;
    const converted = (await weightsLoss(model, change, undefined, undefined, ratio))!;
    expect(Math.abs(inChange - hand) / hand).toBeGreaterThan(0.1);
    expect(converted).toBeCloseTo(hand, 5);
  });

  it('refuses datasets of different shapes (not built from the same windows)', () => {
    expect(() => unitRatio(validationIn(ws), validationIn(windowsOf(200, ['a'])))).toThrow(/shape/);
  });
});
