import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import { ConfigError } from '../../../src/domain/errors.js';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { GruForecaster } from '../../../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { identityCalibration } from '../../../src/forecasting/gru/calibration.js';
import { ArtifactStore, specHash } from '../../../src/training/artifactStore.js';
import type { ArtifactInfo } from '../../../src/training/artifactStore.js';
import { HOUR, seasonalSteps } from '../../helpers/trainingSeries.js';
import { contractBackends, useBackend } from '../../helpers/computeBackends.js';

const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 24);
const quantiles = [0.1, 0.5, 0.9];
const expected = { layout, hidden: 8, horizon: 4, quantiles };
const info: ArtifactInfo = {
  specHash: specHash({ name: 'p', model: { hidden: 8 } }),
  training: { firstTs: 0, lastTs: 3_600_000, series: 1, steps: 2, epochs: 3, durationMs: 12 },
  validation: { loss: 0.2, baselineLoss: 0.3, currentLoss: null },
  backend: 'wasm',
};

let root: string;

describe.each(contractBackends())('ArtifactStore on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    root = mkdtempSync(path.join(tmpdir(), 'streamcast-models-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  it('saves numbered versions, points current at one, and loads weights that serve identically', async () => {
    const store = new ArtifactStore(root, new ManualClock(Date.UTC(2025, 0, 2, 3, 4, 5)));
    expect(await store.loadCurrent('p', expected)).toBeUndefined();
    const w1 = initGruModelWeights({ layout, units: 8, horizon: 4, quantiles }, 1);
    const w2 = initGruModelWeights({ layout, units: 8, horizon: 4, quantiles }, 2);
    expect(await store.save('p', w1, info, { makeCurrent: true })).toBe(1);
    expect(await store.save('p', w2, info)).toBe(2);
    expect(await store.versions('p')).toEqual([1, 2]);
    const loaded = (await store.loadCurrent('p', expected))!;
    expect(loaded.version).toBe(1);
    expect(loaded.weights.cell.kernel).toEqual(w1.cell.kernel);
    expect(loaded.weights.cell.recurrentKernel).toEqual(w1.cell.recurrentKernel);
    expect(loaded.weights.head.bias).toEqual(w1.head.bias);
    expect(loaded.meta).toMatchObject({ pipeline: 'p', version: 1, createdAt: '2025-01-02T03:04:05.000Z', backend: 'wasm', layout: { inputNames: ['z', 'observed', 'sinceObserved', 'hourOfDay.sin', 'hourOfDay.cos', 'dayOfWeek.sin', 'dayOfWeek.cos'], hidden: 8 } });
    await store.setCurrent('p', 2);
    const v2 = (await store.loadCurrent('p', expected))!;
    expect(v2.version).toBe(2);
    // Loaded weights forecast exactly as the originals.
    const steps = seasonalSteps('a', { n: 30 });
    const a = new GruForecaster({ name: 'p', stepMs: HOUR, horizon: 4, quantiles, weights: w2, kernel: 'js' });
    const b = new GruForecaster({ name: 'p', stepMs: HOUR, horizon: 4, quantiles, weights: v2.weights, kernel: 'js' });
    expect(b.step(steps).map((f) => f.forecast)).toEqual(a.step(steps).map((f) => f.forecast));
  });

  it('keeps a model\'s calibration in meta.json and refuses one that does not fit', async () => {
    const store = new ArtifactStore(root, new ManualClock(0));
    const base = initGruModelWeights({ layout, units: 8, horizon: 4, quantiles }, 3);
    const calibration = { ...identityCalibration(4, quantiles), blend: Float32Array.from([1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5, 0, 1, 0]), scale: Float32Array.from({ length: 12 }, (_, i) => 1 + i / 8), cells: 321 };
    const v = await store.save('cal', { ...base, calibration }, info, { makeCurrent: true });
    const loaded = (await store.load('cal', v, expected))!;
    expect(Array.from(loaded.weights.calibration!.blend)).toEqual(Array.from(calibration.blend));
    expect(Array.from(loaded.weights.calibration!.scale)).toEqual(Array.from(calibration.scale));
    expect(loaded.weights.calibration!.cells).toBe(321);
    const metaFile = path.join(root, 'cal', String(v), 'meta.json');
    const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    writeFileSync(metaFile, JSON.stringify({ ...meta, calibration: { ...meta.calibration, scale: [1, 2] } }));
    await expect(store.load('cal', v, expected)).rejects.toThrow(/calibration/);
  });

  it('loads a diff-layout model for a pipeline that accepts any base (the layout comes from meta.json)', async () => {
    const store = new ArtifactStore(root, new ManualClock(0));
    const dl = featureLayout(['hourOfDay', 'dayOfWeek'], 24, undefined, { kind: 'last-value' }, true);
    const w = initGruModelWeights({ layout: dl, units: 8, horizon: 4, quantiles }, 9);
    const v = await store.save('diff', w, info, { makeCurrent: true });
    const loaded = (await store.loadCurrent('diff', { ...expected, anyBase: true }))!;
    expect(loaded.version).toBe(v);
    expect(loaded.weights.layout).toEqual(dl);
    expect(loaded.meta.layout.inputNames).toContain('dz');
    expect(loaded.weights.cell.kernel).toEqual(w.cell.kernel);
  });

  it('keeps seasonal-lag columns in meta.json: read back with their layout, refused by a pipeline expecting none', async () => {
    const store = new ArtifactStore(root, new ManualClock(0));
    const ll = featureLayout(['hourOfDay', 'dayOfWeek'], 24, undefined, { kind: 'last-value', changeHalfLife: 24 }, false, [{ steps: 24, offsets: [1, 2, 6] }, { steps: 168, offsets: [1] }]);
    const w = initGruModelWeights({ layout: ll, units: 8, horizon: 4, quantiles }, 11);
    const v = await store.save('lags', w, info, { makeCurrent: true });
    const loaded = (await store.loadCurrent('lags', { ...expected, anyBase: true }))!;
    expect(loaded.version).toBe(v);
    expect(loaded.weights.layout).toEqual(ll);
    expect(loaded.meta.layout.inputNames.slice(-6)).toEqual(['lag24.known', 'lag24+1', 'lag24+2', 'lag24+6', 'lag168.known', 'lag168+1']);
    await expect(store.loadCurrent('lags', { ...expected, layout: featureLayout(['hourOfDay', 'dayOfWeek'], 24, undefined, { kind: 'last-value', changeHalfLife: 24 }) })).rejects.toThrow(/inputs/);
  });

  it('keeps a seasonal base\'s base columns in meta.json: read back with their layout, refused by a pipeline expecting none', async () => {
    const store = new ArtifactStore(root, new ManualClock(0));
    const seasonal = { kind: 'seasonal', steps: 24 } as const;
    const bl = featureLayout(['hourOfDay', 'dayOfWeek'], 24, undefined, seasonal, false, [{ steps: 168, offsets: [1] }], [1, 2, 12]);
    const w = initGruModelWeights({ layout: bl, units: 8, horizon: 4, quantiles }, 12);
    const v = await store.save('basecols', w, info, { makeCurrent: true });
    const loaded = (await store.loadCurrent('basecols', { ...expected, anyBase: true }))!;
    expect(loaded.version).toBe(v);
    expect(loaded.weights.layout).toEqual(bl);
    expect(loaded.meta.layout.inputNames.slice(-5)).toEqual(['lag168.known', 'lag168+1', 'base+1', 'base+2', 'base+12']);
    await expect(store.loadCurrent('basecols', { ...expected, layout: featureLayout(['hourOfDay', 'dayOfWeek'], 24, undefined, seasonal, false, [{ steps: 168, offsets: [1] }]) })).rejects.toThrow(/inputs/);
  });

  it('refuses incompatible artifacts with a ConfigError naming the difference', async () => {
    const store = new ArtifactStore(root, new ManualClock(0));
    await store.save('q', initGruModelWeights({ layout, units: 8, horizon: 4, quantiles }, 1), info, { makeCurrent: true });
    await expect(store.loadCurrent('q', { ...expected, horizon: 6 })).rejects.toThrow(/horizon 4 vs 6/);
    await expect(store.loadCurrent('q', { ...expected, quantiles: [0.05, 0.5, 0.95] })).rejects.toBeInstanceOf(ConfigError);
    await expect(store.loadCurrent('q', { ...expected, layout: featureLayout(['hourOfDay'], 24) })).rejects.toThrow(/inputs/);
    await expect(store.loadCurrent('q', { ...expected, hidden: 16 })).rejects.toThrow(/hidden 8 vs 16/);
  });

  it('refuses corrupt artifacts: truncated weights, broken JSON, bad current pointer, NaN weights', async () => {
    const store = new ArtifactStore(root, new ManualClock(0));
    const w = initGruModelWeights({ layout, units: 8, horizon: 4, quantiles }, 1);
    const dir = path.join(root, 'r');
    await store.save('r', w, info, { makeCurrent: true });
    const bin = path.join(dir, '1', 'weights.bin');
    const good = readFileSync(bin);
    writeFileSync(bin, good.subarray(0, 100));
    await expect(store.loadCurrent('r', expected)).rejects.toThrow(ConfigError);
    const nan = Buffer.from(good);
    nan.writeFloatLE(Number.NaN, 0);
    writeFileSync(bin, nan);
    await expect(store.loadCurrent('r', expected)).rejects.toThrow(/NaN/);
    writeFileSync(bin, good);
    expect((await store.loadCurrent('r', expected))!.version).toBe(1);
    writeFileSync(path.join(dir, '1', 'meta.json'), '{"format": "streamcast-gru"');
    await expect(store.loadCurrent('r', expected)).rejects.toThrow(/not valid JSON/);
    writeFileSync(path.join(dir, '1', 'meta.json'), '{"format": "other"}');
    await expect(store.loadCurrent('r', expected)).rejects.toThrow(/meta.json/);
    writeFileSync(path.join(dir, 'current'), '{"version": "x"}');
    await expect(store.loadCurrent('r', expected)).rejects.toThrow(ConfigError);
    writeFileSync(path.join(dir, 'current'), '{"version": 7}');
    await expect(store.loadCurrent('r', expected)).rejects.toThrow(/incomplete/);
    await expect(store.save('../x', w, info)).rejects.toThrow(ConfigError);
  });
});
