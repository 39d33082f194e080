import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { backendPlan, selectBackend, switchBackend } from '../../../../src/forecasting/gru/backend.js';
import { ConfigError } from '../../../../src/domain/errors.js';
import type { LogSink } from '../../../../src/observability/logger.js';

function gpuPackageInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
    return true;
  } catch {
    return false;
  }
}

describe('backendPlan', () => {
  it('auto serves on wasm, trains natively where installed; a named backend is the only, strict candidate', () => {
    expect(backendPlan('auto', 'serve')).toEqual({ prefer: ['wasm', 'cpu'], strict: false });
    expect(backendPlan('auto', 'train', true)).toEqual({ prefer: ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'], strict: false });
    // Without a GPU, tfjs-node-gpu would only be a CPU build: auto skips it.
    expect(backendPlan('auto', 'train', false)).toEqual({ prefer: ['tensorflow', 'wasm', 'cpu'], strict: false });
    expect(backendPlan('tensorflow', 'serve')).toEqual({ prefer: ['tensorflow'], strict: true });
    expect(backendPlan('wasm', 'train')).toEqual({ prefer: ['wasm'], strict: true });
  });
});

describe('selectBackend', () => {
  it('serves on wasm with SIMD under auto without loading a native package, logs the choice, and is idempotent', async () => {
    const lines: Array<[unknown, string]> = [];
    const log = (obj: unknown, msg: string): void => {
      lines.push([obj, msg]);
    };
    // pino's overloaded signatures are wider than this recorder; the backend only calls (obj, msg).
    const logger = { debug: log, info: log, warn: log, error: log } as unknown as LogSink;
    const first = await selectBackend({ logger });
    expect(first).toMatchObject({ name: 'wasm', candidate: 'wasm', simd: true });
    expect(tf.getBackend()).toBe('wasm');
    expect(lines.some(([obj, msg]) => msg === 'compute backend selected' && (obj as { backend: string }).backend === 'wasm')).toBe(true);
    // Serving never tries the native packages under auto (one libtensorflow lives in the trainer).
    expect(lines.some(([obj]) => (obj as { pkg?: string }).pkg !== undefined)).toBe(false);
    expect(tf.engine().registryFactory['tensorflow']).toBeUndefined();
    const again = await selectBackend({ prefer: ['cpu'] });
    expect(again).toBe(first);
    expect(await selectBackend({ request: 'wasm' })).toBe(first);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('refuses to name another backend once this thread has chosen', async () => {
    await selectBackend();
    await expect(selectBackend({ request: 'tensorflow' })).rejects.toThrow(/compute backend "tensorflow" requested, but this thread already runs on "wasm"/);
  });

  it('rejects an unknown backend name with the valid ones listed', async () => {
    await expect(selectBackend({ prefer: ['webgpu'] })).rejects.toThrow(/unknown compute backend "webgpu".*tensorflow-gpu, tensorflow, wasm, cpu/);
  });

  it.skipIf(gpuPackageInstalled())('a named native backend that is not installed is a ConfigError with the install command', async () => {
    const err = await switchBackend('tensorflow-gpu').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/@tensorflow\/tfjs-node-gpu is not installed or does not load; run `npm run native:install -- --gpu`/);
    // The failed switch left the thread where it was.
    expect(tf.getBackend()).toBe('wasm');
  });
});
