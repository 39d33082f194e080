import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `probe` every `everyMs` until it returns true; resolves with the seconds that took, or
 * undefined after `timeoutS` (every wait of the benchmark is bounded) or once `giveUp()` says so.
 */
export async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutS: number, opts: { everyMs?: number; giveUp?: () => boolean } = {}): Promise<number | undefined> {
  const t0 = performance.now();
  for (;;) {
    if (await probe()) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutS * 1000 || opts.giveUp?.() === true) return undefined;
    await sleep(opts.everyMs ?? 250);
  }
}
