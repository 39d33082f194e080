import { ConfigError } from '../domain/errors.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { mulberry32 } from '../domain/random.js';
import type { TbpttDataset } from './datasetBuilder.js';
import { splitIndex } from './datasetBuilder.js';
import { createTrainingModel } from './trainingKernel.js';
import type { TrainingKernel } from './trainingKernel.js';
import type { SeriesWindow } from '../state/seriesWindow.js';
import { evaluateDataset } from './trainLoop.js';

/**
 * Validation loss of `weights` on a dataset: mean pinball loss per (origin, horizon) cell and
 * quantile level, in normalized units (the scale at each origin). Runs tf ops on the calling
 * thread: fine in tests and the CLI; a serving process gets the same number from the trainer
 * worker (TrainRequest.current → currentValLoss). `lossScale`: see evaluateDataset.
 */
export async function weightsLoss(weights: GruModelWeights, ds: TbpttDataset, batchLanes = 32, kernel: TrainingKernel = 'js', lossScale?: Float64Array): Promise<number | undefined> {
  const model = createTrainingModel(kernel, weights);
  try {
    return await evaluateDataset(model, ds, batchLanes, undefined, lossScale);
  } finally {
    model.dispose();
  }
}

export interface BaselineLossOptions {
  readonly horizon: number;
  readonly quantiles: readonly number[];
  /** Must equal the datasets' valFraction so both score the same cells. */
  readonly valFraction: number;
  /** Season of the seasonal-naive point forecast in steps; 1 is last value. */
  readonly seasonSteps: number;
  /** Residuals kept per horizon to estimate the quantile offsets (default 4096). */
  readonly residualSample?: number;
  readonly seed?: number;
  /** The unit of each origin's targets (default the std), as the datasets' `originScale`. */
  readonly originScale?: (w: SeriesWindow) => Float64Array;
  /**
   * Score every cell of the history, the quantile offsets fitted on the same cells (default:
   * the held-out slice, offsets from the cells before it). For choosing among baselines, which
   * learn nothing but those few offsets, so need no held-out slice: the whole history is a far
   * larger sample than its newest 15 %.
   */
  readonly inSample?: boolean;
}

/**
 * The baseline's validation loss on exactly the cells buildDatasets holds out (target at or after
 * each series' split, origin at most `horizon` steps before it), in the same units: the point
 * forecast is seasonal naive (value one season before the target, wrapped into the past:
 * t + h − m·⌈h/m⌉), or the last value where that step is before the window, expressed in the
 * origin's scale; its quantiles add the empirical quantiles of the same forecast's residuals on
 * the training cells (per horizon, a seeded reservoir sample), as the served baselines do.
 * Undefined when there are no held-out cells.
 */
export function baselineLoss(windows: Iterable<SeriesWindow>, opts: BaselineLossOptions): number | undefined {
  const { horizon: H, quantiles, seasonSteps: m } = opts;
  if (!Number.isInteger(m) || m < 1) throw new ConfigError(`baseline season is ${m} steps; use a whole number ≥ 1`);
  const cap = opts.residualSample ?? 4096;
  const uniform = mulberry32(opts.seed ?? 1);
  const reservoirs = Array.from({ length: H }, () => ({ seen: 0, xs: [] as number[] }));
  const ws = [...windows];
  const units = new Map(ws.map((w) => [w, opts.originScale?.(w) ?? w.std]));
  const point = (w: SeriesWindow, t: number, h: number): number => {
    const src = t + h - m * Math.ceil(h / m);
    const i = src >= 0 ? src : t;
    return (w.z[i]! * w.std[i]! + w.mean[i]! - w.mean[t]!) / units.get(w)![t]!;
  };
  const target = (w: SeriesWindow, t: number, h: number): number => (w.z[t + h]! * w.std[t + h]! + w.mean[t + h]! - w.mean[t]!) / units.get(w)![t]!;
  for (const w of ws) {
    const split = opts.inSample === true ? w.length : splitIndex(w.length, opts.valFraction);
    for (let t = 0; t < split - 1; t++) {
      for (let h = 1; h <= H && t + h < split; h++) {
        if (!w.observed[t + h]) continue;
        const r = target(w, t, h) - point(w, t, h);
        if (!Number.isFinite(r)) continue;
        const res = reservoirs[h - 1]!;
        res.seen++;
        if (res.xs.length < cap) res.xs.push(r);
        else {
          const j = Math.floor(uniform() * res.seen);
          if (j < cap) res.xs[j] = r;
        }
      }
    }
  }
  const offsets = reservoirs.map((res) => {
    const xs = res.xs.sort((a, b) => a - b);
    return quantiles.map((q) => (xs.length === 0 ? 0 : empiricalQuantile(xs, q)));
  });
  let sum = 0;
  let cells = 0;
  for (const w of ws) {
    const split = opts.inSample === true ? 0 : splitIndex(w.length, opts.valFraction);
    for (let t = Math.max(0, split - H); t < w.length - 1; t++) {
      for (let h = 1; h <= H && t + h < w.length; h++) {
        if (t + h < split || !w.observed[t + h]) continue;
        const y = target(w, t, h);
        const p = point(w, t, h);
        if (!Number.isFinite(y) || !Number.isFinite(p)) continue;
        const off = offsets[h - 1]!;
        for (let j = 0; j < quantiles.length; j++) sum += pinball(y, p + off[j]!, quantiles[j]!);
        cells++;
      }
    }
  }
  return cells > 0 ? sum / (cells * quantiles.length) : undefined;
}

