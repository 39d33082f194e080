import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { trainCommand } from '../../../../src/cli/commands/train.js';
import { ManualClock } from '../../../../src/domain/clock.js';
import { featureLayout } from '../../../../src/forecasting/gru/featureLayout.js';
import { ArtifactStore } from '../../../../src/training/artifactStore.js';
import { runCli } from '../../../helpers/cli.js';
import { contractBackends } from '../../../helpers/computeBackends.js';

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
    // model.members (default 2) GRUs of 8 units, stored as one of 16.
    const loaded = await store.loadCurrent('tiny', { layout: featureLayout(['hourOfDay'], 6), hidden: 16, horizon: 4, quantiles: [0.1, 0.5, 0.9], anyBase: true });
    expect(loaded?.version).toBe(1);
    expect(loaded?.weights.cell.units).toBe(16);
    // The seasonal base differences away the first day.
    expect(loaded?.meta.training.steps).toBe(600 - 24);
    expect(loaded?.meta.validation.loss).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'models', 'tiny', 'current'), 'utf8'))).toEqual({ version: 1 });
  });
});

function tinyFixture(name: string): { spec: string; input: string } {
  const csv = ['timestamp,value'];
  const t0 = Date.UTC(2024, 0, 1);
  for (let i = 0; i < 400; i++) csv.push(`${new Date(t0 + i * 3_600_000).toISOString()},${(50 + 10 * Math.sin((2 * Math.PI * i) / 24)).toFixed(3)}`);
  const input = path.join(dir, `${name}.csv`);
  writeFileSync(input, `${csv.join('\n')}\n`);
  const spec = path.join(dir, `${name}.yaml`);
  writeFileSync(
    spec,
    [
      `name: ${name}`,
      'input: { topic: in.tiny, codec: json }',
      'output: { topic: out.tiny }',
      'window: { step: 1h }',
      'model: { type: gru, hidden: 8, context: 24, horizon: 4, quantiles: [0.1, 0.5, 0.9], timeFeatures: [hourOfDay] }',
      'retrain: { epochs: 1, minHistory: 100 }',
    ].join('\n'),
  );
  return { spec, input };
}

describe.each(contractBackends())('trainCommand --train-backend %s', (backend) => {
  it('trains in the worker on the backend asked for, and says so', async () => {
    const { spec, input } = tinyFixture(`tiny-${backend}`);
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    try {
      expect(await trainCommand(spec, { input: [input], out: path.join(dir, `models-${backend}`), quiet: true, force: true, trainBackend: backend })).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out.join('')).toMatch(new RegExp(`, [\\d.]+ s on ${backend};`));
  });
});

describe('streamcast train with a backend that is not installed', () => {
  it('exits 2 at start and names the install command', async () => {
    const { spec, input } = tinyFixture('tiny-gpu');
    const r = await runCli(['train', spec, '-i', input, '-o', path.join(dir, 'models-gpu'), '-q', '--train-backend', 'tensorflow-gpu'], { env: { STREAMCAST_BACKEND: '' } });
    expect(r.stderr).toMatch(/compute backend "tensorflow-gpu" is not available: @tensorflow\/tfjs-node-gpu is not installed or does not load; run `npm run native:install -- --gpu`/);
    expect(r.code).toBe(2);
  });

  it('exits 2 on a backend name that does not exist', async () => {
    const { spec, input } = tinyFixture('tiny-bad');
    const r = await runCli(['train', spec, '-i', input, '-q', '--backend', 'cuda']);
    expect(r.stderr).toMatch(/--backend "cuda" is not a compute backend; use one of auto, wasm, tensorflow, tensorflow-gpu/);
    expect(r.code).toBe(2);
  });
});
