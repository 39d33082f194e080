import { ConfigError, StreamcastError } from '../domain/errors.js';
import type { EpochMs, SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';
import type { FeatureLayout } from '../forecasting/gru/featureLayout.js';
import { clippedZ, lagInputColumns, layoutInputSize, windowLagInputs, writeInput } from '../forecasting/gru/featureLayout.js';
import type { ResidualBase } from '../forecasting/gru/residualBase.js';
import type { SeriesWindow } from '../state/seriesWindow.js';

/**
 * Training data for truncated BPTT, as flat typed arrays (transferable to the trainer worker).
 *
 * A *lane* is a run of consecutive steps of one series, cut into `chunks` non-overlapping chunks
 * of `context` steps; lanes are processed side by side in batches, chunk after chunk, with each
 * lane's hidden state carried from one chunk into the next (and h₀ = 0 at the lane's start), so
 * every step trains once per epoch. Lane-major layout, local step t of lane l at index
 * l·T + t with T = chunks·context; the tail past a lane's end is padding (zero input, no loss).
 *
 * The cell (origin t, horizon h) has target (value[t+h] − mean[t]) / std[t]: the value h steps
 * later in the scale in force at the origin, which is what serving denormalizes the forecast
 * with. It counts in the loss iff lossMask[t] (origin belongs to this set: not padding, not
 * burn-in) and targetOk[t+h] (observed, and its step belongs to this set's targets).
 */
export interface TbpttDataset {
  readonly inputSize: number;
  readonly horizon: number;
  readonly context: number;
  readonly lanes: number;
  readonly chunks: number;
  /** lanes × T × inputSize. */
  readonly x: Float32Array;
  /** lanes × (T + horizon): the value in the series' units (imputed where not observed). */
  readonly value: Float64Array;
  /** lanes × T: the origin scale. */
  readonly mean: Float64Array;
  readonly std: Float64Array;
  /** lanes × T. */
  readonly lossMask: Uint8Array;
  /** lanes × (T + horizon). */
  readonly targetOk: Uint8Array;
  /** Number of (origin, horizon) cells in the loss. */
  readonly cells: number;
}

export interface DatasetOptions {
  readonly layout: FeatureLayout;
  readonly horizon: number;
  /** TBPTT chunk length: the spec's model.context. */
  readonly context: number;
  /** Newest fraction of each series' steps whose values are held out (default 0.15). */
  readonly valFraction?: number;
  /**
   * A series with more training steps than this is split into several lanes of about this
   * length (default 8 × context), so one long series still fills a batch. Default 8·context.
   */
  readonly laneSteps?: number;
  /**
   * A lane that starts mid-series first runs this many earlier steps without loss, so its state
   * is warm when its loss starts (default context / 2). Serving never starts mid-series.
   */
  readonly burnIn?: number;
  /** Steps run before the validation origins to warm the state (default 2 × context). */
  readonly valWarmup?: number;
  /**
   * The unit of each origin's targets, per window step (default the window's std): a base with a
   * change scale (residualBase.ts) gives windowChangeScale. Values are reconstructed from z·std +
   * mean whatever the unit.
   */
  readonly originScale?: (w: SeriesWindow) => Float64Array;
  /** Per window in the model's view, the window it was rebased from: read by the layout's base columns. */
  readonly raw?: ReadonlyMap<SeriesWindow, SeriesWindow>;
}

export interface DatasetInfo {
  readonly series: number;
  readonly steps: number;
  readonly firstTs: EpochMs | undefined;
  readonly lastTs: EpochMs | undefined;
}

export interface Datasets {
  readonly train: TbpttDataset;
  readonly validation: TbpttDataset;
  readonly info: DatasetInfo;
}

/** Index of a window's first held-out step: values at or after it are validation targets. */
export function splitIndex(length: number, valFraction: number): number {
  return length - Math.floor(length * valFraction);
}

interface LaneSpec {
  readonly w: SeriesWindow;
  /** Window index of the lane's first input step. */
  readonly start: number;
  /** Window index after its last input step. */
  readonly end: number;
  /** Origins in [lossFrom, end) count. */
  readonly lossFrom: number;
  /** Targets at window indices in [targetFrom, targetTo) count. */
  readonly targetFrom: number;
  readonly targetTo: number;
}

/**
 * Training and validation sets from per-series windows. Validation cells are those whose target
 * lies in the newest `valFraction` of the series; training cells have targets before it, so no
 * training cell ever sees a held-out value.
 */
export function buildDatasets(windows: Iterable<SeriesWindow>, opts: DatasetOptions): Datasets {
  const { horizon: H, context } = opts;
  const valFraction = opts.valFraction ?? 0.15;
  const laneSteps = opts.laneSteps ?? 8 * context;
  const burnIn = opts.burnIn ?? Math.floor(context / 2);
  const valWarmup = opts.valWarmup ?? 2 * context;
  if (!Number.isInteger(H) || H < 1) throw new ConfigError(`horizon is ${H}; use a positive integer`);
  if (!Number.isInteger(context) || context < 1) throw new ConfigError(`context is ${context}; use a positive integer`);
  if (!(valFraction >= 0 && valFraction < 1)) throw new ConfigError(`valFraction is ${valFraction}; use a fraction in [0, 1)`);
  if (!Number.isInteger(laneSteps) || laneSteps < context) throw new ConfigError(`laneSteps is ${laneSteps}; use a whole number ≥ context (${context})`);
  const trainLanes: LaneSpec[] = [];
  const valLanes: LaneSpec[] = [];
  const scales = new Map<SeriesWindow, Float64Array>();
  let series = 0;
  let steps = 0;
  let firstTs: number | undefined;
  let lastTs: number | undefined;
  for (const w of windows) {
    const n = w.length;
    if (n < 2) continue;
    series++;
    steps += n;
    scales.set(w, opts.originScale?.(w) ?? w.std);
    firstTs = Math.min(firstTs ?? w.firstTs, w.firstTs);
    lastTs = Math.max(lastTs ?? -Infinity, w.firstTs + (n - 1) * w.stepMs);
    const split = splitIndex(n, valFraction);
    // Training: origins in [0, split − 1) (the last one has no target before the split).
    const k = Math.max(1, Math.floor(split / laneSteps));
    for (let j = 0; j < k; j++) {
      const lossFrom = Math.floor((j * split) / k);
      const end = Math.floor(((j + 1) * split) / k);
      const start = Math.max(0, lossFrom - burnIn);
      if (end - lossFrom >= 1) trainLanes.push({ w, start, end, lossFrom, targetFrom: 0, targetTo: split });
    }
    if (split < n) {
      const lossFrom = Math.max(0, split - H);
      valLanes.push({ w, start: Math.max(0, lossFrom - valWarmup), end: n, lossFrom, targetFrom: split, targetTo: n });
    }
  }
  return {
    train: assemble(trainLanes, opts.layout, H, context, scales, opts.raw),
    validation: assemble(valLanes, opts.layout, H, context, scales, opts.raw),
    info: { series, steps, firstTs, lastTs },
  };
}

function assemble(lanes: readonly LaneSpec[], layout: FeatureLayout, H: number, context: number, scales: ReadonlyMap<SeriesWindow, Float64Array>, raw?: ReadonlyMap<SeriesWindow, SeriesWindow>): TbpttDataset {
  const I = layoutInputSize(layout);
  const chunks = lanes.reduce((c, l) => Math.max(c, Math.ceil((l.end - l.start) / context)), 0);
  const T = chunks * context;
  const L = lanes.length;
  const x = new Float32Array(L * T * I);
  const value = new Float64Array(L * (T + H));
  const mean = new Float64Array(L * T);
  const std = new Float64Array(L * T).fill(1);
  const lossMask = new Uint8Array(L * T);
  const targetOk = new Uint8Array(L * (T + H));
  const scratch = scratchStep();
  const lagInputs = new Float32Array(lagInputColumns(layout));
  if (lagInputs.length > 0) scratch.lagInputs = lagInputs;
  let cells = 0;
  lanes.forEach((lane, l) => {
    const w = lane.w;
    const unit = scales.get(w) ?? w.std;
    for (let t = 0; t < lane.end - lane.start; t++) {
      const i = lane.start + t;
      scratch.ts = w.firstTs + i * w.stepMs;
      scratch.z = w.z[i]!;
      scratch.observed = w.observed[i] === 1;
      scratch.sinceObserved = w.sinceObserved[i]!;
      // Seasonal lags in the origin's std, from the window's earlier steps (those before the lane
      // too), as serving reads them from its lag ring.
      if (lagInputs.length > 0) windowLagInputs(layout, w, i, w.std, lagInputs, raw?.get(w));
      // The previous step of the window (before the lane when it starts mid-window), as serving has it.
      writeInput(scratch as NormalizedStep, layout, x, (l * T + t) * I, i > 0 ? clippedZ(w.z[i - 1]!, layout) : Number.NaN);
      mean[l * T + t] = w.mean[i]!;
      std[l * T + t] = unit[i]!;
      lossMask[l * T + t] = i >= lane.lossFrom ? 1 : 0;
    }
    // Target values run up to H steps past the lane's inputs (into the next lane's steps).
    for (let t = 0; t < T + H; t++) {
      const i = lane.start + t;
      if (i >= w.length) break;
      const v = w.z[i]! * w.std[i]! + w.mean[i]!;
      value[l * (T + H) + t] = v;
      targetOk[l * (T + H) + t] = w.observed[i] === 1 && i >= lane.targetFrom && i < lane.targetTo && Number.isFinite(v) ? 1 : 0;
    }
    for (let t = 0; t < T; t++) {
      if (!lossMask[l * T + t]) continue;
      for (let h = 1; h <= H; h++) cells += targetOk[l * (T + H) + t + h]!;
    }
  });
  return { inputSize: I, horizon: H, context, lanes: L, chunks, x, value, mean, std, lossMask, targetOk, cells };
}

function scratchStep(): { series: SeriesId; ts: number; z: number; observed: boolean; sinceObserved: number; lagInputs?: Float32Array } {
  return { series: '', ts: 0, z: 0, observed: true, sinceObserved: 0 };
}

/**
 * Copies chunk `chunk` of the given lanes into `x` (B × context × I), and their targets and
 * target weights into `target`/`weight` (B × context × horizon; weight 1 where the cell counts,
 * target 0 where it does not), times `horizonWeight[h − 1]` and `originWeight[l·T + t]` where
 * given (see `unitRatio`). Returns the number of counted cells.
 */
export function chunkBatch(ds: TbpttDataset, lanes: ArrayLike<number>, chunk: number, x: Float32Array, target: Float32Array, weight: Float32Array, horizonWeight?: Float64Array, originWeight?: Float64Array): number {
  const { inputSize: I, horizon: H, context: C } = ds;
  const T = ds.chunks * C;
  const B = lanes.length;
  let cells = 0;
  for (let b = 0; b < B; b++) {
    const l = lanes[b]!;
    x.set(ds.x.subarray((l * T + chunk * C) * I, (l * T + (chunk + 1) * C) * I), b * C * I);
    for (let c = 0; c < C; c++) {
      const t = chunk * C + c;
      const o = (b * C + c) * H;
      if (!ds.lossMask[l * T + t]) {
        target.fill(0, o, o + H);
        weight.fill(0, o, o + H);
        continue;
      }
      const mu = ds.mean[l * T + t]!;
      const sd = ds.std[l * T + t]!;
      const vb = l * (T + H) + t;
      const ow = originWeight === undefined ? 1 : originWeight[l * T + t]!;
      for (let h = 1; h <= H; h++) {
        if (ds.targetOk[vb + h]) {
          target[o + h - 1] = (ds.value[vb + h]! - mu) / sd;
          weight[o + h - 1] = (horizonWeight === undefined ? 1 : horizonWeight[h - 1]!) * ow;
          cells++;
        } else {
          target[o + h - 1] = 0;
          weight[o + h - 1] = 0;
        }
      }
    }
  }
  return cells;
}

/**
 * Per origin (lanes × T), the factor that turns a cell's loss in `from`'s target unit into
 * `to`'s: from.std / to.std, both datasets built from the same windows with the same options
 * but their unit (`originScale`). Pinball loss is positively homogeneous, so a loss on targets
 * (y − b) / d equals d / s times the loss on (y − b) / s: passed as `lossScale` to
 * evaluateDataset, it scores a model trained in change units in std units, so that two
 * candidates trained in different units compare on one scale. Padding origins get 1.
 */
export function unitRatio(from: TbpttDataset, to: TbpttDataset): Float64Array {
  if (from.lanes !== to.lanes || from.chunks !== to.chunks || from.context !== to.context || from.horizon !== to.horizon) {
    throw new StreamcastError('fatal', `unitRatio: datasets differ in shape (${from.lanes}×${from.chunks}×${from.context} vs ${to.lanes}×${to.chunks}×${to.context}); build both from the same windows`);
  }
  return Float64Array.from(from.std, (d, i) => {
    const r = d / to.std[i]!;
    return Number.isFinite(r) && r > 0 ? r : 1;
  });
}

/** A copy of a dataset whose arrays the caller keeps (the trainer transfers, and so detaches, the ones it is given). */
export function copyDataset(ds: TbpttDataset): TbpttDataset {
  return { ...ds, x: ds.x.slice(), value: ds.value.slice(), mean: ds.mean.slice(), std: ds.std.slice(), lossMask: ds.lossMask.slice(), targetOk: ds.targetOk.slice() };
}

/** The power of the per-horizon loss weights (see horizonWeights): 0 = none, 1 = every horizon's relative error equal. */
export const HORIZON_WEIGHT_POWER = 0.5;

/**
 * Per-horizon training-loss weights: (1 / a_h)^HORIZON_WEIGHT_POWER, scaled to a mean of 1, where
 * a_h is the mean absolute target at h over the counted cells — the error of the base forecast
 * itself (last value or seasonal naive) in the model's units. Those errors grow with h, so an
 * unweighted loss spends the model on the far horizons and a correction at h = 1 that is worse
 * than none costs it almost nothing; weighting by 1/a_h (power 1) makes every horizon's relative
 * error count the same, power ½ is the middle way. Opt-in (trainLoop's `horizonWeights`): the
 * gains measured were not general (docs/benchmarks.md). Call after `rebaseDataset`.
 */
export function horizonWeights(ds: TbpttDataset, power = HORIZON_WEIGHT_POWER): Float64Array {
  const H = ds.horizon;
  const T = ds.chunks * ds.context;
  const sum = new Float64Array(H);
  const n = new Float64Array(H);
  for (let l = 0; l < ds.lanes; l++) {
    for (let t = 0; t < T; t++) {
      if (!ds.lossMask[l * T + t]) continue;
      const mu = ds.mean[l * T + t]!;
      const sd = ds.std[l * T + t]!;
      const vb = l * (T + H) + t;
      for (let h = 1; h <= H; h++) {
        if (!ds.targetOk[vb + h]) continue;
        const a = Math.abs((ds.value[vb + h]! - mu) / sd);
        if (!Number.isFinite(a)) continue;
        sum[h - 1]! += a;
        n[h - 1]!++;
      }
    }
  }
  const inv = Float64Array.from(sum, (s, i) => (n[i]! > 0 && s > 0 ? (n[i]! / s) ** power : Number.NaN));
  const finite = inv.filter(Number.isFinite);
  const mean = finite.length > 0 ? finite.reduce((a, b) => a + b, 0) / finite.length : 1;
  return Float64Array.from(inv, (v) => (Number.isFinite(v) ? v / mean : 1));
}

/** last-value: every origin's offset becomes its own value, so targets are y[t+h] − y[t]. In place. */
export function rebaseDataset(ds: TbpttDataset, base: ResidualBase): void {
  if (base.kind !== 'last-value') return;
  const T = ds.chunks * ds.context;
  const H = ds.horizon;
  for (let l = 0; l < ds.lanes; l++) {
    for (let t = 0; t < T; t++) ds.mean[l * T + t] = ds.value[l * (T + H) + t]!;
  }
}