function pinball(y: number, q: number, tau: number): number {
  const d = y - q;
  return d >= 0 ? tau * d : (tau - 1) * d;
}

/** Linear interpolation between order statistics (type 7), xs sorted ascending. */
function empiricalQuantile(xs: readonly number[], q: number): number {
  const pos = (xs.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(xs.length - 1, lo + 1);
  return xs[lo]! + (xs[hi]! - xs[lo]!) * (pos - lo);
}

export type MustBeat = 'baseline' | 'current' | 'both';

export interface PromotionInput {
  /** Candidate's validation loss (undefined or non-finite: never promoted). */
  readonly candidate: number | undefined;
  /** Loss of the model in service on the same cells; undefined when none is (baseline serving). */
  readonly current?: number | undefined;
  /** Best baseline's loss on the same cells. */
  readonly baseline: number | undefined;
  readonly mustBeat: MustBeat;
  /**
   * Set when the candidate fine-tuned the model in service and no epoch beat its held-out loss:
   * the candidate then *is* the current model (the training loop keeps the best weights, and the
   * initial ones were best), so its loss equals the current one exactly. `bestEpochLoss` is the
   * best loss an epoch reached, `epochs` how many ran.
   */
  readonly unimproved?: { readonly epochs: number; readonly bestEpochLoss: number | undefined };
}

/**
 * A loss in a gate message: six significant digits (four decimals printed two different
 * losses as the same 0.0843), and the relative gap when the two compared still print alike.
 */
export function formatLoss(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(6) : String(x);
}

function versus(c: number, other: number): string {
  const a = formatLoss(c);
  const b = formatLoss(other);
  if (a !== b || c === other) return `${a} vs ${b}`;
  return `${a} vs ${b} (${(((c - other) / Math.abs(other)) * 100).toExponential(2)} %)`;
}

/**
 * Whether a trained model replaces the one in service (DESIGN.md: only if it beats the current
 * model and the baseline on the newest held-out slice). Strictly lower loss is required; a missing
 * loss to beat counts as beaten only for `current` (nothing in service yet), never for the
 * baseline (no held-out cells means no evidence). A fine-tune whose epochs all did worse than the
 * model in service (`unimproved`) is rejected as such, not as a tie with itself.
 */
export function promotionDecision(input: PromotionInput): { promote: boolean; reason: string } {
  const c = input.candidate;
  const fmt = formatLoss;
  if (c === undefined || !Number.isFinite(c)) return { promote: false, reason: 'candidate has no finite validation loss (no held-out cells?)' };
  const cur = input.current;
  const needCurrent = input.mustBeat !== 'baseline';
  const u = input.unimproved;
  if (u !== undefined && needCurrent && cur !== undefined && Number.isFinite(cur)) {
    const best = u.bestEpochLoss;
    return {
      promote: false,
      reason:
        `fine-tuning did not improve on the current model: none of ${u.epochs} epoch${u.epochs === 1 ? '' : 's'} beat its held-out loss ` +
        `(best epoch ${best === undefined ? 'had no loss' : fmt(best)} vs current ${fmt(cur)}); the current model stays`,
    };
  }
  const needBaseline = input.mustBeat !== 'current';
  const b = input.baseline;
  if (needBaseline) {
    if (b === undefined || !Number.isFinite(b)) return { promote: false, reason: 'no baseline loss on the held-out slice to compare with' };
    if (!(c < b)) return { promote: false, reason: `candidate loss does not beat the baseline's: ${versus(c, b)}` };
  }
  if (needCurrent && cur !== undefined && Number.isFinite(cur) && !(c < cur)) {
    return { promote: false, reason: `candidate loss does not beat the current model's: ${versus(c, cur)}` };
  }
  const parts = [`candidate ${fmt(c)}`];
  if (needBaseline && b !== undefined) parts.push(`baseline ${fmt(b)}`);
  if (cur !== undefined && Number.isFinite(cur)) parts.push(`current ${fmt(cur)}`);
  return { promote: true, reason: `beats ${input.mustBeat === 'both' ? 'current and baseline' : input.mustBeat}: ${parts.join(', ')}` };
}
