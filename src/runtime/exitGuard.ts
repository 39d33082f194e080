import type { LogSink } from '../observability/logger.js';

export interface ExitGuardOptions {
  /** The exit code the process must end with. */
  readonly code: number;
  readonly afterMs: number;
  /**
   * true: the timer itself keeps the process alive until it fires (bounds a graceful attempt
   * that may await something that never settles, where Node would otherwise exit 0 on an empty
   * event loop). false: it fires only if something else keeps the process alive (a kafkajs
   * reconnect timer, a socket) after the command has finished.
   */
  readonly ref: boolean;
  readonly logger: LogSink;
  /** What the log line says was still going on. */
  readonly what: string;
  /** Default `process.exit`. */
  readonly exit?: (code: number) => void;
}

/**
 * After a fatal failure the process must end, with a non-zero code, within a bound, so that its
 * supervisor (Kubernetes) restarts it: a process that has stopped working but lingers is the worst
 * outcome (it holds its partitions and answers nothing). Returns a canceller.
 */
export function exitGuard(opts: ExitGuardOptions): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const timer = setTimeout(() => {
    opts.logger.error({ exitCode: opts.code, afterMs: opts.afterMs }, `${opts.what} after ${opts.afterMs} ms; exiting with ${opts.code} now`);
    exit(opts.code);
  }, opts.afterMs);
  if (!opts.ref) timer.unref();
  return () => clearTimeout(timer);
}
