const MAX_DEPTH = 5;

/**
 * An error and its causes in one line, for the log line and the exit message of a failure:
 * `KafkaJSNonRetriableError: Connection error: connect ECONNREFUSED 127.0.0.1:9092 (caused by
 * KafkaJSConnectionError, retriable)`. Each link gives its class name, the broker's error code
 * (`type`) when it has one, and whether it was marked retriable; a cause whose message repeats its
 * wrapper's (as kafkajs' wrappers do) is named without it. So the operator reads what actually
 * failed rather than a guess.
 */
export function describeError(err: unknown): string {
  const links: string[] = [];
  let previous: string | undefined;
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < MAX_DEPTH; depth++) {
    if (typeof e !== 'object') {
      links.push(String(e));
      break;
    }
    const o = e as { name?: unknown; message?: unknown; type?: unknown; retriable?: unknown; kind?: unknown; cause?: unknown };
    const name = typeof o.name === 'string' ? o.name : 'Error';
    const message = typeof o.message === 'string' ? o.message : '';
    const marks = [
      ...(typeof o.type === 'string' ? [o.type] : []),
      ...(typeof o.kind === 'string' ? [o.kind] : typeof o.retriable === 'boolean' ? [o.retriable ? 'retriable' : 'not retriable'] : []),
    ];
    const head = `${name}${marks.length > 0 ? ` [${marks.join(', ')}]` : ''}`;
    links.push(message === '' || message === previous || (previous?.includes(message) ?? false) ? head : `${head}: ${message}`);
    previous = message;
    if (o.cause === e) break;
    e = o.cause;
  }
  return links.join(' ← caused by ');
}
