import { spawnSync } from 'node:child_process';
import { describe } from 'vitest';

/** True when `command` can be run from PATH (probed with `--version`). */
export function hasCommand(command: string): boolean {
  const r = spawnSync(command, ['--version'], { stdio: 'ignore' });
  return r.error === undefined;
}

/**
 * Runs the suite when `command` is installed. Elsewhere it skips with a message — except on CI
 * (`process.env.CI` set), where a missing tool is a broken runner and must fail.
 */
export function describeWithCommand(command: string, installHint: string, name: string, fn: () => void): void {
  if (hasCommand(command)) {
    describe(name, fn);
    return;
  }
  if (process.env['CI']) {
    throw new Error(`${command} is not installed on CI; ${installHint}`);
  }
  console.warn(`skipping "${name}": ${command} not found on PATH (${installHint})`);
  describe.skip(name, fn);
}
