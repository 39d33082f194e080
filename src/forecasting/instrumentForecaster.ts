import type { Forecast } from '../domain/forecast.js';
import type { NormalizedStep } from '../domain/step.js';
import type { Forecaster } from './forecaster.js';
import type { EventListener } from '../observability/events.js';

export interface InstrumentOptions {
  readonly events: EventListener;
  /**
   * Compute backend label, e.g. "tensorflow", "wasm", "cpu". Default: the forecaster's own
   * `backend` string property where it has one (the GRU), else "js" (the baselines).
   */
  readonly backend?: string;
  /** Monotonic milliseconds (performance.now at the composition root; a fake in tests). */
  readonly now: () => number;
}

/**
 * Wraps a forecaster so that each batched step is reported as a `batch` event (size and
 * duration, by backend), and the serving model as `model_info` — at once and whenever its
 * identity changes (a hot swap after promotion). Decorating keeps the forecasters free of
 * metrics code and gives every command (demo, replay, run) the same model metrics.
 */
export function instrumentForecaster(inner: Forecaster, opts: InstrumentOptions): Forecaster {
  const { events, now } = opts;
  // Read at each use: a promotion moves the runtime from the baselines (js) to the GRU's backend,
  // and the trainer's backend is known once its worker has started.
  const own = (key: 'backend' | 'trainBackend'): string | undefined => {
    const v = (inner as { readonly backend?: unknown; readonly trainBackend?: unknown })[key];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const backendNow = (): string => opts.backend ?? own('backend') ?? 'js';
  let announced = '';
  const announce = () => {
    const { version, kind } = inner.info;
    const backend = backendNow();
    const trainBackend = own('trainBackend') ?? 'none';
    const key = `${kind}\u0000${version}\u0000${backend}\u0000${trainBackend}`;
    if (key === announced) return;
    announced = key;
    events({ type: 'model_info', version, kind, backend, trainBackend });
  };
  announce();
  return {
    get info() {
      return inner.info;
    },
    get horizon() {
      return inner.horizon;
    },
    get quantiles() {
      return inner.quantiles;
    },
    get size() {
      return inner.size;
    },
    step(batch: readonly NormalizedStep[]): Forecast[] {
      const t0 = now();
      const out = inner.step(batch);
      const durationMs = Math.max(0, now() - t0);
      if (batch.length > 0) events({ type: 'batch', size: batch.length, durationMs, backend: backendNow() });
      announce();
      return out;
    },
    snapshot: (series) => inner.snapshot(series),
    restore: (series, snapshot) => inner.restore(series, snapshot),
    drop: (series) => inner.drop(series),
    // The optional lifecycle of the model runtime (blocking retrains, worker shutdown) must pass
    // through the decorator, or a wrapped runtime would train in the background and never close.
    ...(inner.pendingWork ? { pendingWork: () => inner.pendingWork!() } : {}),
    ...(inner.close ? { close: () => inner.close!() } : {}),
    ...(inner.stepAsync
      ? {
          stepAsync: async (batch: readonly NormalizedStep[]) => {
            const t0 = now();
            const out = await inner.stepAsync!(batch);
            if (batch.length > 0) events({ type: 'batch', size: batch.length, durationMs: Math.max(0, now() - t0), backend: backendNow() });
            announce();
            return out;
          },
        }
      : {}),
  };
}
