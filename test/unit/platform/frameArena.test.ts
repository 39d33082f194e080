import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameBytes } from '../../../src/platform/frameArena.js';

describe('frameBytes', () => {
  it('hands out frames of the asked size that never share a byte', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400_000 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        const frames = sizes.map((n) => frameBytes(n));
        frames.forEach((f, i) => {
          expect(f.byteLength).toBe(sizes[i]);
          f.fill(i & 0xff);
        });
        // Writing every frame leaves every other frame as it was written.
        frames.forEach((f, i) => expect(f.every((b) => b === (i & 0xff))).toBe(true));
      }),
      { numRuns: 50 },
    );
  });
});
