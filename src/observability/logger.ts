import { pino } from 'pino';
import type { DestinationStream, LogFn, Logger as PinoLogger } from 'pino';
import pinoPretty from 'pino-pretty';
import { ConfigError } from '../domain/errors.js';

export type Logger = PinoLogger;

/** What runtime helpers need from a logger; a real pino logger satisfies it. */
export type LogSink = Pick<PinoLogger, 'debug' | 'info' | 'warn' | 'error'>;

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  /** pino level name (`trace`, `debug`, `info`, `warn`, `error`, `fatal`, `silent`); default `info`. */
  readonly level?: string;
  /** `json` (default): one JSON object per line; `pretty`: human lines by pino-pretty, for terminals. */
  readonly format?: string;
  /** Colours in `pretty` lines (for a terminal); default false. */
  readonly colorize?: boolean;
  /**
   * A stream or a file descriptor; default fd 2 (stderr), because stdout carries forecast output
   * in the CLI and a log line there would corrupt it for whoever pipes it on.
   */
  readonly destination?: NodeJS.WritableStream | number;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`unknown log level "${level}"; use one of ${LOG_LEVELS.join(', ')}`);
  }
  const format = opts.format ?? 'json';
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new ConfigError(`unknown log format "${format}"; use ${LOG_FORMATS.join(' or ')}`);
  }
  const dest = opts.destination ?? 2;
  // Synchronous writes: the CLI may exit right after logging why it stopped, and an asynchronous
  // buffer would lose exactly that line.
  const stream: DestinationStream =
    format === 'pretty'
      ? pinoPretty({ destination: dest, sync: true, colorize: opts.colorize === true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
      : typeof dest === 'number'
        ? pino.destination({ fd: dest, sync: true })
        : (dest as DestinationStream);
  return pino({ level, hooks: { logMethod: withoutBoundKeys } }, stream);
}

/**
 * pino writes a key bound by `child()` and the same key passed at the call site both, giving
 * lines like `"pipeline":"demo","pipeline":"demo"` that strict JSON readers reject or misread.
 * Components log their context without knowing whether the caller bound it already, so the
 * duplicates are dropped here, in one place: a call-site key equal to a bound one is left out.
 * (A call-site key with a different value is kept: that is information, not repetition.)
 */
function withoutBoundKeys(this: PinoLogger, args: Parameters<LogFn>, method: LogFn): void {
  const [first, ...rest] = args as unknown[];
  if (first !== null && typeof first === 'object' && !(first instanceof Error) && !Array.isArray(first)) {
    const bound = this.bindings();
    const own = first as Record<string, unknown>;
    const clash = Object.keys(own).filter((k) => Object.hasOwn(bound, k) && Object.is(bound[k], own[k]));
    if (clash.length > 0) {
      const kept: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(own)) if (!clash.includes(k)) kept[k] = v;
      (method as (...a: unknown[]) => void).apply(this, [kept, ...rest]);
      return;
    }
  }
  (method as (...a: unknown[]) => void).apply(this, args as unknown[]);
}
