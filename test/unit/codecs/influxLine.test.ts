import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInfluxLine, influxSeriesId } from '../../../src/codecs/influxLine.js';
import type { RecordSource } from '../../../src/domain/deadLetter.js';
import { MAX_ABS_VALUE } from '../../../src/domain/point.js';

const src: RecordSource = { topic: 'telegraf', partition: 0, offset: '7', key: null };
const dec = (payload: string | Uint8Array, opts?: Parameters<typeof decodeInfluxLine>[3]) => decodeInfluxLine(payload, null, src, opts);
const T_NS = '1732251600000000000';
const T_MS = 1732251600000;

describe('influxSeriesId', () => {
  it('sorts tags by key and joins with # and the field', () => {
    expect(influxSeriesId('cpu', { host: 'web-1', cpu: 'cpu0' }, 'usage_user')).toBe('cpu,cpu=cpu0,host=web-1#usage_user');
    expect(influxSeriesId('cpu', [], 'usage_user')).toBe('cpu#usage_user');
  });
  it('writes parts in their escaped forms, and escapes # in the field', () => {
    expect(influxSeriesId('my cpu,x', [['a b', 'c=d,e']], 'f#g')).toBe('my\\ cpu\\,x,a\\ b=c\\=d\\,e#f\\#g');
  });
});

describe('decodeInfluxLine', () => {
  it('decodes a Telegraf line into one point per numeric field', () => {
    const r = dec(`cpu,host=web-1,cpu=cpu0 usage_user=0.5,usage_system=12i,count=3u,up=true,state="ok" ${T_NS}`);
    expect(r.deadLetters).toEqual([]);
    expect(r.points).toEqual([
      { series: 'cpu,cpu=cpu0,host=web-1#usage_user', ts: T_MS, value: 0.5 },
      { series: 'cpu,cpu=cpu0,host=web-1#usage_system', ts: T_MS, value: 12 },
      { series: 'cpu,cpu=cpu0,host=web-1#count', ts: T_MS, value: 3 },
    ]);
  });

  it('is independent of tag order', () => {
    const a = dec(`cpu,host=a,cpu=0 v=1 ${T_NS}`).points[0]!.series;
    const b = dec(`cpu,cpu=0,host=a v=1 ${T_NS}`).points[0]!.series;
    expect(a).toBe(b);
  });

  it('handles escapes in measurement, tags, field keys and quoted strings', () => {
    const r = dec(`disk\\ io,path=C:\\\\x,dev=sd\\,a\\ b used\\ pct=1.5e2,note="a \\"q\\", x=1 y" ${T_NS}`);
    expect(r.deadLetters).toEqual([]);
    expect(r.points).toEqual([{ series: 'disk\\ io,dev=sd\\,a\\ b,path=C:\\\\x#used\\ pct', ts: T_MS, value: 150 }]);
  });

  it('reads multi-line payloads with CRLF, blank and comment lines', () => {
    const r = dec(`# header\r\nm v=1 ${T_NS}\r\n\r\nm v=2 1732251660000000000\n`);
    expect(r.points.map((p) => [p.ts, p.value])).toEqual([
      [T_MS, 1],
      [T_MS + 60_000, 2],
    ]);
  });

  it('honours the precision option without losing precision', () => {
    expect(dec('m v=1 1732251600123', { precision: 'ms' }).points[0]!.ts).toBe(1732251600123);
    expect(dec('m v=1 1732251600123456', { precision: 'us' }).points[0]!.ts).toBe(1732251600123);
    expect(dec('m v=1 1732251600', { precision: 's' }).points[0]!.ts).toBe(T_MS);
    expect(dec('m v=1 1732251600123999999').points[0]!.ts).toBe(1732251600123);
  });

  it('uses the fallback timestamp, or dead-letters missing_ts', () => {
    expect(dec('m v=1', { fallbackTs: 5 }).points).toEqual([{ series: 'm#v', ts: 5, value: 1 }]);
    expect(dec('m v=1').deadLetters[0]!.reason).toBe('missing_ts');
    expect(dec('m v=1', { fallbackTs: -1 }).deadLetters[0]!.reason).toBe('missing_ts');
  });

  it.each([
    ['m', 'invalid_line_protocol'],
    ['m ', 'invalid_line_protocol'],
    [',t=1 v=1 1', 'invalid_line_protocol'],
    ['m,t v=1 1', 'invalid_line_protocol'],
    ['m,t= v=1 1', 'invalid_line_protocol'],
    ['m v= 1', 'invalid_line_protocol'],
    ['m v=abc 1', 'invalid_line_protocol'],
    ['m v=0x10 1', 'invalid_line_protocol'],
    ['m v=Infinity 1', 'invalid_line_protocol'],
    ['m v=1.5i 1', 'invalid_line_protocol'],
    ['m v=-1u 1', 'invalid_line_protocol'],
    ['m v="unterminated 1', 'invalid_line_protocol'],
    ['m up=true,s="x" 1', 'invalid_line_protocol'],
    ['m v=1 12abc', 'invalid_line_protocol'],
    ['m v=1 -5', 'invalid_ts'],
    ['m v=1 99999999999999999999999999', 'invalid_ts'],
    ['m v=1e400 1', 'invalid_line_protocol'],
    [`m,t=${'x'.repeat(300)} v=1 1`, 'invalid_series'],
    ['', 'invalid_line_protocol'],
    ['\n\n# only comments\n', 'invalid_line_protocol'],
  ])('dead-letters %j as %s', (line, reason) => {
    const r = dec(line);
    expect(r.points).toEqual([]);
    expect(r.deadLetters.map((d) => d.reason)).toEqual([reason]);
  });

  it('explains that boolean and string fields are ignored', () => {
    expect(dec('m up=true 1').deadLetters[0]!.message).toMatch(/boolean and string fields are ignored/);
  });

  it('keeps good lines when another line of the record is bad', () => {
    const r = dec(`m v=1 ${T_NS}\nm v=oops ${T_NS}\nm v=3 ${T_NS}`);
    expect(r.points.map((p) => p.value)).toEqual([1, 3]);
    expect(r.deadLetters).toHaveLength(1);
    expect(r.deadLetters[0]).toMatchObject({ reason: 'invalid_line_protocol', payload: `m v=oops ${T_NS}`, source: src });
    expect(r.deadLetters[0]!.message).toMatch(/^line 2:/);
  });

  it('rejects oversized and non-UTF-8 payloads', () => {
    expect(dec(`m v=1 1\n`.repeat(200_000)).deadLetters[0]!.reason).toBe('too_large');
    const d = dec(new Uint8Array([0x6d, 0x20, 0xc3, 0x28])).deadLetters[0]!;
    expect(d).toMatchObject({ reason: 'invalid_line_protocol', encoding: 'base64' });
  });
});

