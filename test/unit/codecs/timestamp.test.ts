import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTimestampText } from '../../../src/codecs/timestamp.js';

describe('parseTimestampText', () => {
  it.each([
    ['2015-01-10T00:00:00Z', Date.UTC(2015, 0, 10)],
    ['2015-01-10 00:00:00z', Date.UTC(2015, 0, 10)],
    ['2015-01-10T01:30:00+01:30', Date.UTC(2015, 0, 10)],
    ['2015-01-09T19:00:00-0500', Date.UTC(2015, 0, 10)],
    ['2015-01-10T02:00:00+02', Date.UTC(2015, 0, 10)],
    ['2015-01-10T00:00:00.1234567Z', Date.UTC(2015, 0, 10, 0, 0, 0, 123)],
    ['2015-01-10T00:00Z', Date.UTC(2015, 0, 10)],
    ['2015/01/10 00:00:00 +00:00', Date.UTC(2015, 0, 10)],
    ['2016-02-29T00:00:00Z', Date.UTC(2016, 1, 29)],
    ['1970-01-01T00:00:00Z', 0],
  ])('%s', (text, ms) => {
    expect(parseTimestampText(text, 'reject')).toBe(ms);
  });

  it('reads zoneless times as UTC only when asked', () => {
    expect(parseTimestampText('2014-07-01 00:30:00', 'utc')).toBe(Date.UTC(2014, 6, 1, 0, 30));
    expect(parseTimestampText('2014-07-01', 'utc')).toBe(Date.UTC(2014, 6, 1));
    expect(parseTimestampText('2014-07-01 00:30:00', 'reject')).toBe('no_zone');
  });

  it.each(['', 'yesterday', '2015-13-01T00:00:00Z', '2015-02-29T00:00:00Z', '2015-01-10T24:00:00Z', '2015-01-10T00:60:00Z',
    '2015-01-10T00:00:60Z', '2015-01-10T00:00:00+25:00', '2015-01-10X', '2015-01-10T00:00:00.Z', '2015-01/10', '15-01-10', '2015-01-10T00:00:00ZZ'])(
    'rejects %j', (text) => {
      expect(parseTimestampText(text, 'utc')).toBe('syntax');
    });

  it('rejects times before 1970 (years 0-99 included) as out of range', () => {
    expect(parseTimestampText('0080-01-01T00:00:00Z', 'reject')).toBe('range');
    expect(parseTimestampText('1969-12-31T23:59:59Z', 'reject')).toBe('range');
  });

  it('agrees with Date for any valid instant', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }), (d) => {
        expect(parseTimestampText(d.toISOString(), 'reject')).toBe(d.getTime());
      }),
    );
  });
});
