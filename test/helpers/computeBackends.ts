import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { switchBackend } from '../../src/forecasting/gru/backend.js';
import { onCi } from './ci.js';
import { nativeInstalled } from './nativeInstalled.js';

export type ContractBackend = 'wasm' | 'tensorflow';

/**
 * The backends the numerical contract tests (kernels vs tf.layers, train/serve equality, save/load)
 * run on: wasm always; the native `tensorflow` backend where installed, and under CI always, so
 * that a missing or broken native install fails there instead of passing on wasm alone. Outside CI
 * without it, globalSetup prints one line saying how to install it.
 */
export function contractBackends(): ContractBackend[] {
  return nativeInstalled() || onCi() ? ['wasm', 'tensorflow'] : ['wasm'];
}

/** For beforeAll: switches this thread to `backend` and proves it did not fall back to another. */
export async function useBackend(backend: ContractBackend): Promise<void> {
  const choice = await switchBackend(backend);
  expect(choice.name).toBe(backend);
  expect(tf.getBackend()).toBe(backend);
}
