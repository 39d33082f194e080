import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { describeWithChromium, launchChromium } from '../helpers/browser.js';
import { repoRoot, runCli } from '../helpers/cli.js';

/**
 * The backtest report in a real headless chromium: it renders offline from file://, without a
 * console error or a network request, with the expected marks. It takes the screenshot that the
 * README shows (.cache/report.png; STREAMCAST_UPDATE_SCREENSHOT=1 also writes docs/report.png).
 */
describeWithChromium('backtest report in headless chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-report-'));
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    // The demo's data set (in the repository's dependencies) and its shipped model: three series.
    const r = await runCli(['backtest', 'pipelines/demo.yaml', '--input', 'node_modules/vega-datasets/data/seattle-weather-hourly-normals.csv', '--model', 'models', '--no-retrain', '--quiet', '--report', dir], { timeoutMs: 170_000 });
    expect(r.code, r.stderr).toBe(0);
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (req) => {
      if (!/^(file|data|blob):/.test(req.url())) problems.push(`network request: ${req.url()}`);
    });
    await page.goto(`file://${join(dir, 'index.html')}`);
    await page.waitForSelector('body[data-rendered]', { timeout: 60_000 });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = (selector: string) => page.locator(selector).count();

  it('renders every chart offline without a console error', async () => {
    expect(await page.getAttribute('body', 'data-rendered')).toBe('true');
    expect(problems).toEqual([]);
  });

  it('draws every series, the bands, the fan and the nominal coverage line', async () => {
    // Small multiples: actual and the model's 1-step centre for each of the 3 series.
    expect(await count('#overview g.mark-line.role-mark path')).toBe(6);
    // Detail: the outer band and the centre of the model and the best baseline, and the actuals.
    expect(await count('#detail g.mark-area.role-mark path')).toBeGreaterThanOrEqual(4);
    expect(await count('#detail g.mark-line.role-mark path')).toBeGreaterThanOrEqual(6);
    // The fan's forecast points: 12 horizons × 2 models, and the dashed rule at the origin.
    expect(await count('#detail g.mark-symbol.role-mark path')).toBeGreaterThanOrEqual(24);
    expect(await count('#detail g.mark-rule.role-mark line')).toBe(1);
    // MAE and coverage by horizon: one line per model (the model, the model before online
    // calibration, and 3 baselines) in each, and the nominal rule.
    expect(await count('#horizon g.mark-line.role-mark path')).toBe(10);
    expect(await count('#horizon g.mark-rule.role-mark line')).toBe(1);
    const legendTitles = await page.locator('g.role-legend-title text').allTextContents();
    expect(legendTitles.join(' ')).toContain('median (q0.5)');
    expect(await page.locator('table.series tbody tr').count()).toBe(3);
    expect(await page.textContent('body')).toContain('gru v1 (in-sample)');
  });

  it('gives a model the same colour in every chart and keeps tick labels short', async () => {
    // Page-side code as text: the test is compiled without the DOM library.
    const legends = (await page.evaluate(`[...document.querySelectorAll('g.role-legend')].map((legend) => {
      const labels = [...legend.querySelectorAll('g.role-legend-label text')].map((t) => t.textContent ?? '');
      const symbols = [...legend.querySelectorAll('g.role-legend-symbol path')].map((p) => p.getAttribute('stroke') ?? p.getAttribute('fill') ?? '');
      return labels.map((l, i) => [l, symbols[i] ?? '']);
    })`)) as [string, string][][];
    const colourOf = new Map<string, string>();
    for (const [label, colour] of legends.flat()) {
      expect(colour).not.toBe('');
      expect(colourOf.get(label) ?? colour, label).toBe(colour);
      colourOf.set(label, colour);
    }
    expect(colourOf.size).toBeGreaterThanOrEqual(5);
    // Numeric ticks: nice steps (1, 2, 2.5 or 5 × 10^k), no padded zeros (the old report had 81.48 and "15:45").
    const axes = (await page.evaluate(`[...document.querySelectorAll('g.role-axis')].map((a) => [...a.querySelectorAll('g.role-axis-label text')].map((t) => t.textContent ?? ''))`)) as string[][];
    let numeric = 0;
    for (const labels of axes) {
      const values = labels.map((l) => l.replace(/,/g, '').replace('\u2212', '-')).filter((l) => /^-?\d+(\.\d+)?%?$/.test(l));
      for (const v of values) expect(v, v).not.toMatch(/\.\d*0%?$/);
      const xs = values.map((v) => Number.parseFloat(v));
      if (xs.length < 3) continue;
      numeric++;
      const step = Math.abs(xs[1]! - xs[0]!);
      const mantissa = step / 10 ** Math.floor(Math.log10(step));
      expect([1, 2, 2.5, 5].some((m) => Math.abs(mantissa - m) < 1e-6), `ticks ${labels.join(' ')}`).toBe(true);
      for (let i = 2; i < xs.length; i++) expect(Math.abs(Math.abs(xs[i]! - xs[i - 1]!) - step)).toBeLessThan(step * 1e-6);
    }
    expect(numeric).toBeGreaterThan(5);
  });

  it('follows the pickers: another series and another origin redraw without errors', async () => {
    await page.selectOption('#detail select >> nth=0', 'wind');
    await page.locator('#detail input[type=range]').fill('5');
    await page.waitForTimeout(300);
    expect(await count('#detail g.mark-symbol.role-mark path')).toBeGreaterThanOrEqual(24);
    expect(problems).toEqual([]);
    await page.selectOption('#detail select >> nth=0', 'temperature');
    await page.locator('#detail input[type=range]').fill('23');
    await page.waitForTimeout(300);
    const shot = join(repoRoot, '.cache', 'report.png');
    mkdirSync(join(repoRoot, '.cache'), { recursive: true });
    // From the top to the horizon charts: small enough to commit, the tables and metadata are text anyway.
    const box = (await page.locator('#horizon').boundingBox())!;
    await page.screenshot({ path: shot, fullPage: true, clip: { x: 0, y: 0, width: 1040, height: Math.ceil(box.y + box.height + 16) } });
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    if (process.env['STREAMCAST_UPDATE_SCREENSHOT'] === '1') copyFileSync(shot, join(repoRoot, 'docs', 'report.png'));
  });
});
