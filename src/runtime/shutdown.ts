import { wallClock } from '../domain/clock.js';
import type { Clock } from '../domain/clock.js';
import { ConfigError } from '../domain/errors.js';
import { createLogger } from '../observability/logger.js';
import type { LogSink } from '../observability/logger.js';

/** The part of `process` that shutdown needs; tests pass an EventEmitter. */
export interface SignalSource {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

export interface ShutdownOptions {
  /** How long the graceful handler may run before the process exits with 1 anyway. */
  readonly timeoutMs: number;
  /** Default: a stderr logger. */
  readonly logger?: LogSink;
  /** Default `process.exit`. */
  readonly exit?: (code: number) => void;
  /** Default the real `process`. */
  readonly process?: SignalSource;
  /** Default SIGTERM and SIGINT. */
  readonly signals?: readonly string[];
  readonly clock?: Clock;
  /**
   * What the log says, in the words of the command's input (default: a stream processor's, with
   * uncommitted Kafka offsets). `stopping` follows "received SIGINT: ".
   */
  readonly messages?: { readonly stopping?: string; readonly timedOut?: string };
  /**
   * false: once `handler` resolves, do not exit; the command finishes and returns its own exit
   * code (e.g. a backtest that writes its partial report, then exits 130). The timeout and the
   * second signal still exit. Default true.
   */
  readonly exitWhenDone?: boolean;
}

/** Exit code when a second signal cuts a graceful shutdown short (128 + SIGINT, what shells expect after Ctrl-C). */
export const FORCED_EXIT_CODE = 130;

/**
 * Installs signal handlers: the first signal runs `handler` (stop fetching, finish in-flight work,
 * checkpoint, leave the group) raced against `timeoutMs`, then exits 0 if it resolved, 1 if it
 * failed or timed out. A second signal exits 130 at once, for an operator who cannot wait.
 * The process exits once `handler` settles, so `handler` must itself await everything that must
 * happen before exit (sinks flushed, offsets committed). Returns a disposer that removes the
 * signal handlers (a shutdown already under way still completes and exits).
 */
export function onShutdown(handler: (signal: string) => Promise<void>, opts: ShutdownOptions): () => void {
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) {
    throw new ConfigError(`shutdown timeout must be a positive number of milliseconds, got ${opts.timeoutMs}`);
  }
  const proc: SignalSource = opts.process ?? process;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const logger = opts.logger ?? createLogger();
  const clock = opts.clock ?? wallClock;
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];

  let shuttingDown = false;
  let exited = false;
  let timer: NodeJS.Timeout | undefined;

  const exitOnce = (code: number): void => {
    if (exited) return;
    exited = true;
    if (timer !== undefined) clearTimeout(timer);
    exit(code);
  };

  const graceful = async (signal: string): Promise<void> => {
    const started = clock.now();
    logger.info(
      { signal, timeoutMs: opts.timeoutMs },
      `received ${signal}: ${opts.messages?.stopping ?? 'shutting down gracefully (send it again to exit immediately)'}`,
    );
    // Not unref'd on purpose: a handler stuck on a promise that nothing will settle must still
    // end in exit 1, not in Node quietly exiting 0 with an empty event loop.
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), opts.timeoutMs);
    });
    try {
      const outcome = await Promise.race([
        Promise.resolve()
          .then(() => handler(signal))
          .then(() => 'done' as const),
        timedOut,
      ]);
      if (outcome === 'timeout') {
        logger.error(
          { signal, timeoutMs: opts.timeoutMs },
          opts.messages?.timedOut ?? 'graceful shutdown timed out; exiting with 1. Offsets not yet committed will be reprocessed on restart',
        );
        exitOnce(1);
      } else {
        logger.info({ signal, elapsedMs: clock.now() - started }, 'shutdown complete');
        if (opts.exitWhenDone !== false) exitOnce(0);
        else {
          // The command exits by itself; nothing is left for a second signal to cut short.
          exited = true;
          if (timer !== undefined) clearTimeout(timer);
        }
      }
    } catch (err) {
      logger.error({ err, signal }, 'graceful shutdown failed; exiting with 1');
      exitOnce(1);
    }
  };

  const listeners = signals.map((signal) => {
    const listener = (): void => {
      if (!shuttingDown) {
        shuttingDown = true;
        void graceful(signal);
        return;
      }
      if (exited) return;
      logger.warn({ signal }, `received ${signal} again: exiting now without finishing shutdown`);
      exitOnce(FORCED_EXIT_CODE);
    };
    proc.on(signal, listener);
    return [signal, listener] as const;
  });

  let disposed = false;
  return () => {
    if (disposed) return;
    disposed = true;
    for (const [signal, listener] of listeners) proc.off(signal, listener);
  };
}
