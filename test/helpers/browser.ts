import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWhen } from './describeWhen.js';
import type { BrowserContext } from 'playwright-core';

/** Debian's chromium (`apt-get install -y chromium`; .ci/run installs it). CHROMIUM_PATH overrides. */
export const chromiumPath: string = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export const hasChromium: boolean = existsSync(chromiumPath);

/**
 * Browser tests need a real headless chromium: without one they skip with one line naming the
 * command that installs it — except under CI, where a missing browser fails the run.
 */
export function describeWithChromium(name: string, fn: () => void): void {
  describeWhen(name, [hasChromium ? undefined : `no chromium at ${chromiumPath}; install it with: apt-get install -y chromium`], fn);
}

/**
 * Headless chromium with a fresh profile, no network chatter of its own (no update, sync or
 * component downloads), so a report that needed the network would fail visibly.
 */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'streamcast-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1040, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
