import { windowChangeScale } from '../forecasting/gru/changeScale.js';
import type { LagInput } from '../forecasting/gru/featureLayout.js';
import { seasonalLags } from '../forecasting/gru/seasonalLags.js';
import type { ResidualBase } from '../forecasting/gru/residualBase.js';
import { changeHalfLife } from '../forecasting/gru/residualBase.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { SeriesWindow } from '../state/seriesWindow.js';
import { baselineLoss } from './evaluateLoss.js';

const DAY = 86_400_000;
/** A seasonal base must beat the last value's held-out loss by this factor (see chooseBase). */
const SEASONAL_MARGIN = 0.85;

/** Seasons (in steps) the baselines use: one day and one week where the step divides them, and the spec's. */
export function seasonCandidates(spec: PipelineSpec, maxSteps: number): number[] {
  const out = new Set<number>();
  for (const ms of [DAY, 7 * DAY, spec.baseline.season]) {
    const m = ms / spec.window.step;
    if (Number.isInteger(m) && m >= 2 && m <= maxSteps) out.add(m);
  }
  return [...out];
}

/** The unit of `base`'s targets at each step of a window, when it is not the std (see datasetBuilder's `originScale`). */
export function originScaleOf(base: ResidualBase): ((w: SeriesWindow) => Float64Array) | undefined {
  const k = changeHalfLife(base);
  return k === undefined ? undefined : (w) => windowChangeScale(w, k);
}

/**
 * The best baseline's loss on the held-out slice (mean pinball, in the units of `base`'s targets,
 * so that it compares with the model's): the promotion gate's bar.
 */
export function bestBaselineLoss(windows: readonly SeriesWindow[], spec: PipelineSpec, valFraction: number, base?: ResidualBase): number | undefined {
  const unit = base === undefined ? undefined : originScaleOf(base);
  const common = { horizon: spec.model.horizon, quantiles: spec.model.quantiles, valFraction, ...(unit !== undefined ? { originScale: unit } : {}) };
  let best: number | undefined;
  for (const m of [1, ...seasonCandidates(spec, Number.POSITIVE_INFINITY)]) {
    const l = baselineLoss(windows, { ...common, seasonSteps: m });
    if (l !== undefined && (best === undefined || l < best)) best = l;
  }
  return best;
}

/**
 * The residual base for a pipeline's first model: the baseline with the lowest loss over the
 * whole history (a season only where it is at least the horizon, leaves half the history, and
 * beats the last value by a margin). Over the whole history, not its held-out slice: a baseline
 * learns nothing to hold out for, and the base is kept for the model's life, so it is chosen on
 * the largest sample there is (ETTh1 OT at its first training, 720 hours: a day ago is 0.62 × the
 * last value's error on the newest 108 hours, 1.02 × over all 720, and 1.12 × over the
 * following two years). The last value comes in the change scale (see changeScale.ts), with
 * the normaliser's half-life in steps; the retrainer then trains it in the std too and keeps the
 * unit with the lower held-out loss (retrainer.ts, DESIGN.md "change units").
 */
export function chooseBase(windows: readonly SeriesWindow[], spec: PipelineSpec, capacity: number, valFraction: number): ResidualBase {
  const common = { horizon: spec.model.horizon, quantiles: spec.model.quantiles, valFraction, inSample: true };
  const changeHalfLife = Math.max(1, Math.round(spec.normalize.halfLife / spec.window.step));
  let best: { loss: number; base: ResidualBase } = { loss: baselineLoss(windows, { ...common, seasonSteps: 1 }) ?? Number.POSITIVE_INFINITY, base: { kind: 'last-value', changeHalfLife } };
  for (const m of seasonCandidates(spec, Math.floor(capacity / 2))) {
    if (m < spec.model.horizon) continue;
    const l = baselineLoss(windows, { ...common, seasonSteps: m });
    // A seasonal base hides the last value from the model (it sees differences only), which
    // costs the short horizons; it has to win clearly to be worth that.
    if (l !== undefined && l < SEASONAL_MARGIN * best.loss) best = { loss: l / SEASONAL_MARGIN, base: { kind: 'seasonal', steps: m } };
  }
  return best.base;
}

/**
 * The seasonal-lag inputs of a pipeline's first model (`model.lags`, see seasonalLags.ts): a list
 * or `none` as written; under `auto`, those of its seasons whose seasonal naive beats the last
 * value over the whole history (mean pinball, as chooseBase measures). A season that
 * does not repeat (a drifting sensor: a day ago is six times worse than the last value on
 * machine_temperature) only feeds the model saturated noise: with its lags on, that series lost
 * 4 % against the last value.
 */
export function chooseLags(windows: readonly SeriesWindow[], spec: PipelineSpec, base: ResidualBase, valFraction: number): LagInput[] {
  const all = seasonalLags(spec, base);
  if (spec.model.lags !== 'auto' || all.length === 0) return all;
  const common = { horizon: spec.model.horizon, quantiles: spec.model.quantiles, valFraction, inSample: true };
  const last = baselineLoss(windows, { ...common, seasonSteps: 1 });
  if (last === undefined) return [];
  return all.filter((l) => {
    const loss = baselineLoss(windows, { ...common, seasonSteps: l.steps });
    return loss !== undefined && loss < last;
  });
}
