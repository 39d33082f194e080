import { ConfigError } from '../domain/errors.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { averageGruWeights } from '../forecasting/gru/gruWeights.js';
import { mulberry32 } from '../domain/random.js';
import { chunkBatch, horizonWeights } from './datasetBuilder.js';
import type { TbpttDataset } from './datasetBuilder.js';
import type { TrainingKernel } from './trainingKernel.js';
import { createTrainingModel } from './trainingKernel.js';
import type { TrainingModel } from './trainingModel.js';

export interface TrainLoopOptions {
  readonly epochs: number;
  /** Seeds the lane order of every epoch (weight init is the caller's, see initGruModelWeights). */
  readonly seed: number;
  /** Stop after this many epochs without a better validation loss (default 3). */
  readonly patience?: number;
  /** Lanes per gradient step (default 32). */
  readonly batchLanes?: number;
  readonly learningRate?: number;
  readonly clipNorm?: number;
  /** What computes the steps (trainingKernel.ts; default `js`, the trainer worker chooses per job). */
  readonly kernel?: TrainingKernel;
  /**
   * Weigh the training loss per horizon (datasetBuilder.ts' horizonWeights). Off by default: on one
   * backend, same tree, it helped machine_temperature with gaps (0.961 → 0.954 served) but cost
   * machine_temperature (0.949 → 0.956) and nyc_taxi (0.768 → 0.782) (docs/benchmarks.md).
   */
  readonly horizonWeights?: boolean;
  /**
   * Most consecutive epochs whose mean weights may replace the best epoch's where they beat them
   * on the held-out cells (default 3; 1: the best epoch's as they are). See `bestAverage`.
   */
  readonly averageEpochs?: number;
}

export interface EpochReport {
  readonly epoch: number;
  readonly epochs: number;
  /** Mean pinball loss per cell and level, normalized units, over the epoch's training chunks. */
  readonly trainLoss: number;
  /** Same on the validation set after the epoch; undefined when it has no cells. */
  readonly valLoss: number | undefined;
}

export interface TrainLoopHooks {
  /** Fraction of all planned chunk steps done, for progress bars. */
  readonly onProgress?: (epoch: number, fraction: number) => void;
  readonly onEpoch?: (r: EpochReport) => void;
  /** Polled between chunks. */
  readonly shouldCancel?: () => boolean;
  /** Awaited between chunks (the worker yields to its event loop there). */
  readonly pause?: () => Promise<void>;
  readonly now?: () => number;
}

export type TrainLoopOutcome =
  | {
      readonly status: 'done';
      /** The weights of the epoch with the best validation loss (the last epoch without validation). */
      readonly weights: GruModelWeights;
      readonly valLoss: number | undefined;
      /** Validation loss of the initial weights. */
      readonly initialValLoss: number | undefined;
      readonly bestEpoch: number;
      /** Epochs whose weights were averaged into `weights` (1: the best epoch's own). */
      readonly averaged: number;
      readonly epochs: number;
      readonly history: readonly EpochReport[];
      readonly durationMs: number;
    }
  | { readonly status: 'cancelled'; readonly epochs: number; readonly durationMs: number };

/**
 * Truncated-BPTT training with early stopping: each epoch visits the training lanes in a seeded
 * random order, `batchLanes` at a time, and runs their chunks in order, carrying each lane's
 * hidden state from chunk to chunk (detached: gradients stop at chunk boundaries). The loop is
 * synchronous compute between `pause()` calls, so run it in the trainer worker, not on the
 * serving thread.
 */
