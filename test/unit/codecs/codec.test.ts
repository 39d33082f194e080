import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decoderFor, type CodecName } from '../../../src/codecs/codec.js';
import type { Decoded } from '../../../src/codecs/decoded.js';
import { DEAD_LETTER_REASONS } from '../../../src/domain/deadLetter.js';
import { MAX_SERIES_ID_LENGTH } from '../../../src/domain/point.js';

const source = { topic: 't', partition: 1, offset: '9', key: null };

function assertWellFormed(r: Decoded): void {
  expect(r.points.length + r.deadLetters.length).toBeGreaterThan(0);
  for (const p of r.points) {
    expect(typeof p.series).toBe('string');
    expect(p.series.length).toBeGreaterThan(0);
    expect(p.series.length).toBeLessThanOrEqual(MAX_SERIES_ID_LENGTH);
    expect(Number.isInteger(p.ts) && p.ts >= 0 && p.ts <= 8.64e15).toBe(true);
    expect(p.value === null || Number.isFinite(p.value)).toBe(true);
  }
  for (const d of r.deadLetters) {
    expect(DEAD_LETTER_REASONS).toContain(d.reason);
    expect(typeof d.payload).toBe('string');
    expect(d.source).toBe(source);
  }
}

// Inputs near the contracts find more than uniform noise does.
const jsonish = fc.oneof(
  fc.string(),
  fc.json(),
  fc.record(
    {
      series: fc.oneof(fc.string({ maxLength: 300 }), fc.integer(), fc.constant(null)),
      ts: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
      value: fc.oneof(fc.double(), fc.constant(null), fc.string(), fc.boolean(), fc.object()),
    },
    { requiredKeys: [] },
  ).map((o) => JSON.stringify(o)),
);
const lineish = fc.oneof(
  fc.string(),
  fc
    .array(
      fc.tuple(
        fc.stringMatching(/^[a-z\\, =]{0,6}$/),
        fc.array(fc.tuple(fc.stringMatching(/^[a-z\\, =]{0,4}$/), fc.stringMatching(/^[a-z\\, =]{0,4}$/)), { maxLength: 3 }),
        fc.array(fc.tuple(fc.stringMatching(/^[a-z#\\ ]{0,4}$/), fc.oneof(fc.double().map(String), fc.integer().map((n) => `${n}i`), fc.constantFrom('t', '"s"', 'x', ''))), { maxLength: 3 }),
        fc.oneof(fc.constant(''), fc.bigInt({ min: -10n, max: 10n ** 22n }).map((n) => ` ${n}`)),
      ),
      { maxLength: 4 },
    )
    .map((lines) => lines.map(([m, tags, fields, ts]) => `${m}${tags.map(([k, v]) => `,${k}=${v}`).join('')} ${fields.map(([k, v]) => `${k}=${v}`).join(',')}${ts}`).join('\n')),
);
const bytes = fc.uint8Array({ maxLength: 200 });
const key = fc.oneof(fc.constant(null), fc.string(), fc.uint8Array({ maxLength: 8 }));

describe.each<[CodecName, fc.Arbitrary<string>]>([
  ['json', jsonish],
  ['influx-line', lineish],
])('decoder %s', (name, texts) => {
  const decoder = decoderFor(name);

  it('never throws on arbitrary text and yields well-formed points or dead letters', () => {
    fc.assert(
      fc.property(texts, key, fc.option(fc.integer()), (payload, k, fallback) => {
        assertWellFormed(decoder.decode(payload, k, source, fallback ?? undefined));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(bytes, key, (payload, k) => {
        assertWellFormed(decoder.decode(payload, k, source, 0));
      }),
      { numRuns: 500 },
    );
  });

  it('names itself', () => {
    expect(decoder.name).toBe(name);
  });
});

describe('decoderFor', () => {
  it('passes the record timestamp to influx-line as its fallback', () => {
    expect(decoderFor('influx-line').decode('m v=1', null, source, 1000).points).toEqual([{ series: 'm#v', ts: 1000, value: 1 }]);
    expect(decoderFor('influx-line', { precision: 's' }).decode('m v=1 2', null, source).points[0]!.ts).toBe(2000);
  });
  it('rejects an unknown codec with a fix-it ConfigError', () => {
    expect(() => decoderFor('avro' as CodecName)).toThrow(/use one of: json, influx-line/);
  });
});
