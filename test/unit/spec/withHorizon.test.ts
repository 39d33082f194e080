import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { loadSpec } from '../../../src/spec/loadSpec.js';
import { withHorizon } from '../../../src/spec/withHorizon.js';

describe('withHorizon (--horizon)', () => {
  const spec = loadSpec('pipelines/etth1.yaml');

  it('sets model.horizon and leaves the rest, the original untouched', () => {
    const out = withHorizon(spec, 48);
    expect(out.model.horizon).toBe(48);
    expect(spec.model.horizon).toBe(24);
    expect(out.model.context).toBe(spec.model.context);
    expect(out.window).toBe(spec.window);
  });

  it('is the spec itself without a value or with the same one', () => {
    expect(withHorizon(spec, undefined)).toBe(spec);
    expect(withHorizon(spec, 24)).toBe(spec);
  });

  it('refuses what the spec would refuse', () => {
    expect(() => withHorizon(spec, 0)).toThrow(ConfigError);
    expect(() => withHorizon(spec, 1001)).toThrow(/1 to 1000/);
    expect(() => withHorizon(spec, 2.5)).toThrow(ConfigError);
  });
});