export async function trainLoop(train: TbpttDataset, validation: TbpttDataset, init: GruModelWeights, opts: TrainLoopOptions, hooks: TrainLoopHooks = {}): Promise<TrainLoopOutcome> {
  const now = hooks.now ?? (() => performance.now());
  const started = now();
  const patience = opts.patience ?? 3;
  const batchLanes = opts.batchLanes ?? 32;
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new ConfigError(`epochs is ${opts.epochs}; use a whole number ≥ 1`);
  if (!Number.isInteger(batchLanes) || batchLanes < 1) throw new ConfigError(`batchLanes is ${batchLanes}; use a whole number ≥ 1`);
  const model = createTrainingModel(opts.kernel ?? 'js', init, {
    ...(opts.learningRate !== undefined ? { learningRate: opts.learningRate } : {}),
    ...(opts.clipNorm !== undefined ? { clipNorm: opts.clipNorm } : {}),
  });
  try {
    const cancelled = (): boolean => hooks.shouldCancel?.() === true;
    const pause = hooks.pause ?? (async () => undefined);
    const Q = model.quantiles.length;
    const plannedPerEpoch = Math.max(1, train.lanes * train.chunks);
    const initialValLoss = await evaluateDataset(model, validation, batchLanes);
    // Held-out losses are never weighed by horizon: they stay comparable with the baselines' and
    // the model in service's.
    const hw = opts.horizonWeights === true ? horizonWeights(train) : undefined;
    let best = { loss: initialValLoss ?? Infinity, weights: init, epoch: 0 };
    const history: EpochReport[] = [];
    const snapshots: GruModelWeights[] = [];
    let stale = 0;
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const order = shuffled(train.lanes, mulberry32((opts.seed ^ Math.imul(epoch, 0x9e3779b1)) >>> 0));
      let lossSum = 0;
      let cells = 0;
      let done = 0;
      for (let g = 0; g < order.length; g += batchLanes) {
        const lanes = order.subarray(g, Math.min(order.length, g + batchLanes));
        const B = lanes.length;
        const buf = buffers(train, B);
        let h: Float32Array = new Float32Array(B * model.units);
        for (let c = 0; c < train.chunks; c++) {
          const n = chunkBatch(train, lanes, c, buf.x, buf.target, buf.weight, hw);
          const r = n > 0 ? model.trainChunk(buf.x, h, buf.target, buf.weight, B, train.context) : model.evalChunk(buf.x, h, buf.target, buf.weight, B, train.context);
          lossSum += r.lossSum;
          cells += r.cells;
          h = r.hT;
          done += B;
          hooks.onProgress?.(epoch, ((epoch - 1) + done / plannedPerEpoch) / opts.epochs);
          await pause();
          if (cancelled()) return { status: 'cancelled', epochs: epoch - 1, durationMs: now() - started };
        }
      }
      const valLoss = await evaluateDataset(model, validation, batchLanes, pause);
      snapshots.push(model.weights());
      const report: EpochReport = { epoch, epochs: opts.epochs, trainLoss: cells > 0 ? lossSum / (cells * Q) : 0, valLoss };
      history.push(report);
      hooks.onEpoch?.(report);
      if (cancelled()) return { status: 'cancelled', epochs: epoch, durationMs: now() - started };
      if (valLoss === undefined) {
        best = { loss: Infinity, weights: model.weights(), epoch };
        continue;
      }
      if (valLoss < best.loss) {
        best = { loss: valLoss, weights: snapshots[epoch - 1]!, epoch };
        stale = 0;
      } else if (++stale >= patience) {
        break;
      }
    }
    const mean = best.epoch > 0 && Number.isFinite(best.loss) ? await bestAverage(model, snapshots, best.epoch, validation, opts.averageEpochs ?? DEFAULT_AVERAGE_EPOCHS, batchLanes, cancelled, pause) : undefined;
    if (cancelled()) return { status: 'cancelled', epochs: history.length, durationMs: now() - started };
    const chosen = mean !== undefined && mean.loss < best.loss ? mean : { ...best, averaged: 1 };
    return {
      status: 'done',
      weights: chosen.weights,
      averaged: chosen.averaged,
      valLoss: Number.isFinite(chosen.loss) ? chosen.loss : undefined,
      initialValLoss,
      bestEpoch: best.epoch,
      epochs: history.length,
      history,
      durationMs: now() - started,
    };
  } finally {
    model.dispose();
  }
}

