import { describeWhen } from './describeWhen.js';
import { commandProblem, hasCommand } from './tools.js';

export { hasCommand };

/**
 * Runs the suite when `command` is installed. Elsewhere it skips with one line naming the command
 * that installs it (`npm run setup:services`; `installHint` for a tool that script does not know)
 * — except on CI (`process.env.CI` set), where a missing tool is a broken runner and must fail.
 */
export function describeWithCommand(command: string, installHint: string, name: string, fn: () => void): void {
  describeWhen(name, [commandProblem(command, installHint)], fn);
}
