import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvCursor, parseTime, parseValue } from '../../../../src/connectors/replay/csvFile.js';
import { readSeriesFile } from '../../../../src/connectors/replay/readSeriesFile.js';
import type { Ingested } from '../../../../src/domain/ingested.js';
import { ConfigError } from '../../../../src/domain/errors.js';
import { datasetsDir, describeWithDatasets } from '../../../helpers/datasets.js';

function all(path: string, text: string, opts?: Parameters<typeof csvCursor>[3]): Ingested[] {
  const c = csvCursor(path, 0, text, opts);
  const out: Ingested[] = [];
  while (!c.done) out.push(c.take());
  return out;
}
const points = (rs: Ingested[]) => rs.flatMap((r) => r.points);
const H = 3_600_000;
const T0 = Date.UTC(2015, 0, 1);

describe('csvCursor', () => {
  it('names a single `value` column after the file (NAB layout)', () => {
    const rs = all('/d/nyc_taxi.csv', 'timestamp,value\n2015-01-01 00:00:00,10\n2015-01-01 01:00:00,12\n');
    expect(points(rs)).toEqual([
      { series: 'nyc_taxi', ts: T0, value: 10 },
      { series: 'nyc_taxi', ts: T0 + H, value: 12 },
    ]);
    expect(rs.map((r) => r.position)).toEqual([
      { topic: '/d/nyc_taxi.csv', partition: 0, offset: '3' },
      { topic: '/d/nyc_taxi.csv', partition: 0, offset: '4' },
    ]);
  });

  it('reads wide files one series per column, optionally qualified by the file stem', () => {
    const text = 'x,date,OT,temp\n1,2015-01-01T00:00:00,1.5,\n';
    expect(points(all('ETTh1.csv', text))).toEqual([
      { series: 'x', ts: T0, value: 1 },
      { series: 'OT', ts: T0, value: 1.5 },
      { series: 'temp', ts: T0, value: null },
    ]);
    expect(points(all('dir/ETTh1.csv', text, { qualifySeries: true })).map((p) => p.series)).toEqual(['ETTh1.x', 'ETTh1.OT', 'ETTh1.temp']);
  });

  it('reads the long layout in any column order, and with configured names', () => {
    const rs = all('l.csv', 'value,series,timestamp\n1,a,2015-01-01 00:00:00\n,b,1420070400000\n');
    expect(points(rs)).toEqual([
      { series: 'a', ts: T0, value: 1 },
      { series: 'b', ts: T0, value: null },
    ]);
    const named = all('l.csv', 'id,when,v\nhost,2015-01-01,3\n', { layout: 'long', longColumns: { series: 'id', ts: 'when', value: 'v' } });
    expect(points(named)).toEqual([{ series: 'host', ts: T0, value: 3 }]);
  });

  it('accepts the timestamp forms of the contract and treats zoneless times as UTC', () => {
    const rows = ['2015-01-01 00:00:00', '2015-01-01T00:00:00', '2015/01/01 00:00:00', '2015-01-01T01:00:00.000+01:00', '2015-01-01T00:00:00Z', String(T0)];
    const rs = all('f.csv', `ts,value\n${rows.map((t) => `${t},1`).join('\n')}`);
    expect(points(rs).map((p) => p.ts)).toEqual(rows.map(() => T0));
  });

  it('handles CRLF, a BOM, blank lines, quotes, semicolons and tabs', () => {
    expect(points(all('a.csv', '\uFEFF"timestamp","value"\r\n\r\n"2015-01-01 00:00:00","7"\r\n'))).toEqual([{ series: 'a', ts: T0, value: 7 }]);
    expect(points(all('b.csv', 'date;x;y\n2015-01-01;1;2\n')).map((p) => p.value)).toEqual([1, 2]);
    expect(points(all('c.tsv', 'date\tx\n2015-01-01\t1.5\n')).map((p) => p.value)).toEqual([1.5]);
  });

  it('reads headerless files', () => {
    expect(points(all('/x/cpu.csv', '2015-01-01 00:00:00,5\n2015-01-01 01:00:00,6\n'))).toEqual([
      { series: 'cpu', ts: T0, value: 5 },
      { series: 'cpu', ts: T0 + H, value: 6 },
    ]);
  });

  it('dead-letters malformed rows as invalid_csv with file, line and original text', () => {
    const text = 'timestamp,value\n2015-01-01 00:00:00,1\nnot a time,2\n2015-01-01 02:00:00,abc\n2015-01-01 03:00:00,1,2\n2015-01-01 04:00:00,0x10\n2015-01-01 05:00:00,"3\n2015-01-01 06:00:00,NaN\n2015-02-30 00:00:00,1\n';
    const rs = all('/data/f.csv', text);
    expect(points(rs)).toEqual([{ series: 'f', ts: T0, value: 1 }]);
    const dead = rs.flatMap((r) => r.deadLetters);
    expect(dead.map((d) => [d.reason, d.source.offset])).toEqual([
      ['invalid_csv', '3'],
      ['invalid_csv', '4'],
      ['invalid_csv', '5'],
      ['invalid_csv', '6'],
      ['invalid_csv', '7'],
      ['invalid_csv', '8'],
      ['invalid_csv', '9'],
    ]);
    expect(dead[0]).toMatchObject({ source: { topic: '/data/f.csv', partition: 0, key: null }, payload: 'not a time,2' });
    // Every row still has a position to commit, in order.
    expect(rs.map((r) => r.position.offset)).toEqual(['3', '4', '5', '6', '7', '8', '9', '10']);
  });

  it('keeps the good cells of a wide row with one bad cell', () => {
    const rs = all('w.csv', 'date,a,b\n2015-01-01,1,oops\n');
    expect(points(rs)).toEqual([{ series: 'a', ts: T0, value: 1 }]);
    expect(rs[0]!.deadLetters[0]!.message).toMatch(/column "b"/);
  });

  it('carries the previous good time on a bad row so merges keep it in place', () => {
    const c = csvCursor('f.csv', 0, 'ts,value\n2015-01-01,1\nbad,2\n');
    c.take();
    expect(c.headTs).toBe(T0);
  });

  it('raises a ConfigError for a header without a value column', () => {
    expect(() => csvCursor('f.csv', 0, 'timestamp\n2015-01-01\n')).toThrow(ConfigError);
    expect(() => csvCursor('f.csv', 0, 'a,b\n', { layout: 'long' })).toThrow(/series, ts and value/);
  });

  it('yields nothing for empty and header-only files', () => {
    expect(all('e.csv', '')).toEqual([]);
    expect(all('e.csv', 'timestamp,value\n')).toEqual([]);
  });

  it('never throws on arbitrary rows', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 20 }), (lines) => {
        const rs = all('p.csv', `timestamp,value,other\n${lines.join('\n')}`);
        for (const p of points(rs)) {
          expect(Number.isInteger(p.ts)).toBe(true);
          expect(p.value === null || Number.isFinite(p.value)).toBe(true);
        }
      }),
    );
  });
});