const DEFAULT_AVERAGE_EPOCHS = 3;

/**
 * The lowest held-out loss among averages of 2 to `most` consecutive epochs' weights that hold
 * the best epoch: consecutive epochs of one run lie in one basin, and their mean often forecasts
 * better than any one of them (the idea of stochastic weight averaging, Izmailov et al. 2018,
 * arXiv:1803.05407). Scored on the same held-out cells as the best epoch, so the caller keeps it
 * only where it beats that; undefined when there is nothing to average. On the shared sets
 * (docs/benchmarks.md) it was kept in 60 of 364 training jobs, most often on nyc_taxi.
 */
async function bestAverage(
  model: TrainingModel,
  snapshots: readonly GruModelWeights[],
  bestEpoch: number,
  validation: TbpttDataset,
  most: number,
  batchLanes: number,
  cancelled: () => boolean,
  pause?: () => Promise<void>,
): Promise<{ weights: GruModelWeights; loss: number; epoch: number; averaged: number } | undefined> {
  if (snapshots.length < 2 || validation.cells === 0) return undefined;
  let best: { weights: GruModelWeights; loss: number; epoch: number; averaged: number } | undefined;
  const b = bestEpoch - 1;
  for (let k = 2; k <= Math.min(most, snapshots.length); k++) {
    for (let first = Math.max(0, b - k + 1); first <= b && first + k <= snapshots.length; first++) {
      if (cancelled()) return undefined;
      const weights = averageGruWeights(snapshots.slice(first, first + k));
      model.setWeights(weights);
      const loss = await evaluateDataset(model, validation, batchLanes, pause);
      if (loss !== undefined && (best === undefined || loss < best.loss)) best = { weights, loss, epoch: bestEpoch, averaged: k };
    }
  }
  return best;
}

/**
 * Mean pinball loss per cell and level on a dataset; undefined when it has no cells. `lossScale`
 * (lanes × T, see datasetBuilder's unitRatio) multiplies each origin's cells' losses: the mean is
 * still over the cells counted, so it expresses the loss in another unit rather than reweighting it.
 */
export async function evaluateDataset(model: TrainingModel, ds: TbpttDataset, batchLanes = 32, pause?: () => Promise<void>, lossScale?: Float64Array): Promise<number | undefined> {
  if (ds.cells === 0) return undefined;
  let lossSum = 0;
  let cells = 0;
  const all = new Int32Array(ds.lanes).map((_, i) => i);
  for (let g = 0; g < ds.lanes; g += batchLanes) {
    const lanes = all.subarray(g, Math.min(ds.lanes, g + batchLanes));
    const B = lanes.length;
    const buf = buffers(ds, B);
    let h: Float32Array = new Float32Array(B * model.units);
    for (let c = 0; c < ds.chunks; c++) {
      // Cells as counted here, not the model's sum of weights, which a lossScale would cancel out.
      const n = chunkBatch(ds, lanes, c, buf.x, buf.target, buf.weight, undefined, lossScale);
      const r = model.evalChunk(buf.x, h, buf.target, buf.weight, B, ds.context);
      lossSum += r.lossSum;
      cells += n;
      h = r.hT;
      if (pause) await pause();
    }
  }
  return cells > 0 ? lossSum / (cells * model.quantiles.length) : undefined;
}

function buffers(ds: TbpttDataset, B: number): { x: Float32Array; target: Float32Array; weight: Float32Array } {
  return {
    x: new Float32Array(B * ds.context * ds.inputSize),
    target: new Float32Array(B * ds.context * ds.horizon),
    weight: new Float32Array(B * ds.context * ds.horizon),
  };
}

function shuffled(n: number, uniform: () => number): Int32Array {
  const a = new Int32Array(n).map((_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}
