import { parentPort, workerData } from 'node:worker_threads';
import { isStreamcastError } from '../domain/errors.js';
import { selectBackend } from '../forecasting/gru/backend.js';
import type { FromWorker, ToWorker, WorkerInit } from './trainerProtocol.js';
import { sameWeights, weightBuffers } from './trainerProtocol.js';
import { createTrainingModel, trainingKernel } from './trainingKernel.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { evaluateDataset } from './trainLoop.js';
import { trainMembers } from './trainMembers.js';

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
    }, request.memberUnits, evaluate);
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
      },
      out.weights === request.init ? [] : weightBuffers(out.weights),
    );
  } catch (err) {
    const kind = isStreamcastError(err) ? err.kind : 'fatal';
    post({ type: 'failed', id, kind, message: err instanceof Error ? err.message : String(err) });
  }
}
