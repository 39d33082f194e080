import { describe, expect, it } from 'vitest';
import { decodeJsonPoint } from '../../../src/codecs/jsonPoint.js';
import type { RecordSource } from '../../../src/domain/deadLetter.js';

const src: RecordSource = { topic: 'metrics', partition: 3, offset: '42', key: 'k' };
const dec = (payload: string | Uint8Array, key: string | Uint8Array | null = null) => decodeJsonPoint(payload, key, src);
const reasonOf = (payload: string | Uint8Array, key: string | Uint8Array | null = null) => {
  const r = dec(payload, key);
  expect(r.points).toEqual([]);
  expect(r.deadLetters).toHaveLength(1);
  return r.deadLetters[0]!.reason;
};

describe('decodeJsonPoint', () => {
  it('decodes the contract example', () => {
    expect(dec('{"series": "host-1.cpu", "ts": 1732251600000, "value": 0.53}')).toEqual({
      points: [{ series: 'host-1.cpu', ts: 1732251600000, value: 0.53 }],
      deadLetters: [],
    });
  });

  it('accepts bytes, null values, ISO timestamps with a zone, and a BOM', () => {
    const bytes = new TextEncoder().encode('\uFEFF{"series":"a","ts":"2024-11-22T05:00:00Z","value":null}');
    expect(dec(bytes).points).toEqual([{ series: 'a', ts: Date.UTC(2024, 10, 22, 5), value: null }]);
    expect(dec('{"series":"a","ts":"2024-11-22T06:00:00.250+01:00","value":1}').points[0]!.ts).toBe(Date.UTC(2024, 10, 22, 5, 0, 0, 250));
  });

  it('uses the key when series is absent, and validates it', () => {
    expect(dec('{"ts":0,"value":1}', 'host-2').points).toEqual([{ series: 'host-2', ts: 0, value: 1 }]);
    expect(reasonOf('{"ts":0,"value":1}')).toBe('missing_series');
    expect(reasonOf('{"ts":0,"value":1}', '')).toBe('invalid_series');
    expect(reasonOf('{"ts":0,"value":1}', 'x'.repeat(257))).toBe('invalid_series');
    expect(reasonOf('{"ts":0,"value":1}', new Uint8Array([0xff, 0xfe]))).toBe('invalid_series');
    expect(dec('{"ts":0,"value":1}', new TextEncoder().encode('bytes-key')).points[0]!.series).toBe('bytes-key');
  });

  it.each([
    ['not json', 'invalid_json'],
    ['', 'invalid_json'],
    ['{"series":"a","ts":0,"value":1', 'invalid_json'],
    ['42', 'not_an_object'],
    ['null', 'not_an_object'],
    ['"text"', 'not_an_object'],
    ['[]', 'not_an_object'],
    ['{"series":"","ts":0,"value":1}', 'invalid_series'],
    ['{"series":7,"ts":0,"value":1}', 'invalid_series'],
    [`{"series":"${'s'.repeat(257)}","ts":0,"value":1}`, 'invalid_series'],
    ['{"series":"a","value":1}', 'missing_ts'],
    ['{"series":"a","ts":null,"value":1}', 'missing_ts'],
    ['{"series":"a","ts":-1,"value":1}', 'invalid_ts'],
    ['{"series":"a","ts":1.5,"value":1}', 'invalid_ts'],
    ['{"series":"a","ts":8640000000000001,"value":1}', 'invalid_ts'],
    ['{"series":"a","ts":1e300,"value":1}', 'invalid_ts'],
    ['{"series":"a","ts":"2024-11-22T05:00:00","value":1}', 'invalid_ts'],
    ['{"series":"a","ts":"1732251600000","value":1}', 'invalid_ts'],
    ['{"series":"a","ts":"1969-12-31T23:59:59Z","value":1}', 'invalid_ts'],
    ['{"series":"a","ts":"2024-02-30T00:00:00Z","value":1}', 'invalid_ts'],
    ['{"series":"a","ts":true,"value":1}', 'invalid_ts'],
    ['{"series":"a","ts":0}', 'missing_value'],
    ['{"series":"a","ts":0,"value":"NaN"}', 'invalid_value'],
    ['{"series":"a","ts":0,"value":"0.5"}', 'invalid_value'],
    ['{"series":"a","ts":0,"value":true}', 'invalid_value'],
    ['{"series":"a","ts":0,"value":{}}', 'invalid_value'],
    ['{"series":"a","ts":0,"value":[1]}', 'invalid_value'],
    ['{"series":"a","ts":0,"value":1e400}', 'invalid_value'],
  ])('dead-letters %s as %s', (payload, reason) => {
    expect(reasonOf(payload)).toBe(reason);
  });

  it('tells the user to add a zone to a zoneless ISO timestamp', () => {
    const [d] = dec('{"series":"a","ts":"2024-11-22T05:00:00","value":1}').deadLetters;
    expect(d!.message).toMatch(/zone/);
  });

  it('keeps the source and the original payload in the dead letter', () => {
    const payload = '{"series":"a","ts":0,"value":"NaN"}';
    const [d] = dec(payload).deadLetters;
    expect(d).toMatchObject({ reason: 'invalid_value', source: src, payload });
    expect(d!.encoding).toBeUndefined();
  });

  it('keeps binary payloads as base64', () => {
    const bytes = new Uint8Array([0x7b, 0xff, 0x00, 0x80]);
    const [d] = dec(bytes).deadLetters;
    expect(d).toMatchObject({ reason: 'invalid_json', encoding: 'base64', payload: Buffer.from(bytes).toString('base64') });
  });

  it('rejects payloads over 1 MiB without parsing, truncating the dead letter', () => {
    const big = `{"series":"a","ts":0,"value":1,"pad":"${'x'.repeat(1024 * 1024)}"}`;
    const [d] = dec(big).deadLetters;
    expect(d!.reason).toBe('too_large');
    expect(d!.payload.length).toBeLessThanOrEqual(64 * 1024);
    expect(dec(new TextEncoder().encode(big)).deadLetters[0]!.reason).toBe('too_large');
    // A value of almost 1 MB inside the limit is still decoded.
    const nearly = `{"series":"a","ts":0,"value":1,"pad":"${'x'.repeat(1000 * 1000)}"}`;
    expect(dec(nearly).points).toHaveLength(1);
  });

  it('decodes arrays, dead-lettering each bad element separately', () => {
    const r = dec('[{"series":"a","ts":0,"value":1},{"series":"a","ts":-5,"value":2},7,{"series":"b","ts":1,"value":null}]');
    expect(r.points).toEqual([
      { series: 'a', ts: 0, value: 1 },
      { series: 'b', ts: 1, value: null },
    ]);
    expect(r.deadLetters.map((d) => d.reason)).toEqual(['invalid_ts', 'not_an_object']);
    expect(r.deadLetters[0]!.message).toMatch(/^element 1:/);
    expect(JSON.parse(r.deadLetters[0]!.payload)).toEqual({ series: 'a', ts: -5, value: 2 });
  });

  it('ignores prototype tricks and unknown fields', () => {
    expect(reasonOf('{"__proto__":{"series":"x"},"ts":0,"value":1}')).toBe('missing_series');
    expect(dec('{"series":"a","ts":0,"value":-0,"extra":[1,2]}').points).toEqual([{ series: 'a', ts: 0, value: 0 }]);
  });

  it('dead-letters a deeply nested element (the poison pill) as too_deep instead of throwing', () => {
    // One 5,000-deep element in an array record: re-serializing it for the dead letter overflowed the stack.
    const pill = `[{"series":"a","ts":0,"value":1},${'['.repeat(5000)}${']'.repeat(5000)}]`;
    const bytes = new TextEncoder().encode(pill);
    let r: ReturnType<typeof dec> | undefined;
    expect(() => (r = dec(bytes))).not.toThrow();
    expect(r!.points).toEqual([]);
    expect(r!.deadLetters).toHaveLength(1);
    expect(r!.deadLetters[0]).toMatchObject({ reason: 'too_deep', source: src, payload: pill });
    expect(r!.deadLetters[0]!.message).toMatch(/deeper than 64 levels/);
    // Objects nest the same way; brackets inside strings do not count.
    expect(reasonOf(`${'{"a":'.repeat(65)}1${'}'.repeat(65)}`)).toBe('too_deep');
    expect(dec(`{"series":"a","ts":0,"value":1,"s":"${'['.repeat(1000)}"}`).points).toHaveLength(1);
    expect(dec(`{"series":"a","ts":0,"value":1,"x":${'['.repeat(62)}${']'.repeat(62)}}`).points).toHaveLength(1);
  });

  it("keeps a bad element's original text, never a re-serialization of it", () => {
    const text = String.raw`[ {"series":"a","ts":0,"value":1} ,` + '\n' + String.raw` {"series":"a", "ts":-5,"value":2.50, "s":"x,]\\\"}"} , [[1]] ]`;
    const r = dec(text);
    expect(r.deadLetters.map((d) => d.payload)).toEqual([String.raw`{"series":"a", "ts":-5,"value":2.50, "s":"x,]\\\"}"}`, '[[1]]']);
  });

  it('caps the dead letters of one array record at 100, the rest in one letter carrying the whole record', () => {
    const text = `[${Array.from({ length: 100_000 }, () => '0').join(',')}]`;
    const r = dec(text);
    expect(r.deadLetters).toHaveLength(101);
    expect(r.deadLetters[99]).toMatchObject({ reason: 'not_an_object', payload: '0' });
    expect(r.deadLetters[100]!.message).toMatch(/^99900 more bad elements from element 100 on/);
    expect(r.deadLetters[100]!.payload).toBe(text);
  });

  it('dead-letters values beyond ±1e30 as invalid_value (1e308 overflowed sums downstream)', () => {
    expect(reasonOf('{"series":"a","ts":0,"value":1e308}')).toBe('invalid_value');
    expect(reasonOf('{"series":"a","ts":0,"value":-1.5e30}')).toBe('invalid_value');
    expect(dec('{"series":"a","ts":0,"value":1e308}').deadLetters[0]!.message).toMatch(/beyond ±1e\+30/);
    expect(dec('{"series":"a","ts":0,"value":-1e30}').points).toEqual([{ series: 'a', ts: 0, value: -1e30 }]);
  });

  it('rejects series ids with control characters or lone surrogates, saying which and where', () => {
    const msg = (series: string) => {
      const r = dec(JSON.stringify({ series, ts: 0, value: 1 }));
      expect(r.points).toEqual([]);
      expect(r.deadLetters[0]!.reason).toBe('invalid_series');
      return r.deadLetters[0]!.message;
    };
    expect(msg('a\u0000b')).toMatch(/control character U\+0000 at index 1/);
    expect(msg('host\n')).toMatch(/control character U\+000A at index 4/);
    expect(msg('x\u007f')).toMatch(/U\+007F at index 1/);
    expect(msg('\u009f')).toMatch(/U\+009F at index 0/);
    expect(msg('ab\ud800')).toMatch(/lone surrogate U\+D800 at index 2/);
    expect(msg('\udc00a')).toMatch(/lone surrogate U\+DC00 at index 0/);
    // The key is checked by the same rule.
    expect(dec('{"ts":0,"value":1}', 'k\u0001').deadLetters[0]!.message).toMatch(/U\+0001 at index 1/);
    // Printable Unicode, surrogate pairs included, is fine.
    for (const ok of ['héllo wörld', 'cpu😀', '\u00a0nbsp', 'a\u2028b']) expect(dec(JSON.stringify({ series: ok, ts: 0, value: 1 })).points).toHaveLength(1);
  });
});
