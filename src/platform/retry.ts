import { setTimeout as delay } from 'node:timers/promises';
import { ConfigError, StreamcastError, isStreamcastError } from '../domain/errors.js';

export interface RetryOptions {
  /** Retries after the first attempt: `retries: 5` means at most 6 calls. */
  readonly retries: number;
  /** Base delay before the first retry. */
  readonly initialMs: number;
  /** No delay exceeds this, jitter included. */
  readonly maxMs: number;
  /** Growth of the base delay per retry; default 2. */
  readonly factor?: number;
  /**
   * Relative spread around the base delay, in [0, 1]; default 0.2 (±20 %), so that instances
   * that failed together do not all retry in the same millisecond.
   */
  readonly jitter?: number;
  /** Uniform in [0, 1); default Math.random. */
  readonly random?: () => number;
  /** Default: a timer that rejects when `signal` aborts. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Default: a StreamcastError retries only if its kind is `retriable`; another error retries
   * unless it carries `retriable: false` (as kafkajs errors do).
   */
  readonly isRetriable?: (err: unknown) => boolean;
  /** Stops retrying (e.g. on shutdown): the pending sleep rejects and no further attempt starts. */
  readonly signal?: AbortSignal;
  /** Called before each sleep; the place to log "broker away, retrying in 1.2 s". */
  readonly onRetry?: (info: { readonly attempt: number; readonly delayMs: number; readonly error: unknown }) => void;
}

/** Thrown when every attempt failed with a retriable error; the last error is its `cause`. */
export class RetriesExhaustedError extends StreamcastError {
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    // fatal, not retriable: an outer retry around this one would multiply the attempts.
    super('fatal', `gave up after ${attempts} attempts: ${why}`, { cause });
    this.attempts = attempts;
  }
}

export function defaultIsRetriable(err: unknown): boolean {
  if (isStreamcastError(err)) return err.kind === 'retriable';
  if (typeof err === 'object' && err !== null && 'retriable' in err && err.retriable === false) return false;
  return true;
}

/**
 * The delay before retry number `retry` (0 for the first retry): the base
 * `min(maxMs, initialMs · factor^retry)` scaled by a factor uniform in [1 − jitter, 1 + jitter),
 * then capped at `maxMs`.
 */
export function backoffDelay(
  retry: number,
  opts: Pick<RetryOptions, 'initialMs' | 'maxMs' | 'factor' | 'jitter'>,
  random: () => number,
): number {
  const factor = opts.factor ?? 2;
  const jitter = opts.jitter ?? 0.2;
  const base = Math.min(opts.maxMs, opts.initialMs * factor ** retry);
  const spread = 1 + jitter * (2 * random() - 1);
  return Math.max(0, Math.min(opts.maxMs, Math.round(base * spread)));
}

/**
 * Calls `fn` until it resolves, retrying failures that `isRetriable` accepts with jittered
 * exponential backoff (after kafkajs' src/retry). A non-retriable error is rethrown at once,
 * unchanged; when retries run out, a RetriesExhaustedError wraps the last error.
 * `fn` receives the attempt number, 0 for the first call.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  validate(opts);
  const random = opts.random ?? Math.random;
  const sleep = opts.sleep ?? abortableSleep;
  const isRetriable = opts.isRetriable ?? defaultIsRetriable;
  for (let attempt = 0; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isRetriable(err)) throw err;
      if (attempt >= opts.retries) throw new RetriesExhaustedError(attempt + 1, err);
      const delayMs = backoffDelay(attempt, opts, random);
      opts.onRetry?.({ attempt, delayMs, error: err });
      await sleep(delayMs, opts.signal);
    }
  }
}

/** Rejects with the signal's own reason (as `throwIfAborted` does), not Node's generic AbortError. */
async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
}

function validate(opts: RetryOptions): void {
  const problems: string[] = [];
  if (!Number.isInteger(opts.retries) || opts.retries < 0) problems.push(`retries must be a whole number >= 0, got ${opts.retries}`);
  if (!Number.isFinite(opts.initialMs) || opts.initialMs < 0) problems.push(`initialMs must be >= 0, got ${opts.initialMs}`);
  if (!Number.isFinite(opts.maxMs) || opts.maxMs < opts.initialMs) {
    problems.push(`maxMs must be >= initialMs (${opts.initialMs}), got ${opts.maxMs}`);
  }
  const factor = opts.factor ?? 2;
  if (!Number.isFinite(factor) || factor < 1) problems.push(`factor must be >= 1, got ${factor}`);
  const jitter = opts.jitter ?? 0.2;
  if (!Number.isFinite(jitter) || jitter < 0 || jitter > 1) problems.push(`jitter must be between 0 and 1, got ${jitter}`);
  if (problems.length > 0) throw new ConfigError(`invalid retry options: ${problems.join('; ')}`);
}
