import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

/**
 * Ctrl-C in a backtest with retraining (the demo's data: in the repository, no shared data
 * set needed): the SIGINT lands while a retrain is in flight in the trainer worker, just after
 * the first one ended.
 */
describe('backtest: SIGINT during retraining', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-interrupt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops, promotes nothing after the signal, writes the partial report marked partial and exits 130', async () => {
    const input = join(repoRoot, 'node_modules/vega-datasets/data/seattle-weather-hourly-normals.csv');
    const child = spawn(process.execPath, ['bin/streamcast.js', 'backtest', 'pipelines/demo.yaml', '--input', input, '--report', dir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      // The first retrain is over: the next one (retrain.every 7d = 168 steps later) starts at once.
      if (!signalled && /candidate rejected|promoted/.test(stderr)) {
        signalled = true;
        setTimeout(() => child.kill('SIGINT'), 1000);
      }
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(killer);
    expect(signalled).toBe(true);
    expect(code).toBe(130);
    const after = stderr.slice(stderr.indexOf('received SIGINT'));
    expect(after).toContain('stopping at the next safe point');
    expect(after).not.toMatch(/model v\d+ promoted/);
    // A file command speaks of files.
    expect(stderr).not.toMatch(/offset/i);
    expect(stderr).toContain(`partial report in ${join(dir, 'index.html')}`);
    expect(stdout).toContain('(PARTIAL: interrupted)');
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { partial: boolean; scoredCells: number };
    expect(summary.partial).toBe(true);
    expect(summary.scoredCells).toBeGreaterThan(0);
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html).toContain('<title>streamcast backtest: demo (partial)</title>');
    expect(html).toContain('Partial run: interrupted');
  }, 180_000);
});