describe('cell parsers', () => {
  it('parseValue', () => {
    expect([parseValue(''), parseValue(' '), parseValue('1e3'), parseValue(' -2.5 '), parseValue('-0')]).toEqual([null, null, 1000, -2.5, 0]);
    expect([parseValue('NaN'), parseValue('Infinity'), parseValue('0b1'), parseValue('1,5'), parseValue('true')]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    // Beyond ±1e30 (MAX_ABS_VALUE): finite, but sums and squares of it downstream are not.
    expect([parseValue('1e308'), parseValue('-1.5e30'), parseValue('1e30')]).toEqual([undefined, undefined, 1e30]);
  });
  it('parseTime', () => {
    expect(parseTime('1420070400000')).toBe(T0);
    expect(parseTime('99999999999999999')).toBeUndefined();
    expect(parseTime('')).toBeUndefined();
  });
});

describe('vega-datasets seattle-weather-hourly-normals.csv (the demo data)', () => {
  const require = createRequire(import.meta.url);
  // The package's "exports" hides package.json; resolve its entry point (build/index.js) instead.
  const path = join(dirname(require.resolve('vega-datasets')), '..', 'data', 'seattle-weather-hourly-normals.csv');
  it('parses into 3 series with ISO timestamps read as UTC', async () => {
    const { points: ps, deadLetters } = await readSeriesFile(path);
    expect(deadLetters).toEqual([]);
    const series = [...new Set(ps.map((p) => p.series))];
    expect(series).toEqual(['pressure', 'temperature', 'wind']);
    const lines = readFileSync(path, 'utf8').trim().split('\n').length - 1;
    expect(ps).toHaveLength(3 * lines);
    expect(ps[0]).toEqual({ series: 'pressure', ts: Date.UTC(2010, 0, 1, 1), value: 1016.6 });
  });
});

describeWithDatasets('real CSV data sets', () => {
  it('nyc_taxi.csv gives 10,320 points of series nyc_taxi, 30 minutes apart', async () => {
    const { points: ps, deadLetters } = await readSeriesFile(join(datasetsDir, 'nab/realKnownCause/nyc_taxi.csv'));
    expect(deadLetters).toEqual([]);
    expect(ps).toHaveLength(10_320);
    expect(new Set(ps.map((p) => p.series))).toEqual(new Set(['nyc_taxi']));
    expect(ps[0]).toEqual({ series: 'nyc_taxi', ts: Date.UTC(2014, 6, 1), value: 10844 });
    expect(ps[1]!.ts - ps[0]!.ts).toBe(30 * 60_000);
  });

  it('ETTh1.csv gives 7 series x 17,420 points', async () => {
    const { points: ps, deadLetters } = await readSeriesFile(join(datasetsDir, 'ett/ETTh1.csv'));
    expect(deadLetters).toEqual([]);
    const counts = new Map<string, number>();
    for (const p of ps) counts.set(p.series, (counts.get(p.series) ?? 0) + 1);
    expect([...counts.keys()]).toEqual(['HUFL', 'HULL', 'MUFL', 'MULL', 'LUFL', 'LULL', 'OT']);
    expect([...counts.values()]).toEqual(Array(7).fill(17_420));
  });

  it('the gapped ambient temperature file parses without dead letters', async () => {
    const { points: ps, deadLetters } = await readSeriesFile(join(datasetsDir, 'nab/realKnownCause/ambient_temperature_system_failure.csv'));
    expect(deadLetters).toEqual([]);
    expect(ps.length).toBe(7267);
  });
});
