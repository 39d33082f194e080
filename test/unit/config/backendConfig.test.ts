import { describe, expect, it } from 'vitest';
import { backendConfigFrom } from '../../../src/config/backendConfig.js';
import { ConfigError } from '../../../src/domain/errors.js';

describe('backendConfigFrom', () => {
  it('defaults to auto for both, frozen', () => {
    const c = backendConfigFrom({});
    expect(c).toEqual({ serve: 'auto', train: 'auto' });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes flags over the environment, and training follows a named serving backend', () => {
    expect(backendConfigFrom({ STREAMCAST_BACKEND: 'wasm' })).toEqual({ serve: 'wasm', train: 'wasm' });
    expect(backendConfigFrom({ STREAMCAST_BACKEND: 'wasm' }, { backend: 'tensorflow' })).toEqual({ serve: 'tensorflow', train: 'tensorflow' });
    expect(backendConfigFrom({ STREAMCAST_TRAIN_BACKEND: 'tensorflow' })).toEqual({ serve: 'auto', train: 'tensorflow' });
    expect(backendConfigFrom({ STREAMCAST_TRAIN_BACKEND: 'tensorflow' }, { trainBackend: 'wasm' })).toEqual({ serve: 'auto', train: 'wasm' });
    expect(backendConfigFrom({}, { backend: 'wasm', trainBackend: 'tensorflow-gpu' })).toEqual({ serve: 'wasm', train: 'tensorflow-gpu' });
    // An empty variable is unset.
    expect(backendConfigFrom({ STREAMCAST_BACKEND: '' })).toEqual({ serve: 'auto', train: 'auto' });
  });

  it('keeps one libtensorflow per process: auto training follows native serving, two native builds are refused', () => {
    expect(backendConfigFrom({}, { backend: 'tensorflow-gpu', trainBackend: 'auto' })).toEqual({ serve: 'tensorflow-gpu', train: 'tensorflow-gpu' });
    expect(() => backendConfigFrom({}, { backend: 'tensorflow', trainBackend: 'tensorflow-gpu' })).toThrow(/two libtensorflow builds into one process/);
  });

  it('rejects an unknown name with the source and the valid names', () => {
    expect(() => backendConfigFrom({ STREAMCAST_TRAIN_BACKEND: 'gpu' })).toThrow(ConfigError);
    expect(() => backendConfigFrom({ STREAMCAST_TRAIN_BACKEND: 'gpu' })).toThrow('STREAMCAST_TRAIN_BACKEND "gpu" is not a compute backend; use one of auto, wasm, tensorflow, tensorflow-gpu');
    expect(() => backendConfigFrom({}, { backend: 'cpu' })).toThrow(/--backend "cpu"/);
  });
});
