import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decoderFor, type CodecName } from '../../../src/codecs/codec.js';
import type { Decoded } from '../../../src/codecs/decoded.js';
import { guardedDecode } from '../../../src/codecs/codec.js';
import { MAX_DEAD_LETTERS_PER_RECORD } from '../../../src/codecs/deadLetterOf.js';
import { decodeJsonPoint } from '../../../src/codecs/jsonPoint.js';
import { seriesIdProblem } from '../../../src/codecs/seriesId.js';
import { DEAD_LETTER_REASONS } from '../../../src/domain/deadLetter.js';
import { MAX_ABS_VALUE, MAX_SERIES_ID_LENGTH } from '../../../src/domain/point.js';

const source = { topic: 't', partition: 1, offset: '9', key: null };

function assertWellFormed(r: Decoded, input?: string | Uint8Array): void {
  expect(r.points.length + r.deadLetters.length).toBeGreaterThan(0);
  for (const p of r.points) {
    expect(typeof p.series).toBe('string');
    expect(p.series.length).toBeGreaterThan(0);
    expect(p.series.length).toBeLessThanOrEqual(MAX_SERIES_ID_LENGTH);
    expect(Number.isInteger(p.ts) && p.ts >= 0 && p.ts <= 8.64e15).toBe(true);
    expect(p.value === null || (Number.isFinite(p.value) && Math.abs(p.value) <= MAX_ABS_VALUE)).toBe(true);
    expect(seriesIdProblem(p.series)).toBeUndefined();
  }
  // One record never floods the dead-letter topic.
  expect(r.deadLetters.length).toBeLessThanOrEqual(MAX_DEAD_LETTERS_PER_RECORD + 1);
  for (const d of r.deadLetters) {
    if (input !== undefined) expect(fromOriginal(d, input), `dead letter ${d.reason} (${d.message}) is not made of the record's bytes`).toBe(true);
    expect(DEAD_LETTER_REASONS).toContain(d.reason);
    expect(typeof d.payload).toBe('string');
    expect(d.source).toBe(source);
  }
}

/** A dead letter's payload is the record's original bytes or a slice of them (never re-serialized). */
function fromOriginal(d: Decoded['deadLetters'][number], input: string | Uint8Array): boolean {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  const kept = d.encoding === 'base64' ? Buffer.from(d.payload, 'base64') : Buffer.from(d.payload, 'utf8');
  return bytes.includes(kept);
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

// Adversarial records: what a hostile or broken producer sends (the 5,000-deep poison pill among them).
const T = 1732251600000;
const validPoint = fc.record({ series: fc.stringMatching(/^[a-z.-]{1,12}$/), ts: fc.integer({ min: 0, max: 4e12 }), value: fc.double({ min: -1e6, max: 1e6, noNaN: true }) });
const deepNesting = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('[', '{"a":', '[{"b":', '{"series":'), fc.boolean(), fc.boolean())
  .map(([depth, open, closed, inArray]) => {
    const close = open === '[' ? ']' : open === '[{"b":' ? '}]' : '}';
    const body = open.repeat(depth) + '1' + (closed ? close.repeat(depth) : '');
    return inArray ? `[{"series":"a","ts":${T},"value":1},${body}]` : body;
  });
const hugeArray = fc
  .tuple(fc.integer({ min: 1, max: 30_000 }), fc.constantFrom('0', '{}', 'null', '"x"', `{"series":"a","ts":${T},"value":1}`, `{"series":"a\\u0000","ts":${T},"value":1}`))
  .map(([n, el]) => `[${Array.from({ length: n }, () => el).join(',')}]`);
const pointWithJunk = fc
  .tuple(validPoint, fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), fc.constantFrom('', '\uFEFF', '\uFEFF\uFEFF'))
  .map(([p, before, after, bom]) => `${bom}${before}${JSON.stringify(p)}${after}`);
const hugeValue = fc
  .tuple(validPoint, fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(1e308, -1e308, 1e30, 1.0000000000000001e30, 5e-324)))
  .map(([p, value]) => JSON.stringify({ ...p, value }));
