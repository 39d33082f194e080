import { createBaseline } from '../forecasting/baseline/createBaseline.js';
import type { Forecaster } from '../forecasting/forecaster.js';
import { fitCalibration } from '../forecasting/gru/calibration.js';
import type { Calibration } from '../forecasting/gru/calibration.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { baseLag } from '../forecasting/gru/residualBase.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { SeriesWindow } from '../state/seriesWindow.js';
import { heldOutTargets, replayForCalibration } from './calibrationReplay.js';

/** Held-out cells per horizon below which no offline calibration is fitted. */
const OFFLINE_MIN_CELLS = 1000;

/**
 * A forecaster that serves `weights` exactly as production does (residual base, re-warm, online
 * calibration: ModelRuntime without a retrainer), fresh for each call. The composition root
 * supplies it (training/modelLifecycle.ts), so that the calibration replay runs the serving code
 * itself rather than a copy of it.
 */
export type ServingCopy = (weights: GruModelWeights) => Forecaster;

/**
 * The candidate's held-out blend and interval calibration: its newest slice of each series'
 * history replayed through a serving copy of the candidate and the baseline, then fitted
 * (gru/calibration.ts). The copy serves the candidate without an offline calibration; its
 * combiner starts from the GRU alone and learns along the replay, as it would in service.
 * Undefined when the slice is too small to fit.
 */
export async function calibrateCandidate(candidate: GruModelWeights, windows: readonly SeriesWindow[], opts: { readonly spec: PipelineSpec; readonly valFraction: number; readonly serve: ServingCopy }): Promise<Calibration | undefined> {
  const { spec } = opts;
  // Fewer held-out targets than the minimum cells per horizon: the replay could not fit anything
  // (one series of a weekly-retrained hourly file never can), so it is not run at all.
  if (heldOutTargets(windows, { horizon: spec.model.horizon, valFraction: opts.valFraction }) < OFFLINE_MIN_CELLS) return undefined;
  const plain: GruModelWeights = { version: Math.max(1, candidate.version), layout: candidate.layout, cell: candidate.cell, head: candidate.head };
  const serving = opts.serve(plain);
  const baseline = createBaseline({ type: spec.baseline.type, seasonMs: spec.baseline.season }, { name: spec.name, stepMs: spec.window.step, horizon: spec.model.horizon, quantiles: spec.model.quantiles });
  const season = Math.round(spec.baseline.season / spec.window.step);
  try {
    const cells = await replayForCalibration(windows, {
      model: serving,
      baseline,
      horizon: spec.model.horizon,
      quantiles: spec.model.quantiles,
      valFraction: opts.valFraction,
      warmup: Math.max(baseLag(candidate.layout.base), season) + 2 * spec.model.context,
    });
    // A few hundred correlated cells per horizon make a noisy fit (nyc_taxi: worse than none);
    // then the combiner starts from the GRU alone instead.
    return cells.size >= OFFLINE_MIN_CELLS * spec.model.horizon ? fitCalibration(cells) : undefined;
  } finally {
    await serving.close?.();
  }
}
