import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { mergeGruMembers, splitGruMembers } from '../forecasting/gru/gruMembers.js';
import type { TbpttDataset } from './datasetBuilder.js';
import { trainLoop } from './trainLoop.js';
import type { EpochReport, TrainLoopHooks, TrainLoopOptions, TrainLoopOutcome } from './trainLoop.js';

/** Held-out loss of a whole model on the job's validation set, or `cancelled` when a cancel stopped it. */
export type EvaluateModel = (weights: GruModelWeights) => Promise<number | undefined | 'cancelled'>;

/**
 * Trains member k (its init and options, seed included) on another thread, or returns undefined
 * when it cannot (no thread free, or not the kernel it runs): then the member trains here.
 */
export type TrainElsewhere = (k: number, init: GruModelWeights, opts: TrainLoopOptions) => Promise<TrainLoopOutcome> | undefined;

/**
 * Trains a model of several members (gruMembers.ts): `init` is split into members of
 * `memberUnits`, each is trained on its own by `trainLoop` (early stopping and epoch means on its
 * own held-out loss; lane order from seed + k, so members see the lanes in different orders), and
 * the trained members are merged back. The outcome speaks for the merged model: its held-out loss
 * and that of the merged init (`evaluate`, on the same cells), epochs and history summed over the
 * members, best epoch the latest any member kept. When no member beat its start, the outcome is
 * `init` itself (best epoch 0), as trainLoop's is. One member: trainLoop alone. Members that
 * `elsewhere` takes train at the same time as those trained here; each member's training depends
 * only on its own init and seed, so where it trains does not change the outcome.
 */
export async function trainMembers(
  train: TbpttDataset,
  validation: TbpttDataset,
  init: GruModelWeights,
  opts: TrainLoopOptions,
  hooks: TrainLoopHooks,
  memberUnits: number | undefined,
  evaluate: EvaluateModel,
  elsewhere?: TrainElsewhere,
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
  const memberOpts = (k: number): TrainLoopOptions => ({ ...opts, seed: (opts.seed + k) >>> 0 });
  const away = parts.map((p, k) => (k === 0 ? undefined : elsewhere?.(k, p, memberOpts(k))));
  // A failed member elsewhere is reported after the ones here finish (a cancel reaches all).
  const settled = away.map((p) => p?.then((o) => ({ ok: true as const, o }), (err: unknown) => ({ ok: false as const, err })));
  // Progress is the members trained here (those elsewhere run beside them, at about their pace).
  const here = parts.map((_, k) => k).filter((k) => away[k] === undefined);
  const outs: TrainLoopOutcome[] = [];
  for (const [i, k] of here.entries()) {
    outs[k] = await trainLoop(train, validation, parts[k]!, memberOpts(k), {
      ...hooks,
      ...(hooks.onProgress !== undefined ? { onProgress: (epoch: number, fraction: number) => hooks.onProgress!(epoch, (i + fraction) / here.length) } : {}),
    });
  }
  for (let k = 0; k < K; k++) {
    const s = await settled[k];
    if (s === undefined) continue;
    if (!s.ok) throw s.err;
    outs[k] = s.o;
  }
  for (const out of outs) {
    epochs += out.epochs;
    if (out.status === 'cancelled') continue;
    trained.push(out.weights);
    history.push(...out.history);
    bestEpoch = Math.max(bestEpoch, out.bestEpoch);
    averaged = Math.max(averaged, out.averaged);
  }
  if (outs.some((o) => o.status === 'cancelled')) return { status: 'cancelled', epochs, durationMs: now() - started };
  const initialValLoss = await evaluate(init);
  if (initialValLoss === 'cancelled') return { status: 'cancelled', epochs, durationMs: now() - started };
  if (bestEpoch === 0) return { status: 'done', weights: init, valLoss: initialValLoss, initialValLoss, bestEpoch: 0, averaged: 1, epochs, history, durationMs: now() - started };
  const weights = mergeGruMembers(trained);
  const valLoss = await evaluate(weights);
  if (valLoss === 'cancelled') return { status: 'cancelled', epochs, durationMs: now() - started };
  return { status: 'done', weights, valLoss, initialValLoss, bestEpoch, averaged, epochs, history, durationMs: now() - started };
}
