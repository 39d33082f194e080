import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSeriesState, encodeSeriesState, type SeriesState } from '../../../src/state/stateCodec.js';

// -0 becomes 0 in the JSON the resampler's snapshot is today; the cores never tell them apart.
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x));

const stateArb: fc.Arbitrary<SeriesState> = fc.record(
  {
    model: fc.record({ kind: fc.constantFrom('baseline', 'gru'), version: fc.nat({ max: 2 ** 32 - 1 }) }),
    lastStep: fc.integer({ min: 0, max: 2 ** 45 }),
    normalizer: fc.record({ v: fc.constant(1 as const), w: finite, mean: finite, m2: finite, lastTs: fc.integer({ min: 0, max: 2 ** 45 }) }),
    resampler: fc.record({
      v: fc.constant(2 as const),
      watermark: fc.integer(),
      frontier: fc.integer(),
      lastArrival: fc.integer(),
      buckets: fc.array(fc.record({ start: fc.integer(), n: fc.nat(), sum: finite, max: finite, min: finite, last: finite, lastTs: fc.integer() }), { maxLength: 3 }),
      held: fc.constant(null),
    }),
    forecaster: fc.uint8Array({ maxLength: 64 }),
    shape: fc.record({
      step: fc.integer({ min: 1, max: 2 ** 40 }),
      horizon: fc.integer({ min: 1, max: 1000 }),
      baseline: fc.constantFrom('seasonal-naive' as const, 'last-value' as const),
      season: fc.nat({ max: 2 ** 40 }),
    }),
  },
  { requiredKeys: ['model'] },
);

describe('stateCodec', () => {
  it('round-trips any series state', () => {
    fc.assert(
      fc.property(stateArb, (s) => {
        const back = decodeSeriesState(encodeSeriesState(s));
        expect(back).toEqual(s);
      }),
    );
  });

  it('is compact: a normalizer-only state takes 9 + kind + 8 + 32 bytes', () => {
    const bytes = encodeSeriesState({ model: { kind: 'gru', version: 3 }, lastStep: 60_000, normalizer: { v: 1, w: 1, mean: 2, m2: 3, lastTs: 4 } });
    expect(bytes.byteLength).toBe(9 + 3 + 8 + 32);
  });

  it('rejects another codec version, a foreign header, truncation and trailing bytes', () => {
    const good = encodeSeriesState({ model: { kind: 'baseline', version: 0 }, forecaster: new Uint8Array([1, 2, 3]) });
    const otherVersion = good.slice();
    otherVersion[2] = 99;
    expect(() => decodeSeriesState(otherVersion)).toThrow(/codec version 99/);
    expect(() => decodeSeriesState(new TextEncoder().encode('{"json":true}'))).toThrow(/no state header/);
    expect(() => decodeSeriesState(good.subarray(0, good.byteLength - 1))).toThrow(/truncated/);
    const longer = new Uint8Array(good.byteLength + 1);
    longer.set(good);
    expect(() => decodeSeriesState(longer)).toThrow(/trailing/);
  });
});
