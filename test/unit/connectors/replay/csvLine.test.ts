import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitCsvLine } from '../../../../src/connectors/replay/csvLine.js';

describe('splitCsvLine', () => {
  it('splits plain and quoted cells', () => {
    expect(splitCsvLine('a,b,,c', ',')).toEqual(['a', 'b', '', 'c']);
    expect(splitCsvLine('"a,b","say ""hi""",c', ',')).toEqual(['a,b', 'say "hi"', 'c']);
    expect(splitCsvLine('x,"",', ',')).toEqual(['x', '', '']);
    expect(splitCsvLine('a\tb', '\t')).toEqual(['a', 'b']);
  });
  it('reports an unterminated quote', () => {
    expect(splitCsvLine('a,"b', ',')).toBeUndefined();
  });
  it('round-trips any cells written with RFC 4180 quoting', () => {
    fc.assert(
      fc.property(fc.array(fc.string().filter((s) => !s.includes('\n')), { minLength: 1, maxLength: 6 }), (cells) => {
        const line = cells.map((c) => `"${c.replaceAll('"', '""')}"`).join(',');
        expect(splitCsvLine(line, ',')).toEqual(cells);
      }),
    );
  });
});
