import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, estimateRemainingMs, formatEta } from '../../../src/cli/progress.js';
import { createLogger } from '../../../src/observability/logger.js';

/** A stand-in terminal: cli-progress draws on it as on a TTY. */
function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { isTTY: boolean; columns: number };
  s.isTTY = true;
  s.columns = 200;
  let out = '';
  (s as unknown as PassThrough).on('data', (c: Buffer) => (out += c.toString('utf8')));
  return { stream: s, text: () => out };
}
const plain = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b[78]/g, '');

describe('progress', () => {
  it('never shows a garbage time left', () => {
    for (const [f, ms] of [[0, 0], [0, 10_000], [0.005, 10_000], [0.5, 100], [1, 0], [Number.NaN, 5000], [0.5, Number.POSITIVE_INFINITY]] as const) {
      const eta = formatEta(estimateRemainingMs(f, ms));
      expect(eta).toMatch(/^ETA (–|\d+ s|\d+ min \d\d s|\d+ h \d\d min)$/);
    }
    expect(formatEta(estimateRemainingMs(0.25, 60_000))).toBe('ETA 3 min 00 s');
    expect(formatEta(estimateRemainingMs(1, 60_000))).toBe('ETA 0 s');
  });

  it('writes log lines above the bar, never glued onto it, and shows the phase', () => {
    const tty = fakeTty();
    let t = 0;
    const progress = createProgress('backtest', { stream: tty.stream, now: () => t });
    const logger = createLogger({ level: 'info', format: 'pretty', destination: progress.logStream });
    t = 10_000;
    progress.update(0.5, { points: 100 });
    progress.phase('retrain 2: epoch 3/5 40%');
    progress.update(0.5, { points: 100 });
    logger.info('model v2 promoted');
    progress.update(0.6, { points: 120 });
    progress.stop();
    // Each terminal line after cursor movements: the log line stands alone.
    const lines = plain(tty.text()).split(/\r|\n/).map((l) => l.trim()).filter(Boolean);
    const log = lines.filter((l) => l.includes('model v2 promoted'));
    expect(log.length).toBe(1);
    expect(log[0]).not.toContain('backtest [');
    expect(log[0]).not.toContain('%');
    expect(lines.some((l) => l.startsWith('backtest [') && l.includes('retrain 2: epoch 3/5 40%') && l.includes('ETA 10 s'))).toBe(true);
    // The bar is drawn again after the log line.
    const lastBar = lines.map((l, i) => (l.startsWith('backtest [') ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
    expect(lastBar).toBeGreaterThan(lines.findIndex((l) => l.includes('model v2 promoted')));
  });
});
