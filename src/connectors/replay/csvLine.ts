/**
 * Splits one CSV line into cells (RFC 4180 quoting: `"a,b"`, `"say ""hi"""`). Lines without a
 * quote take the native `split` fast path: replay parses millions of lines. Returns `undefined`
 * for an unterminated quote so the caller can dead-letter the row. Quoted newlines are not
 * supported: the readers work line by line, and time-series files do not use them.
 */
export function splitCsvLine(line: string, delimiter: string): string[] | undefined {
  if (line.indexOf('"') < 0) return line.split(delimiter);
  const cells: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    if (line[i] === '"') {
      let cell = '';
      let from = ++i;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        if (line[q + 1] === '"') {
          cell += line.slice(from, q + 1);
          i = q + 2;
          from = i;
          continue;
        }
        cell += line.slice(from, q);
        i = q + 1;
        break;
      }
      // Tolerate stray text after the closing quote (`"a"b`), as most spreadsheet tools do.
      const d = line.indexOf(delimiter, i);
      if (d < 0) {
        cells.push(cell + line.slice(i));
        return cells;
      }
      cells.push(cell + line.slice(i, d));
      i = d + delimiter.length;
    } else {
      const d = line.indexOf(delimiter, i);
      if (d < 0) {
        cells.push(line.slice(i));
        return cells;
      }
      cells.push(line.slice(i, d));
      i = d + delimiter.length;
    }
    if (i > n) return cells;
  }
}
