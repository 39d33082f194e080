import type { Forecast } from '../domain/forecast.js';
import { quantileKey } from '../domain/forecast.js';
import type { NormalizedStep } from '../domain/step.js';
import { splitIndex } from './datasetBuilder.js';
import { windowSteps } from '../state/seriesWindow.js';
import type { SeriesWindow } from '../state/seriesWindow.js';
import type { Forecaster } from '../forecasting/forecaster.js';
import { CalibrationCells } from '../forecasting/gru/calibration.js';

/** Step indices replayed between yields to the event loop. */
const YIELD_EVERY = 32;

export interface CalibrationReplayOptions {
  /** Serves the candidate model exactly as in production (a ModelRuntime without a retrainer), without an offline calibration. */
  readonly model: Forecaster;
  /** The pipeline's baseline, fresh. */
  readonly baseline: Forecaster;
  readonly horizon: number;
  readonly quantiles: readonly number[];
  /** Held-out newest fraction of each window (as the datasets split it). */
  readonly valFraction: number;
  /** Steps replayed before the first held-out origin, for the model's and the baseline's state. */
  readonly warmup: number;
  /** At most this many windows (the longest first): the replay costs about one serving step per cell. */
  readonly maxSeries?: number;
}

/**
 * Replays the held-out end of each series' history through `model` and `baseline` in time order
 * (one batch per step index, all series together) and collects, for every held-out origin and
 * horizon whose target was observed, the model's quantiles, the last value, the baseline's centre
 * and the actual: the cells `fitCalibration` learns its blend and spreads from. Only origins the
 * model served itself (`model.kind` gru) count.
 */
export async function replayForCalibration(windows: readonly SeriesWindow[], opts: CalibrationReplayOptions): Promise<CalibrationCells> {
  const { horizon: H, quantiles } = opts;
  const keys = quantiles.map(quantileKey);
  const cells = new CalibrationCells(H, quantiles);
  const chosen = replayedWindows(windows, H, opts.maxSeries);
  const lanes = chosen.map((w) => {
    const split = splitIndex(w.length, opts.valFraction);
    // Origins from split − H on have a target in the held-out part.
    const firstOrigin = Math.max(0, split - H);
    const from = Math.max(0, firstOrigin - opts.warmup);
    return { w, from, firstOrigin, split, steps: windowSteps(w, from).map((s, k) => (k === 0 ? { ...s, reset: true } : s)) };
  });
  const span = lanes.reduce((n, l) => Math.max(n, l.steps.length), 0);
  const qs = new Float64Array(quantiles.length);
  for (let p = 0; p < span; p++) {
    // Beside a live stream (background retraining) the replay gives the event loop a turn now and then.
    if (p % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((r) => setImmediate(r));
    const batch: NormalizedStep[] = [];
    const who: number[] = [];
    lanes.forEach((l, i) => {
      const s = l.steps[p];
      if (s !== undefined) {
        batch.push(s);
        who.push(i);
      }
    });
    const fm = opts.model.step(batch);
    const fb = opts.baseline.step(batch);
    for (let k = 0; k < batch.length; k++) {
      const lane = lanes[who[k]!]!;
      const t = lane.from + p;
      if (t < lane.firstOrigin) continue;
      const f: Forecast = fm[k]!;
      if (f.model.kind !== 'gru') continue;
      const w = lane.w;
      for (let h = 1; h <= H && t + h < w.length; h++) {
        const target = t + h;
        if (target < lane.split || w.observed[target] !== 1) continue;
        const hf = f.forecast[h - 1]!;
        for (let j = 0; j < keys.length; j++) qs[j] = hf.q[keys[j]!]!;
        const actual = w.z[target]! * w.std[target]! + w.mean[target]!;
        cells.push(h, actual, qs, batch[k]!.value, fb[k]!.forecast[h - 1]!.mean);
      }
    }
  }
  return cells;
}

/** The windows a replay takes: those longer than H + 1, the longest first, at most `maxSeries` (default 512). */
function replayedWindows(windows: readonly SeriesWindow[], H: number, maxSeries = 512): SeriesWindow[] {
  return [...windows].filter((w) => w.length > H + 1).sort((a, b) => b.length - a.length || (a.series < b.series ? -1 : 1)).slice(0, maxSeries);
}

/**
 * An upper bound on the cells per horizon `replayForCalibration` can collect from these windows:
 * the observed held-out targets of the windows it replays (each target is one cell per horizon at
 * most). Costs a pass over the held-out flags, not a replay, so a caller can skip a replay that
 * cannot reach its minimum.
 */
export function heldOutTargets(windows: readonly SeriesWindow[], opts: { readonly horizon: number; readonly valFraction: number; readonly maxSeries?: number }): number {
  let n = 0;
  for (const w of replayedWindows(windows, opts.horizon, opts.maxSeries)) {
    for (let i = splitIndex(w.length, opts.valFraction); i < w.length; i++) if (w.observed[i] === 1) n++;
  }
  return n;
}
