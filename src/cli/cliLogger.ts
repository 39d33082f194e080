import { createLogger, type Logger } from '../observability/logger.js';

/** The logging flags every command takes (`--log-level`, `--log-format`, and `-q` where it exists). */
export interface LogFlags {
  logLevel?: string;
  logFormat?: string;
  quiet?: boolean;
}

/**
 * The logger of a CLI command, on stderr. Level: `--log-level`, else `warn` with `-q`, else
 * `info`. Format: `--log-format`, else human lines on a terminal and JSON lines otherwise (a file,
 * a pipe, a container's log collector). A bad value is a ConfigError (exit 2). On stderr unless
 * `destination` says otherwise.
 */
export function cliLogger(flags: LogFlags, destination?: NodeJS.WritableStream): Logger {
  return createLogger({
    level: flags.logLevel ?? (flags.quiet === true ? 'warn' : 'info'),
    format: flags.logFormat ?? (process.stderr.isTTY ? 'pretty' : 'json'),
    colorize: Boolean(process.stderr.isTTY),
    // A progress bar's log stream: lines go above the bar, never into it.
    ...(destination !== undefined ? { destination } : {}),
  });
}

/** Just the logging flags, to hand on to a helper that builds the logger later. */
export function logFlags(flags: LogFlags): LogFlags {
  return {
    ...(flags.logLevel !== undefined ? { logLevel: flags.logLevel } : {}),
    ...(flags.logFormat !== undefined ? { logFormat: flags.logFormat } : {}),
    ...(flags.quiet !== undefined ? { quiet: flags.quiet } : {}),
  };
}
