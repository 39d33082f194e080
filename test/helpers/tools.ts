import { spawnSync, type SpawnSyncOptionsWithStringEncoding, type SpawnSyncReturns } from 'node:child_process';
import { TestRunner } from 'vitest';
import { onCi } from './ci.js';

/**
 * System tools the integration tests drive (kcat, promtool, prometheus, influxd, java,
 * docker-compose). `npm run setup:services` (deploy/setup-services.sh) installs all of them; a
 * fresh machine without them still passes `npm test`: the suites that need a missing tool skip
 * with one line naming that command — except under CI, where a missing tool is a broken runner
 * and fails the run (describeWhen.ts).
 */
export const SETUP_COMMAND = 'npm run setup:services';

/** The Debian package of each tool, for the hint after SETUP_COMMAND. */
const DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  kcat: 'kcat',
  promtool: 'prometheus',
  prometheus: 'prometheus',
  influxd: 'influxdb',
  java: 'openjdk-17-jre-headless',
  'docker-compose': 'docker-compose',
};

/** What to run to get `command`: the setup script and the apt-get line it uses, else `fallback`. */
export function installHint(command: string, fallback?: string): string {
  const pkg = DEBIAN_PACKAGE[command];
  if (pkg !== undefined) return `install it with \`${SETUP_COMMAND}\` (or: apt-get install -y --no-install-recommends ${pkg})`;
  return fallback ?? `install it with \`${SETUP_COMMAND}\``;
}

const present = new Map<string, boolean>();

/** True when `command` can be started from PATH (ENOENT/EACCES are the only answers that mean no). */
export function hasCommand(command: string): boolean {
  let known = present.get(command);
  if (known === undefined) {
    // Any argument will do: only whether the program starts matters, not its exit status.
    const r = spawnSync(command, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    known = !isMissing(r.error);
    present.set(command, known);
  }
  return known;
}

function isMissing(err: Error | undefined): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'EACCES';
}

/** The one line a skipped suite or test prints: which command is missing and how to install it. */
export function missingLine(command: string, what: string): string {
  return `skipping ${what}: ${command} not found on PATH; ${installHint(command)}`;
}

/** Why `command` cannot serve as a requirement, or undefined when it is installed. */
export function commandProblem(command: string, fallbackHint?: string): string | undefined {
  return hasCommand(command) ? undefined : `${command} not found on PATH; ${installHint(command, fallbackHint)}`;
}

const warned = new Set<string>();

/**
 * Inside a running test: skips it when `command` is missing (one line per tool per worker), so a
 * test that only calls the harness helpers skips without declaring anything. Under CI, or outside
 * a test (a beforeAll), it throws naming the program instead.
 */
export function requireCommand(command: string): void {
  if (hasCommand(command)) return;
  const line = missingLine(command, 'this test');
  const test = TestRunner.getCurrentTest();
  if (onCi() || test === undefined) throw new Error(`${command} not found on PATH; ${installHint(command)}`);
  if (!warned.has(command)) {
    warned.add(command);
    console.warn(line);
  }
  test.context.skip(`${command} not found on PATH`);
}

/**
 * spawnSync that names the program when it cannot start at all (its error would otherwise read
 * `(null): null`), and fails with its status and stderr when it exits non-zero.
 */
export function runTool(command: string, args: readonly string[], what: string, opts: Omit<SpawnSyncOptionsWithStringEncoding, 'encoding'> = {}): SpawnSyncReturns<string> {
  requireCommand(command);
  const r = spawnSync(command, args, { ...opts, encoding: 'utf8' });
  if (r.error !== undefined) {
    const hint = isMissing(r.error) ? `; ${installHint(command)}` : '';
    throw new Error(`${what}: cannot run ${command} (${r.error.message})${hint}`, { cause: r.error });
  }
  if (r.status !== 0) throw new Error(`${what}: ${command} exited with ${r.status === null ? `signal ${String(r.signal)}` : `status ${r.status}`}: ${r.stderr}`);
  return r;
}
