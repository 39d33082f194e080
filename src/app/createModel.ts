import { wallClock } from '../domain/clock.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import { ArtifactStore } from '../training/artifactStore.js';
import { createModelLifecycle } from '../training/modelLifecycle.js';
import type { ModelLifecycle, ModelLifecycleOptions } from '../training/modelLifecycle.js';

/** How a command wants its pipeline's model: the lifecycle's options, with the models folder by name. */
export type ModelSetup = Omit<ModelLifecycleOptions, 'store'> & {
  /** Folder whose `current` model serves (a bad artifact is logged and the baseline serves); none: the baseline. */
  readonly models?: string | undefined;
  /** Write promotions to `models` and point `current` at them (default false: only train and run do). */
  readonly persist?: boolean;
};

/**
 * The one place every command (replay, demo, backtest, train, run) builds the model that serves a
 * pipeline: the runtime that serves and swaps it and the retrainer that loads, retrains and saves
 * it, so that how serving and retraining are wired is decided once. Promotions are written to
 * `models` only with `persist: true` (train and run); replays read it and never write.
 */
export function createModel(spec: PipelineSpec, setup: ModelSetup = {}): ModelLifecycle {
  const { models, ...opts } = setup;
  return createModelLifecycle(spec, { ...opts, persist: opts.persist ?? false, ...(models !== undefined ? { store: new ArtifactStore(models, wallClock) } : {}) });
}
