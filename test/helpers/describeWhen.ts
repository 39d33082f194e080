import { describe, it } from 'vitest';
import { onCi } from './ci.js';

/** The problems that stand: what is missing and how to get it, one line each. */
function unmet(problems: ReadonlyArray<string | undefined>): string[] {
  return problems.filter((p): p is string => p !== undefined);
}

/**
 * Declares the suite when every requirement is met (`problems` holds why one is not, with the
 * fix); otherwise it is skipped with one line — or, under CI, collection fails with the same
 * reason. The one "skip, but fail under CI" of the tests: tools, servers, browsers, data sets.
 */
export function describeWhen(name: string, problems: ReadonlyArray<string | undefined>, fn: () => void): void {
  const missing = unmet(problems);
  if (missing.length === 0) {
    describe(name, fn);
    return;
  }
  if (onCi()) throw new Error(`"${name}" cannot run on CI: ${missing.join('; ')}`);
  console.warn(`skipping "${name}": ${missing.join('; ')}`);
  describe.skip(name, fn);
}

/** describeWhen for one test; under CI the test itself fails with the reason (its neighbours still run). */
export function itWhen(name: string, problems: ReadonlyArray<string | undefined>, fn: () => Promise<void> | void, timeoutMs?: number): void {
  const missing = unmet(problems);
  if (missing.length === 0) {
    it(name, fn, timeoutMs);
    return;
  }
  if (onCi()) {
    it(name, () => {
      throw new Error(`cannot run on CI: ${missing.join('; ')}`);
    });
    return;
  }
  console.warn(`skipping "${name}": ${missing.join('; ')}`);
  it.skip(name, fn, timeoutMs);
}