describe('decodeInfluxLine hardening', () => {
  it('dead-letters values beyond ±1e30 as invalid_value, which would overflow sums downstream', () => {
    const r = dec(`m v=1e308 ${T_NS}\nm v=-2e30 ${T_NS}\nm v=1e30 ${T_NS}`);
    expect(r.points.map((p) => p.value)).toEqual([1e30]);
    expect(r.deadLetters.map((d) => d.reason)).toEqual(['invalid_value', 'invalid_value']);
    expect(r.deadLetters[0]!.message).toMatch(/line 1: field "v" value 1e308 is beyond ±1e\+30/);
  });

  it('rejects tag values with control characters, naming the character and its index', () => {
    const r = dec(`m,host=a\tb v=1 ${T_NS}`);
    expect(r.points).toEqual([]);
    expect(r.deadLetters[0]).toMatchObject({ reason: 'invalid_series' });
    expect(r.deadLetters[0]!.message).toMatch(/control character U\+0009 at index 8/);
  });

  it('caps the dead letters of one record at 100, the rest in one letter carrying the whole record', () => {
    const payload = 'x\n'.repeat(5000);
    const r = dec(payload);
    expect(r.deadLetters).toHaveLength(101);
    expect(r.deadLetters[99]!.message).toMatch(/^line 100:/);
    const last = r.deadLetters[100]!;
    expect(last.message).toMatch(/^4900 more bad lines from line 101 on/);
    expect(last.payload).toBe(payload);
  });
});

describe('decodeInfluxLine on generated valid lines', () => {
  // Names drawn from characters that need escaping too, written with line-protocol escapes.
  const name = fc.stringMatching(/^[a-z, =#]{1,6}$/).filter((n) => !n.startsWith('#'));
  const esc = (s: string, specials: string) => s.replace(new RegExp(`([${specials}])`, 'g'), '\\$1');
  it('yields one point per numeric field with the documented series id and the exact value', () => {
    fc.assert(
      fc.property(
        name,
        fc.uniqueArray(fc.tuple(name, name), { maxLength: 3, selector: ([k]) => k }),
        fc.uniqueArray(fc.tuple(name, fc.double({ min: -MAX_ABS_VALUE, max: MAX_ABS_VALUE, noNaN: true })), { minLength: 1, maxLength: 3, selector: ([k]) => k }),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        (m, tags, fields, ms) => {
          const line = `${esc(m, ', ')}${tags.map(([k, v]) => `,${esc(k, ',= ')}=${esc(v, ',= ')}`).join('')} ${fields
            .map(([k, v]) => `${esc(k, ',= ')}=${String(v)}`)
            .join(',')} ${ms}000000`;
          const r = dec(line);
          expect(r.deadLetters).toEqual([]);
          expect(r.points).toEqual(fields.map(([k, v]) => ({ series: influxSeriesId(m, tags, k), ts: ms, value: v + 0 })));
        },
      ),
      { numRuns: 300 },
    );
  });
});
