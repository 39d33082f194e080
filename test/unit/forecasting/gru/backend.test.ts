import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../../../src/forecasting/gru/backend.js';
import type { LogSink } from '../../../../src/observability/logger.js';

describe('selectBackend', () => {
  it('falls back past the absent native packages to wasm with SIMD, logs the choice, and is idempotent', async () => {
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
    // tfjs-node is not installable here: its absence is debug noise, not a warning.
    expect(lines.some(([obj]) => (obj as { pkg?: string }).pkg === '@tensorflow/tfjs-node')).toBe(true);
    expect(lines.filter(([, msg]) => /failed/.test(msg))).toEqual([]);
    const again = await selectBackend({ prefer: ['cpu'] });
    expect(again).toBe(first);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects an unknown backend name with the valid ones listed', async () => {
    await expect(selectBackend({ prefer: ['webgpu'] })).rejects.toThrow(/unknown compute backend "webgpu".*tensorflow-gpu, tensorflow, wasm, cpu/);
  });
});
