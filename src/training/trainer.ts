import type { Worker } from 'node:worker_threads';
import { ConfigError, StreamcastError } from '../domain/errors.js';
import type { BackendChoice, BackendRequest } from '../forecasting/gru/backend.js';
import { spawnWorker } from '../platform/spawnWorker.js';
import type { EpochReport } from './trainLoop.js';
import type { FromWorker, ToWorker, TrainOutcome, TrainRequest, WorkerInit } from './trainerProtocol.js';
import { datasetBuffers } from './trainerProtocol.js';

export type { TrainRequest } from './trainerProtocol.js';

export interface TrainProgress {
  /** 1-based epoch under way. */
  readonly epoch: number;
  /** Fraction of the planned work done, in [0, 1]. */
  readonly fraction: number;
  /** Set at the end of each epoch. */
  readonly report?: EpochReport;
}

export interface TrainResult extends TrainOutcome {
  readonly status: 'done';
}

export interface TrainCancelled {
  readonly status: 'cancelled';
  readonly epochs: number;
  readonly durationMs: number;
}

export interface TrainerOptions {
  /**
   * The worker's backend (default `auto`: tfjs-node-gpu, then tfjs-node where installed, else
   * wasm). A named one that cannot start fails `backend()` and every job with a ConfigError.
   */
  readonly backend?: BackendRequest;
}

/** What the Retrainer needs of a trainer: `Trainer` below, or a fake in tests. */
export interface TrainerLike {
  train(request: TrainRequest, onProgress?: (p: TrainProgress) => void): Promise<TrainResult | TrainCancelled>;
  cancel(): void;
  close(): Promise<void>;
  /** The backend it trains on, once chosen (the real Trainer's worker reports it). */
  backend?(): Promise<BackendChoice>;
}

interface Job {
  readonly id: number;
  readonly resolve: (r: TrainResult | TrainCancelled) => void;
  readonly reject: (e: unknown) => void;
  readonly onProgress: ((p: TrainProgress) => void) | undefined;
}

/**
 * Runs training jobs in one long-lived worker thread (started on the first job, reused after), so
 * the caller's event loop stays free while tfjs works. One job at a time.
 *
 * `train` transfers the datasets' typed arrays to the worker: the caller's dataset arrays are
 * detached (length 0) afterwards; weights (`init`, `current`) are copied. It resolves with the result or, after `cancel()`,
 * with `{ status: 'cancelled' }`; it rejects with a StreamcastError when training fails or the
 * worker dies (the next job starts a fresh worker). `close()` terminates the worker; idempotent.
 */
export class Trainer implements TrainerLike {
  readonly #backend: BackendRequest;
  #choice: Promise<BackendChoice> | undefined;
  #settleChoice: { resolve: (c: BackendChoice) => void; reject: (e: unknown) => void } | undefined;
  readonly #cancel = new SharedArrayBuffer(4);
  #worker: Worker | undefined;
  #job: Job | undefined;
  #nextId = 1;
  #closed = false;

  constructor(opts: TrainerOptions = {}) {
    this.#backend = opts.backend ?? 'auto';
  }

