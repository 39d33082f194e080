import type { BackendChoice, BackendRequest } from '../forecasting/gru/backend.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import type { TbpttDataset } from './datasetBuilder.js';
import type { EpochReport, TrainLoopOptions, TrainLoopOutcome } from './trainLoop.js';

/** What the trainer worker is asked to do. Typed arrays travel as transferables. */
export interface TrainRequest {
  readonly train: TbpttDataset;
  readonly validation: TbpttDataset;
  /** Starting weights (fine-tuning the current model, or a seeded init); they fix the dims. */
  readonly init: GruModelWeights;
  readonly options: TrainLoopOptions;
  /**
   * The model now in service, if any: its validation loss on the same cells comes back as
   * `currentValLoss`, so promotion compares like with like without tf work on the caller's thread.
   */
  readonly current?: GruModelWeights;
  /**
   * Units of one member when `init` has several (gruMembers.ts): each is trained on its own and
   * the merged model comes back (training/trainMembers.ts). Absent: `init` is one model.
   */
  readonly memberUnits?: number;
  /**
   * Threads the job may train on at once (default 1): members beyond the first go to helper
   * threads (memberWorker.ts), up to threads − 1 of them, when the hand-written kernel trains.
   */
  readonly threads?: number;
}

export type ToWorker = { readonly type: 'train'; readonly id: number; readonly request: TrainRequest };

/** What a finished training job yields (the worker's result message and Trainer's TrainResult). */
export interface TrainOutcome {
  /** Best weights by validation loss. */
  readonly weights: GruModelWeights;
  /** Mean pinball loss per cell and level (normalized units) on the validation set; undefined without one. */
  readonly valLoss: number | undefined;
  readonly initialValLoss: number | undefined;
  /** Validation loss of `request.current` on the same cells; undefined when not given. */
  readonly currentValLoss: number | undefined;
  readonly bestEpoch: number;
  /** Consecutive epochs whose weights were averaged into `weights` (1: the best epoch's alone; trainLoop.ts). */
  readonly averaged?: number;
  /** Epochs run (fewer than asked when early stopping fired). */
  readonly epochs: number;
  readonly history: readonly EpochReport[];
  readonly durationMs: number;
  /** The backend the worker trained on: tensorflow-gpu, tensorflow, wasm or cpu. */
  readonly backend: string;
  /** What computed the steps (trainingKernel.ts): tf ops on that backend, or the hand-written pass. */
  readonly kernel?: 'js' | 'tf';
  /** Members trained on helper threads, beside the trainer's own (TrainRequest.threads). */
  readonly membersElsewhere?: number;
}

export type FromWorker =
  // Sent once, when the worker has chosen its backend (or could not): before any job's messages.
  | { readonly type: 'backend'; readonly choice: BackendChoice }
  | { readonly type: 'backend_failed'; readonly message: string; readonly kind: 'config' | 'retriable' | 'fatal' }
  | { readonly type: 'progress'; readonly id: number; readonly epoch: number; readonly fraction: number }
  | { readonly type: 'epoch'; readonly id: number; readonly report: EpochReport }
  | ({ readonly type: 'result'; readonly id: number } & TrainOutcome)
  | { readonly type: 'cancelled'; readonly id: number; readonly epochs: number; readonly durationMs: number }
  | { readonly type: 'failed'; readonly id: number; readonly message: string; readonly kind: 'config' | 'retriable' | 'fatal' };

/** Passed as workerData. */
export interface WorkerInit {
  /** Int32 slot 0: the id of the job to cancel (checked between chunks). */
  readonly cancel: SharedArrayBuffer;
  /** The training backend asked for (`auto`: native where installed, see backendPlan). */
  readonly backend: BackendRequest;
}

/** What a member helper thread (memberWorker.ts) starts with: the trainer's cancel flag. */
export interface MemberWorkerInit {
  readonly cancel: SharedArrayBuffer;
}

/** One member to train: `cancelId` is the trainer job's id, which the cancel flag names. */
export interface MemberJob {
  readonly train: TbpttDataset;
  readonly validation: TbpttDataset;
  readonly init: GruModelWeights;
  readonly options: TrainLoopOptions;
  readonly cancelId: number;
}

export type ToMemberWorker = { readonly id: number; readonly job: MemberJob };

export type FromMemberWorker =
  | { readonly type: 'result'; readonly id: number; readonly outcome: TrainLoopOutcome }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };

/** The ArrayBuffers of a dataset, for the transfer list. */
export function datasetBuffers(ds: TbpttDataset): ArrayBuffer[] {
  return [ds.x, ds.value, ds.mean, ds.std, ds.lossMask, ds.targetOk].map((a) => a.buffer as ArrayBuffer);
}

export function weightBuffers(w: GruModelWeights): ArrayBuffer[] {
  return weightBuffersOf(w).map((a) => a.buffer as ArrayBuffer);
}

/**
 * Whether two weight sets hold the same numbers (the same object, as structured cloning keeps
 * `init` and `current` when the retrainer fine-tunes the model in service, or equal arrays).
 */
export function sameWeights(a: GruModelWeights, b: GruModelWeights): boolean {
  if (a === b) return true;
  const xs = weightBuffersOf(a);
  const ys = weightBuffersOf(b);
  return xs.every((x, i) => {
    const y = ys[i]!;
    if (x.length !== y.length) return false;
    for (let k = 0; k < x.length; k++) if (!Object.is(x[k], y[k])) return false;
    return true;
  });
}

function weightBuffersOf(w: GruModelWeights): Float32Array[] {
  return [w.cell.kernel, w.cell.recurrentKernel, w.cell.bias, w.head.kernel, w.head.bias];
}
