/**
 * An error as it crosses a thread boundary. Structured cloning keeps an Error's message but drops
 * what streamcast classifies kafkajs errors by (errors are classified by data, never by message:
 * `retriable`, `retryCount`, the broker's error `type`, the `cause` chain), so those travel as
 * data and are put back on the other side.
 */
export interface RemoteError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly retriable?: boolean;
  readonly retryCount?: number;
  readonly type?: string;
  readonly code?: number;
  readonly cause?: RemoteError;
}

const MAX_DEPTH = 5;

export function toRemoteError(err: unknown, depth = 0): RemoteError {
  if (typeof err !== 'object' || err === null) return { name: 'Error', message: String(err) };
  const e = err as Partial<Record<keyof RemoteError, unknown>>;
  const cause = e.cause !== undefined && e.cause !== err && depth < MAX_DEPTH ? toRemoteError(e.cause, depth + 1) : undefined;
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : String(err),
    ...(typeof e.stack === 'string' ? { stack: e.stack } : {}),
    ...(typeof e.retriable === 'boolean' ? { retriable: e.retriable } : {}),
    ...(typeof e.retryCount === 'number' ? { retryCount: e.retryCount } : {}),
    ...(typeof e.type === 'string' ? { type: e.type } : {}),
    ...(typeof e.code === 'number' ? { code: e.code } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
}

/** An Error carrying the remote one's name, message, classification fields and causes. */
export function fromRemoteError(r: RemoteError): Error {
  const err = new Error(r.message, r.cause !== undefined ? { cause: fromRemoteError(r.cause) } : undefined);
  err.name = r.name;
  if (r.stack !== undefined) err.stack = r.stack;
  const extra: Record<string, unknown> = {};
  if (r.retriable !== undefined) extra['retriable'] = r.retriable;
  if (r.retryCount !== undefined) extra['retryCount'] = r.retryCount;
  if (r.type !== undefined) extra['type'] = r.type;
  if (r.code !== undefined) extra['code'] = r.code;
  return Object.assign(err, extra);
}
