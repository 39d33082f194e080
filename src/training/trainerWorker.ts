import { parentPort, workerData, type Worker } from 'node:worker_threads';
import { spawnWorker } from '../platform/spawnWorker.js';
import { isStreamcastError } from '../domain/errors.js';
import { selectBackend } from '../forecasting/gru/backend.js';
import type { FromMemberWorker, FromWorker, MemberJob, ToMemberWorker, ToWorker, WorkerInit } from './trainerProtocol.js';
import { sameWeights, weightBuffers } from './trainerProtocol.js';
import { createTrainingModel, trainingKernel } from './trainingKernel.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { evaluateDataset } from './trainLoop.js';
import { trainMembers, type TrainElsewhere } from './trainMembers.js';
import type { TrainLoopOutcome } from './trainLoop.js';

/**
 * The trainer thread: one long-lived worker that runs training jobs one at a time on its own
 * tfjs engine (the training backend: tfjs-node(-gpu) where installed under `auto`, else wasm), so
 * the serving thread's event loop never waits on a gradient step, and serving keeps its own
 * backend. Started by Trainer (trainer.ts); speaks trainerProtocol.ts.
 */
const port = parentPort;
if (port === null) throw new Error('trainerWorker.ts must run as a worker thread (see Trainer)');
const init = workerData as WorkerInit;
const cancelFlag = new Int32Array(init.cancel);
const backend = selectBackend({ request: init.backend, role: 'train' });

/** Thrown through evaluateDataset to stop it at its next chunk. */
class EvaluationCancelled extends Error {}

const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
// setImmediate lets queued messages in between chunks; the cancel flag itself is shared memory.
const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

backend.then(
  (choice) => post({ type: 'backend', choice }),
  (err: unknown) => post({ type: 'backend_failed', kind: isStreamcastError(err) ? err.kind : 'fatal', message: err instanceof Error ? err.message : String(err) }),
);

/**
 * Helper threads for the members of a model (memberWorker.ts), started on first use and kept for
 * the next jobs; helper i trains member i + 1. Each runs one member at a time.
 */
interface Helper {
  readonly worker: Worker;
  readonly pending: Map<number, { resolve: (o: TrainLoopOutcome) => void; reject: (e: Error) => void }>;
}
const helpers: (Helper | undefined)[] = [];
let nextMemberJob = 1;

function helper(i: number): Helper {
  const known = helpers[i];
  if (known !== undefined) return known;
  const worker = spawnWorker(import.meta.url, 'memberWorker', { cancel: init.cancel });
  // It must not keep the trainer alive (the trainer's own life is Trainer's to end).
  worker.unref();
  const h: Helper = { worker, pending: new Map() };
  // A helper that failed or exited fails its jobs and is started afresh on next use.
  const failAll = (err: Error): void => {
    for (const p of h.pending.values()) p.reject(err);
    h.pending.clear();
    if (helpers[i] === h) helpers[i] = undefined;
  };
  worker.on('message', (m: FromMemberWorker) => {
    const p = h.pending.get(m.id);
    if (p === undefined) return;
    h.pending.delete(m.id);
    if (m.type === 'result') p.resolve(m.outcome);
    else p.reject(new Error(`member training failed: ${m.message}`));
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`member training thread exited (code ${code})`)));
  helpers[i] = h;
  return h;
}

/** Members k = 1 … threads − 1 train on helper threads, on the hand-written kernel only (it needs no tf engine there). */
function elsewhere(jobId: number, threads: number, kernel: string, train: MemberJob['train'], validation: MemberJob['validation'], sent: { count: number }): TrainElsewhere | undefined {
  if (threads < 2 || kernel !== 'js') return undefined;
  return (k, memberInit, options) => {
    if (k > threads - 1) return undefined;
    const h = helper(k - 1);
    sent.count++;
    const id = nextMemberJob++;
    return new Promise<TrainLoopOutcome>((resolve, reject) => {
      h.pending.set(id, { resolve, reject });
      const msg: ToMemberWorker = { id, job: { train, validation, init: memberInit, options, cancelId: jobId } };
      h.worker.postMessage(msg);
    });
  };
}

port.on('message', (msg: ToWorker) => {
  if (msg.type !== 'train') return;
  void run(msg);
});

async function run(msg: Extract<ToWorker, { type: 'train' }>): Promise<void> {
  const { id, request } = msg;
  try {
    const choice = await backend;
    const kernel = trainingKernel(choice.candidate, Math.min(request.options.batchLanes ?? 32, Math.max(request.train.lanes, request.validation.lanes)));
    let lastFraction = -1;
    const sent = { count: 0 };
    // Cancellable like the training loop: a cancel (e.g. Ctrl-C in a backtest) must not wait for an evaluation pass.
    const evaluate = async (weights: GruModelWeights): Promise<number | undefined | 'cancelled'> => {
      // The same kernel as the candidate's loss: promotion compares the two numbers.
      const model = createTrainingModel(kernel, weights);
      let cancelled = false;
      const pauseOrCancel = async (): Promise<void> => {
        await pause();
        if (Atomics.load(cancelFlag, 0) === id) {
          cancelled = true;
          throw new EvaluationCancelled();
        }
      };
      try {
        return await evaluateDataset(model, request.validation, request.options.batchLanes, pauseOrCancel);
      } catch (err) {
        if (!cancelled) throw err;
        return 'cancelled';
      } finally {
        model.dispose();
      }
    };
    const out = await trainMembers(request.train, request.validation, request.init, { ...request.options, kernel }, {
      pause,
      shouldCancel: () => Atomics.load(cancelFlag, 0) === id,
      onProgress: (epoch, fraction) => {
        // At most ~1000 progress messages per job.
        if (fraction - lastFraction < 1e-3) return;
        lastFraction = fraction;
        post({ type: 'progress', id, epoch, fraction });
      },
      onEpoch: (report) => post({ type: 'epoch', id, report }),
    }, request.memberUnits, evaluate, elsewhere(id, request.threads ?? 1, kernel, request.train, request.validation, sent));
    if (out.status === 'cancelled') {
      post({ type: 'cancelled', id, epochs: out.epochs, durationMs: out.durationMs });
      return;
    }
    let currentValLoss: number | undefined;
    if (request.current !== undefined && sameWeights(request.current, request.init)) {
      // Fine-tuning the model in service: the loop already scored it on these cells (its initial loss).
      currentValLoss = out.initialValLoss;
    } else if (request.current !== undefined) {
      const loss = await evaluate(request.current);
      if (loss === 'cancelled') {
        post({ type: 'cancelled', id, epochs: out.epochs, durationMs: out.durationMs });
        return;
      }
      currentValLoss = loss;
    }
    post(
      {
        type: 'result',
        id,
        weights: out.weights,
        valLoss: out.valLoss,
        initialValLoss: out.initialValLoss,
        currentValLoss,
        bestEpoch: out.bestEpoch,
        averaged: out.averaged,
        epochs: out.epochs,
        history: out.history,
        durationMs: out.durationMs,
        backend: choice.candidate,
        kernel,
        membersElsewhere: sent.count,
      },
      out.weights === request.init ? [] : weightBuffers(out.weights),
    );
  } catch (err) {
    const kind = isStreamcastError(err) ? err.kind : 'fatal';
    post({ type: 'failed', id, kind, message: err instanceof Error ? err.message : String(err) });
  }
}
