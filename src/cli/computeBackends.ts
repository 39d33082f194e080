import { backendConfigFrom } from '../config/backendConfig.js';
import type { BackendConfig, BackendFlags } from '../config/backendConfig.js';
import { selectBackend } from '../forecasting/gru/backend.js';
import type { BackendChoice } from '../forecasting/gru/backend.js';
import type { LogSink } from '../observability/logger.js';

/** What a command runs on: asked for (config) and got (serve now; train once the trainer started). */
export interface ComputeBackends {
  readonly config: BackendConfig;
  readonly serve: BackendChoice;
}

/**
 * Parses `--backend` / `--train-backend` (and their environment variables) and activates the
 * serving backend on this thread, before any tensor exists. A backend named but not installed is
 * a ConfigError (exit 2) that says to run `npm run native:install`.
 */
export async function startComputeBackends(flags: BackendFlags, logger?: LogSink): Promise<ComputeBackends> {
  const config = backendConfigFrom(process.env, flags);
  const serve = await selectBackend({ request: config.serve, role: 'serve', ...(logger !== undefined ? { logger } : {}) });
  return { config, serve };
}

/** The backends as /readyz detail and the start-up log show them; `train` is the trainer's (`none` before it started). */
export function backendDetail(b: ComputeBackends, train: string): { serve: string; train: string; requested: BackendConfig } {
  return { serve: b.serve.candidate, train, requested: b.config };
}

/**
 * For the file commands (replay, backtest): activates the serving backend, passes the training
 * one to the model's options, and once its retrainer exists (`started`), starts the trainer when it
 * will train and says on stderr what both run on.
 */
export async function fileCommandBackends(flags: BackendFlags & { quiet?: boolean | undefined }): Promise<{ config: BackendConfig; started: (retrainer: { startTrainer(): Promise<BackendChoice | undefined> }, trains: boolean) => Promise<void> }> {
  const backends = await startComputeBackends(flags);
  return {
    config: backends.config,
    started: async (retrainer, trains) => {
      const trainOn = trains ? await retrainer.startTrainer() : undefined;
      if (flags.quiet !== true) process.stderr.write(`compute backends: ${describeBackends(backends, trainOn)}\n`);
    },
  };
}

/** One line for the start-up log: `serving on wasm (asked: auto), training on tensorflow (asked: auto)`. */
export function describeBackends(b: ComputeBackends, train: BackendChoice | undefined): string {
  const d = backendDetail(b, train?.candidate ?? 'none');
  return `serving on ${d.serve} (asked: ${d.requested.serve}), training on ${d.train} (asked: ${d.requested.train})`;
}
