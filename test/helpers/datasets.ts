import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

/**
 * The shared real data sets live beside the checkout (`../shared/datasets`), not in it: a fresh
 * clone lacks them, so tests that read them skip with a message — except on CI, where their
 * absence is a broken runner and must fail loudly.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const datasetsDir: string = resolve(repoRoot, '..', 'shared', 'datasets');

export const hasDatasets: boolean = existsSync(datasetsDir);

export function describeWithDatasets(name: string, fn: () => void): void {
  if (hasDatasets) {
    describe(name, fn);
    return;
  }
  if (process.env['CI']) {
    throw new Error(`datasets folder ${datasetsDir} is missing on CI; the runner must provide ../shared/datasets`);
  }
  console.warn(`skipping "${name}": datasets folder ${datasetsDir} not found (see ../shared/datasets/README.md)`);
  describe.skip(name, fn);
}