  /**
   * The backend the worker trains on, once it has chosen (starts the worker if needed): lets a
   * command fail at start, not at its first retrain, when the backend asked for is missing.
   */
  async backend(): Promise<BackendChoice> {
    if (this.#closed) throw new StreamcastError('fatal', 'Trainer used after close()');
    const w = this.#ensureWorker();
    // An idle worker is unref'd: while waiting for its answer it must keep the process alive.
    w.ref();
    try {
      return await this.#choice!;
    } finally {
      if (this.#job === undefined) w.unref();
    }
  }

  get busy(): boolean {
    return this.#job !== undefined;
  }

  train(request: TrainRequest, onProgress?: (p: TrainProgress) => void): Promise<TrainResult | TrainCancelled> {
    if (this.#closed) return Promise.reject(new StreamcastError('fatal', 'Trainer used after close()'));
    if (this.#job !== undefined) return Promise.reject(new StreamcastError('retriable', 'a training job is already running; wait for it or cancel() it'));
    const worker = this.#ensureWorker();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      worker.ref();
      const settle = <T,>(f: (v: T) => void) => (v: T): void => {
        worker.unref();
        f(v);
      };
      this.#job = { id, resolve: settle(resolve), reject: settle(reject), onProgress };
      const msg: ToWorker = { type: 'train', id, request };
      // Weights are copied, not transferred: `current` is usually the model still serving.
      const transfer = [...datasetBuffers(request.train), ...datasetBuffers(request.validation)];
      try {
        worker.postMessage(msg, [...new Set(transfer)]);
      } catch (err) {
        this.#job = undefined;
        reject(new ConfigError('training request could not be sent to the worker (are the dataset arrays views of shared or already-transferred buffers?)', { cause: err }));
      }
    });
  }

  /** Asks the running job to stop at its next chunk; it then resolves as cancelled. */
  cancel(): void {
    if (this.#job !== undefined) Atomics.store(new Int32Array(this.#cancel), 0, this.#job.id);
  }

  /** Terminates the worker; a running job resolves as cancelled. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = undefined;
    const job = this.#job;
    this.#job = undefined;
    job?.resolve({ status: 'cancelled', epochs: 0, durationMs: 0 });
    if (w !== undefined) await w.terminate();
  }

  #ensureWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const workerData: WorkerInit = { cancel: this.#cancel, backend: this.#backend };
    this.#choice = new Promise((resolve, reject) => {
      this.#settleChoice = { resolve, reject };
    });
    // Read by backend() callers only; a job's own failure reports the same cause.
    this.#choice.catch(() => {});
    const w = spawnWorker(import.meta.url, 'trainerWorker', workerData);
    w.on('message', (m: FromWorker) => this.#onMessage(m));
    w.on('error', (err) => this.#onDeath(w, new StreamcastError('fatal', `trainer worker failed: ${err.message}`, { cause: err })));
    w.on('exit', (code) => this.#onDeath(w, new StreamcastError('fatal', `trainer worker exited with code ${code}`)));
    // An idle worker must not keep the process alive; a running job does (see train()).
    w.unref();
    this.#worker = w;
    return w;
  }

  #onDeath(w: Worker, err: StreamcastError): void {
    if (this.#worker !== w) return;
    this.#worker = undefined;
    this.#settleChoice?.reject(err);
    const job = this.#job;
    this.#job = undefined;
    job?.reject(err);
  }

  #onMessage(m: FromWorker): void {
    if (m.type === 'backend') return this.#settleChoice?.resolve(m.choice);
    if (m.type === 'backend_failed') {
      const err = m.kind === 'config' ? new ConfigError(m.message) : new StreamcastError(m.kind, m.message);
      return this.#settleChoice?.reject(err);
    }
    const job = this.#job;
    if (job === undefined || m.id !== job.id) return;
    switch (m.type) {
      case 'progress':
        job.onProgress?.({ epoch: m.epoch, fraction: m.fraction });
        return;
      case 'epoch':
        job.onProgress?.({ epoch: m.report.epoch, fraction: m.report.epoch / m.report.epochs, report: m.report });
        return;
      case 'result':
        this.#job = undefined;
        const { type: _type, id: _id, ...outcome } = m;
        job.resolve({ status: 'done', ...outcome });
        return;
      case 'cancelled':
        this.#job = undefined;
        job.resolve({ status: 'cancelled', epochs: m.epochs, durationMs: m.durationMs });
        return;
      case 'failed':
        this.#job = undefined;
        // A ConfigError (a named backend that is missing) keeps its class: the CLI exits 2 on it.
        job.reject(m.kind === 'config' ? new ConfigError(`training failed: ${m.message}`) : new StreamcastError(m.kind, `training failed: ${m.message}`));
        return;
    }
  }
}
