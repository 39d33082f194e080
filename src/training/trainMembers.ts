import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { mergeGruMembers, splitGruMembers } from '../forecasting/gru/gruMembers.js';
import type { TbpttDataset } from './datasetBuilder.js';
import { trainLoop } from './trainLoop.js';
import type { EpochReport, TrainLoopHooks, TrainLoopOptions, TrainLoopOutcome } from './trainLoop.js';

/** Held-out loss of a whole model on the job's validation set, or `cancelled` when a cancel stopped it. */
export type EvaluateModel = (weights: GruModelWeights) => Promise<number | undefined | 'cancelled'>;

/**
 * Trains a model of several members (gruMembers.ts): `init` is split into members of
 * `memberUnits`, each is trained on its own by `trainLoop` (early stopping and epoch means on its
 * own held-out loss; lane order from seed + k, so members see the lanes in different orders), and
 * the trained members are merged back. The outcome speaks for the merged model: its held-out loss
 * and that of the merged init (`evaluate`, on the same cells), epochs and history summed over the
 * members, best epoch the latest any member kept. When no member beat its start, the outcome is
 * `init` itself (best epoch 0), as trainLoop's is. One member: trainLoop alone.
 */
export async function trainMembers(
  train: TbpttDataset,
  validation: TbpttDataset,
  init: GruModelWeights,
  opts: TrainLoopOptions,
  hooks: TrainLoopHooks,
  memberUnits: number | undefined,
  evaluate: EvaluateModel,
): Promise<TrainLoopOutcome> {
  const parts = memberUnits === undefined ? [init] : splitGruMembers(init, memberUnits);
  if (parts.length === 1) return trainLoop(train, validation, init, opts, hooks);
  const K = parts.length;
  const now = hooks.now ?? (() => performance.now());
  const started = now();
  const trained: GruModelWeights[] = [];
  const history: EpochReport[] = [];
  let epochs = 0;
  let bestEpoch = 0;
  let averaged = 1;
  for (let k = 0; k < K; k++) {
    const out = await trainLoop(train, validation, parts[k]!, { ...opts, seed: (opts.seed + k) >>> 0 }, {
      ...hooks,
      ...(hooks.onProgress !== undefined ? { onProgress: (epoch: number, fraction: number) => hooks.onProgress!(epoch, (k + fraction) / K) } : {}),
    });
    epochs += out.epochs;
    if (out.status === 'cancelled') return { status: 'cancelled', epochs, durationMs: now() - started };
    trained.push(out.weights);
    history.push(...out.history);
    bestEpoch = Math.max(bestEpoch, out.bestEpoch);
    averaged = Math.max(averaged, out.averaged);
  }
  const initialValLoss = await evaluate(init);
  if (initialValLoss === 'cancelled') return { status: 'cancelled', epochs, durationMs: now() - started };
  if (bestEpoch === 0) return { status: 'done', weights: init, valLoss: initialValLoss, initialValLoss, bestEpoch: 0, averaged: 1, epochs, history, durationMs: now() - started };
  const weights = mergeGruMembers(trained);
  const valLoss = await evaluate(weights);
  if (valLoss === 'cancelled') return { status: 'cancelled', epochs, durationMs: now() - started };
  return { status: 'done', weights, valLoss, initialValLoss, bestEpoch, averaged, epochs, history, durationMs: now() - started };
}