const nastySeries = fc
  .tuple(validPoint, fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('\u0000', '\u001f', '\u007f', '\u0085', '\ud800', '\udfff', '\ud83d\ude00'))
  .map(([p, s, c]) => JSON.stringify({ ...p, series: s + c }));
const adversarialText = fc.oneof(deepNesting, hugeArray, pointWithJunk, hugeValue, nastySeries);
const toBytes = (t: string) => new TextEncoder().encode(t);
// Invalid UTF-8: a byte that cannot start or continue a sequence, spliced into otherwise good text.
const invalidUtf8 = fc
  .tuple(pointWithJunk, fc.nat(), fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff))
  .map(([t, at, b]) => {
    const good = toBytes(t);
    const i = at % (good.length + 1);
    return new Uint8Array([...good.subarray(0, i), b, ...good.subarray(i)]);
  });
const bomBytes = pointWithJunk.map((t) => new Uint8Array([0xef, 0xbb, 0xbf, ...toBytes(t)]));
const adversarialBytes = fc.oneof(adversarialText.map(toBytes), invalidUtf8, bomBytes, fc.uint8Array({ maxLength: 2000 }));
const key = fc.oneof(fc.constant(null), fc.string(), fc.uint8Array({ maxLength: 8 }));

describe.each<[CodecName, fc.Arbitrary<string>]>([
  ['json', jsonish],
  ['influx-line', lineish],
])('decoder %s', (name, texts) => {
  const decoder = decoderFor(name);

  it('never throws on arbitrary text and yields well-formed points or dead letters', () => {
    fc.assert(
      fc.property(texts, key, fc.option(fc.integer()), (payload, k, fallback) => {
        assertWellFormed(decoder.decode(payload, k, source, fallback ?? undefined), payload);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(bytes, key, (payload, k) => {
        assertWellFormed(decoder.decode(payload, k, source, 0), payload);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on adversarial records (deep nesting, huge arrays, huge values, control characters, junk) and keeps its contracts', () => {
    fc.assert(
      fc.property(adversarialText, key, (payload, k) => {
        assertWellFormed(decoder.decode(payload, k, source, T), payload);
      }),
      { numRuns: 100 },
    );
  });

  it('never throws on adversarial bytes (invalid UTF-8, BOMs, random bytes)', () => {
    fc.assert(
      fc.property(adversarialBytes, key, (payload, k) => {
        assertWellFormed(decoder.decode(payload, k, source, T), payload);
      }),
      { numRuns: 300 },
    );
  });

  it('names itself', () => {
    expect(decoder.name).toBe(name);
  });
});

describe('json array records', () => {
  it("dead-letter each bad element with that element's original text", () => {
    const spaced = fc.constantFrom('', ' ', '\n', '\t ', ' \r\n');
    fc.assert(
      fc.property(fc.array(fc.tuple(spaced, fc.json({ maxDepth: 4 }), spaced), { minLength: 1, maxLength: 20 }), (elements) => {
        const texts = elements.map(([a, t, b]) => `${a}${t}${b}`);
        const r = decodeJsonPoint(`[${texts.join(',')}]`, null, source);
        for (const d of r.deadLetters) {
          const i = Number(/^element (\d+):/.exec(d.message)![1]);
          expect(d.payload).toBe(elements[i]![1]);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('guardedDecode', () => {
  it('turns a decoder that throws into an internal_error dead letter carrying the original bytes', () => {
    const bytes = new Uint8Array([0x7b, 0x7d]);
    const r = guardedDecode('json', () => {
      throw new RangeError('Maximum call stack size exceeded');
    })(bytes, null, source);
    expect(r.points).toEqual([]);
    expect(r.deadLetters).toEqual([
      { reason: 'internal_error', message: expect.stringMatching(/json decoder failed.*RangeError: Maximum call stack size exceeded/) as string, source, payload: '{}' },
    ]);
    // Even a thrown value that cannot be printed.
    const weird = guardedDecode('influx-line', () => {
      throw { toString: () => { throw new Error('no'); } };
    })('m v=1', null, source);
    expect(weird.deadLetters[0]!.message).toMatch(/a thrown object that cannot be printed/);
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
