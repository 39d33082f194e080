import { mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/domain/errors.js';
import { featureLayout } from '../../../../src/forecasting/gru/featureLayout.js';
import { fileSystemIOHandler } from '../../../../src/forecasting/gru/fileSystemIOHandler.js';
import { assignToLayersModel, initGruModelWeights, weightsFromLayersModel } from '../../../../src/forecasting/gru/gruWeights.js';
import { contractBackends, useBackend } from '../../../helpers/computeBackends.js';

const layout = featureLayout(['hourOfDay'], 24); // I = 5
const meta = { version: 2, layout, horizon: 2, quantiles: [0.1, 0.5, 0.9] };

function model(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.gru({ units: 8, recurrentActivation: 'sigmoid', returnSequences: true, inputShape: [null, 5] }),
      tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 6 }) }),
    ],
  });
}

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'streamcast-io-'));
  dirs.push(d);
  return path.join(d, 'models', 'demo', '2');
}

describe.each(contractBackends())('fileSystemIOHandler on %s', (backend) => {
  beforeAll(() => useBackend(backend));
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('saves model.json + weights.bin and loads the same weights back', async () => {
    const dir = await tempDir();
    const weights = initGruModelWeights({ layout, units: 8, horizon: 2, quantiles: meta.quantiles }, 3, 2);
    const m = model();
    assignToLayersModel(m, weights);
    await m.save(fileSystemIOHandler(dir));
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await tf.loadLayersModel(fileSystemIOHandler(dir));
    const back = weightsFromLayersModel(loaded, meta);
    expect(back.cell.kernel).toEqual(weights.cell.kernel);
    expect(back.cell.recurrentKernel).toEqual(weights.cell.recurrentKernel);
    expect(back.head.kernel).toEqual(weights.head.kernel);
    expect(back.head.bias).toEqual(weights.head.bias);
    m.dispose();
    loaded.dispose();
  });

  it('refuses a corrupt model.json, a truncated weights.bin and a missing folder with ConfigError', async () => {
    const dir = await tempDir();
    const m = model();
    await m.save(fileSystemIOHandler(dir));
    m.dispose();

    await truncate(path.join(dir, 'weights.bin'), 10);
    const truncated = tf.loadLayersModel(fileSystemIOHandler(dir));
    await expect(truncated).rejects.toBeInstanceOf(ConfigError);
    await expect(truncated).rejects.toThrow(/truncated or mismatched/);

    await writeFile(path.join(dir, 'model.json'), '{"modelTopology": ');
    await expect(tf.loadLayersModel(fileSystemIOHandler(dir))).rejects.toThrow(/not valid JSON/);

    await expect(tf.loadLayersModel(fileSystemIOHandler(path.join(dir, 'nope')))).rejects.toThrow(/cannot read model file/);
  });
});
