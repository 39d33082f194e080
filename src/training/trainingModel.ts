import { ConfigError } from '../domain/errors.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';

export interface TrainingModelOptions {
  /** Adam step size (default 3e-3). */
  readonly learningRate?: number;
  /** Gradients are rescaled so their global L2 norm is at most this (default 1). */
  readonly clipNorm?: number;
}

export interface ChunkResult {
  /** Sum of pinball losses over the counted cells and quantile levels. */
  readonly lossSum: number;
  /** Counted (origin, horizon) cells. */
  readonly cells: number;
  /** Hidden state after the chunk, B × units. */
  readonly hT: Float32Array;
}

/**
 * The serving model made trainable: the GRU cell of gruWeights.ts run over a TBPTT chunk from a
 * given initial state, the direct multi-horizon quantile head of quantileHead.ts, the pinball loss
 * averaged over the counted cells and levels, Adam with global-norm clipping. Two kernels compute
 * exactly this (trainingKernel.ts says which runs where): tf ops (`GruTrainingModel`, any tfjs
 * backend, a GPU included) and a hand-written forward and backward pass (`JsGruTrainingModel`).
 */
export interface TrainingModel {
  readonly inputSize: number;
  readonly units: number;
  readonly horizon: number;
  readonly quantiles: readonly number[];
  /**
   * Quantiles (normalized space) for every step of a chunk: x is B × T × I, h0 B × units.
   * Returns B × T × horizon × Q, ascending by level, and the final state.
   */
  predict(x: Float32Array, h0: Float32Array, B: number, T: number): { quantiles: Float32Array; hT: Float32Array };
  /** One Adam step on a chunk; target and weight are B × T × horizon. */
  trainChunk(x: Float32Array, h0: Float32Array, target: Float32Array, weight: Float32Array, B: number, T: number): ChunkResult;
  /** Loss on a chunk without updating weights. */
  evalChunk(x: Float32Array, h0: Float32Array, target: Float32Array, weight: Float32Array, B: number, T: number): ChunkResult;
  /** The current weights in the serving layout (copies). */
  weights(version?: number): GruModelWeights;
  /** Overwrites the weights (e.g. to restore the best epoch); optimizer moments are kept. */
  setWeights(w: GruModelWeights): void;
  dispose(): void;
}

/** The options' values with their defaults, checked (a bad one is a ConfigError). */
export function trainingOptions(opts: TrainingModelOptions): { readonly learningRate: number; readonly clipNorm: number } {
  const learningRate = opts.learningRate ?? 3e-3;
  const clipNorm = opts.clipNorm ?? 1;
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) throw new ConfigError(`learning rate is ${learningRate}; use a positive number such as 3e-3`);
  if (!(clipNorm > 0)) throw new ConfigError(`clipNorm is ${clipNorm}; use a positive number`);
  return { learningRate, clipNorm };
}
