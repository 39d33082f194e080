import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NormalizedStep } from '../../../src/domain/step.js';
import type { GruInputStep } from '../../../src/forecasting/gru/featureLayout.js';
import { featureLayout, lagInputColumns, layoutInputSize } from '../../../src/forecasting/gru/featureLayout.js';
import { GruForecaster } from '../../../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import type { ResidualBase } from '../../../src/forecasting/gru/residualBase.js';
import { baseLag, rebaseWindow } from '../../../src/forecasting/gru/residualBase.js';
import { ModelRuntime } from '../../../src/forecasting/modelRuntime.js';
import { originScaleOf } from '../../../src/training/baseChoice.js';
import { buildDatasets } from '../../../src/training/datasetBuilder.js';
import { runtimeSpec } from '../../helpers/runtimeSpec.js';
import { seasonalSteps } from '../../helpers/trainingSeries.js';

const spec = runtimeSpec();
const LAGS = [
  { steps: 24, offsets: [1, 2, 3] },
  { steps: 48, offsets: [1, 5] },
];

function interleave(...series: NormalizedStep[][]): NormalizedStep[] {
  const out: NormalizedStep[] = [];
  for (let i = 0; i < series[0]!.length; i++) for (const s of series) out.push(s[i]!);
  return out;
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Base columns under a seasonal base of 12 steps (featureLayout.ts). */
const BASE_OFFSETS = [1, 3, 11];

describe('seasonal-lag and base inputs: serving writes what training writes', () => {
  for (const base of [{ kind: 'none' }, { kind: 'last-value', changeHalfLife: 24 }, { kind: 'seasonal', steps: 12 }] as ResidualBase[]) {
    it(`live steps and re-warms read the lag columns of the training set for the same series (base ${base.kind})`, () => {
      const offsets = base.kind === 'seasonal' ? BASE_OFFSETS : [];
      const layout = featureLayout(['hourOfDay'], 6, 10, base, false, LAGS, offsets);
      const weights = (v: number) => initGruModelWeights({ layout, units: 8, horizon: 4, quantiles: [0.1, 0.5, 0.9] }, v, v);
      const seen: { series: string; ts: number; lag: Float32Array | undefined }[] = [];
      const real = GruForecaster.prototype.step;
      vi.spyOn(GruForecaster.prototype, 'step').mockImplementation(function (this: GruForecaster, batch: readonly GruInputStep[]) {
        for (const s of batch) seen.push({ series: s.series, ts: s.ts, lag: s.lagInputs === undefined ? undefined : Float32Array.from(s.lagInputs) });
        return real.call(this, batch);
      });
      const rt = new ModelRuntime({ spec, initial: weights(1), calibrate: false });
      const steps = interleave(seasonalSteps('a', { n: 130, seed: 1 }), seasonalSteps('b', { n: 130, seed: 2, amplitude: 5, level: 3 }));
      for (let i = 0; i < 200; i += 10) rt.step(steps.slice(i, i + 10));
      // A new version: each series re-warms from its history on its next step, then steps live on.
      rt.install(weights(2));
      for (let i = 200; i < steps.length; i += 10) rt.step(steps.slice(i, i + 10));
      const I = layoutInputSize(layout);
      const L = lagInputColumns(layout);
      expect(L).toBe(7 + offsets.length);
      const unit = originScaleOf(base);
      let checked = 0;
      let known = 0;
      let baseSeen = 0;
      for (const series of ['a', 'b']) {
        const raw = rt.history.windowOf(series)!;
        expect(raw.length).toBe(130);
        // Under a seasonal base the model (and its lags) sees the seasonal difference, from step m on.
        const w = rebaseWindow(raw, base)!;
        const ds = buildDatasets([w], { layout, horizon: 4, context: 24, valFraction: 0, laneSteps: 1000, raw: new Map([[w, raw]]), ...(unit !== undefined ? { originScale: unit } : {}) }).train;
        const y = (i: number) => raw.z[i]! * raw.std[i]! + raw.mean[i]!;
        expect(ds.lanes).toBe(1);
        for (const s of seen.filter((x) => x.series === series)) {
          const t = (s.ts - w.firstTs) / w.stepMs;
          const want = ds.x.subarray(t * I + I - L, t * I + I);
          expect(s.lag, `${series} step ${t}`).toBeDefined();
          // The flags exactly; the values to the float16 precision of the history training reads: 2^-11 of |y − mean| / std.
          for (const j of [0, 4]) expect(s.lag![j], `${series} step ${t} flag ${j}`).toBe(want[j]);
          for (let j = 0; j < L; j++) expect(Math.abs(s.lag![j]! - want[j]!), `${series} step ${t} column ${j}: ${s.lag![j]} vs ${want[j]}`).toBeLessThan(0.02 + 0.01 * Math.abs(want[j]!));
          // The base columns: where the base's forecast at k lies from the last value, in the step's std.
          for (let j = 0; j < offsets.length; j++) {
            const at = t + baseLag(base);
            const k = offsets[j]!;
            const expected = (y(at + k - baseLag(base)) - y(at)) / raw.std[at]!;
            expect(Math.abs(want[7 + j]! - expected), `${series} step ${t} base+${k}`).toBeLessThan(1e-4 + 1e-5 * Math.abs(expected));
            if (Math.abs(expected) > 0.1) baseSeen++;
          }
          checked++;
          if (want[4] === 1) known++;
        }
      }
      // Every live step the GRU served and the re-warms (context 24 steps each) were compared, some with both lags known.
      expect(new Set(seen.map((x) => `${x.series}@${x.ts}`)).size).toBe(2 * (130 - baseLag(base)));
      expect(checked).toBeGreaterThanOrEqual(2 * (130 - baseLag(base)) + 2 * 24);
      expect(known).toBeGreaterThan(100);
      if (offsets.length > 0) expect(baseSeen).toBeGreaterThan(100);
    });
  }
});
