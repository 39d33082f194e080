/**
 * Errors carry their class as data so that callers branch on `kind`, never on names or messages.
 * - `config`: the user's spec, flag or environment is wrong; exit 2 with `message` (which says
 *   how to fix it).
 * - `retriable`: a transient failure (broker away, timeout); retry with backoff.
 * - `fatal`: a bug or unrecoverable state; stop cleanly and let the supervisor restart.
 */
export type ErrorKind = 'config' | 'retriable' | 'fatal';

export class StreamcastError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'StreamcastError';
  }
}

export class ConfigError extends StreamcastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config', message, options);
  }
}

export function isStreamcastError(err: unknown): err is StreamcastError {
  return err instanceof StreamcastError;
}

/** Exit code for an error escaping to the CLI: 2 for usage/config problems, 1 otherwise. */
export function exitCodeFor(err: unknown): number {
  return isStreamcastError(err) && err.kind === 'config' ? 2 : 1;
}
