import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';
import { ConfigError } from '../domain/errors.js';

export type Logger = PinoLogger;

/** What runtime helpers need from a logger; a real pino logger satisfies it. */
export type LogSink = Pick<PinoLogger, 'debug' | 'info' | 'warn' | 'error'>;

export interface LoggerOptions {
  /** pino level name (`trace`, `debug`, `info`, `warn`, `error`, `fatal`, `silent`); default `info`. */
  readonly level?: string;
  /** One compact human line per record instead of JSON lines; meant for terminals. */
  readonly pretty?: boolean;
  /**
   * A stream or a file descriptor; default fd 2 (stderr), because stdout carries forecast output
   * in the CLI and a log line there would corrupt it for whoever pipes it on.
   */
  readonly destination?: NodeJS.WritableStream | number;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`unknown log level "${level}"; use one of ${LEVELS.join(', ')}`);
  }
  const dest = opts.destination ?? 2;
  // Synchronous writes to a descriptor: the CLI may exit right after logging why it stopped, and
  // an asynchronous buffer would lose exactly that line.
  const raw: DestinationStream =
    typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : (dest as DestinationStream);
  const stream = opts.pretty === true ? new PrettyStream(raw) : raw;
  return pino({ level }, stream);
}

/** Turns pino's JSON lines into compact human lines before handing them to `inner`. */
class PrettyStream implements DestinationStream {
  constructor(private readonly inner: DestinationStream) {}
  write(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (line.length > 0) this.inner.write(formatPretty(line) + '\n');
    }
  }
}

const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'err']);

/**
 * `HH:MM:SS.mmm LEVEL message key=value …`, then an error's stack on the following lines.
 * A line that is not a JSON object is passed through unchanged rather than lost.
 */
export function formatPretty(line: string): string {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch (err) {
    // Not one of pino's lines (something else wrote to the stream): keep it verbatim.
    if (err instanceof SyntaxError) return line;
    throw err;
  }
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return line;
  const r = rec as Record<string, unknown>;
  const time = typeof r.time === 'number' ? new Date(r.time).toISOString().slice(11, 23) : '--:--:--.---';
  const level = typeof r.level === 'number' ? (pino.levels.labels[r.level] ?? String(r.level)) : String(r.level);
  const parts = [time, level.toUpperCase().padEnd(5)];
  if (typeof r.msg === 'string') parts.push(r.msg);
  for (const [k, v] of Object.entries(r)) {
    if (OMIT.has(k)) continue;
    parts.push(`${k}=${typeof v === 'string' ? quoteIfNeeded(v) : JSON.stringify(v)}`);
  }
  let out = parts.join(' ');
  const err = r.err;
  if (err !== null && typeof err === 'object') {
    const e = err as Record<string, unknown>;
    out += typeof e.stack === 'string' ? `\n  ${e.stack.replaceAll('\n', '\n  ')}` : ` err=${JSON.stringify(err)}`;
  }
  return out;
}

function quoteIfNeeded(s: string): string {
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}
