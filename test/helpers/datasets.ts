import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWhen } from './describeWhen.js';

/**
 * The shared real data sets live beside the checkout (`../shared/datasets`), not in it: a fresh
 * clone lacks them, so tests that read them skip with a message — except on CI, where their
 * absence is a broken runner and must fail loudly.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const datasetsDir: string = resolve(repoRoot, '..', 'shared', 'datasets');

export const hasDatasets: boolean = existsSync(datasetsDir);

export function describeWithDatasets(name: string, fn: () => void): void {
  describeWhen(name, [hasDatasets ? undefined : `datasets folder ${datasetsDir} not found; the runner must provide ../shared/datasets (see its README.md)`], fn);
}
