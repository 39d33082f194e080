import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { trainCommand } from '../../../../src/cli/commands/train.js';
import { ManualClock } from '../../../../src/domain/clock.js';
import { featureLayout } from '../../../../src/forecasting/gru/featureLayout.js';
import { ArtifactStore } from '../../../../src/training/artifactStore.js';

const dir = mkdtempSync(path.join(tmpdir(), 'streamcast-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trainCommand', () => {
  it('replays a file, trains in the worker, writes a loadable artifact and reports losses', async () => {
    const csv = ['timestamp,value'];
    const t0 = Date.UTC(2024, 0, 1);
    for (let i = 0; i < 600; i++) csv.push(`${new Date(t0 + i * 3_600_000).toISOString()},${(50 + 10 * Math.sin((2 * Math.PI * i) / 24) + ((i * 7919) % 13) / 13).toFixed(3)}`);
    const input = path.join(dir, 'series.csv');
    writeFileSync(input, `${csv.join('\n')}\n`);
    const spec = path.join(dir, 'p.yaml');
    writeFileSync(
      spec,
      [
        'name: tiny',
        'input: { topic: in.tiny, codec: json }',
        'output: { topic: out.tiny }',
        'window: { step: 1h }',
        'impute: { strategy: ffill, maxGap: 6h }',
        'model: { type: gru, hidden: 8, context: 24, horizon: 4, quantiles: [0.1, 0.5, 0.9], timeFeatures: [hourOfDay] }',
        'retrain: { epochs: 2, minHistory: 100, promote: { mustBeat: baseline } }',
      ].join('\n'),
    );
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    let code: number;
    try {
      code = await trainCommand(spec, { input: [input], out: path.join(dir, 'models'), quiet: true, force: true });
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/model tiny v1 written/);
    expect(text).toMatch(/validation loss .* model \d+\.\d{4}, untrained \d+\.\d{4}, current n\/a, best baseline \d+\.\d{4}/);
    // The same residual base a scheduled retrain picks (a daily sine: one day ago).
    expect(text).toMatch(/base seasonal:24/);
    const store = new ArtifactStore(path.join(dir, 'models'), new ManualClock(0));
    const loaded = await store.loadCurrent('tiny', { layout: featureLayout(['hourOfDay'], 6), hidden: 8, horizon: 4, quantiles: [0.1, 0.5, 0.9], anyBase: true });
    expect(loaded?.version).toBe(1);
    // The seasonal base differences away the first day.
    expect(loaded?.meta.training.steps).toBe(600 - 24);
    expect(loaded?.meta.validation.loss).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'models', 'tiny', 'current'), 'utf8'))).toEqual({ version: 1 });
  });
});
