import { basename, extname } from 'node:path';
import { deadLetter } from '../../codecs/deadLetterOf.js';
import { seriesIdProblem } from '../../codecs/seriesId.js';
import { isValidEpochMs, parseTimestampText } from '../../codecs/timestamp.js';
import type { DeadLetter, RecordSource } from '../../domain/deadLetter.js';
import { ConfigError } from '../../domain/errors.js';
import { isValidValue, type Point } from '../../domain/point.js';
import type { Ingested } from '../../domain/ingested.js';
import { splitCsvLine } from './csvLine.js';
import { LineCursor, type RecordCursor } from './recordCursor.js';
import { LineScanner } from './lineScanner.js';

/**
 * CSV time-series files, in two layouts:
 *
 * - wide: one time column (named timestamp, date, time, datetime or ts — else the first column)
 *   and one numeric series per other column. Series ids: a file whose only value column is
 *   named `value` (the NAB layout `timestamp,value`) is the series named after the file
 *   (`nyc_taxi.csv` → `nyc_taxi`); otherwise each column is a series named after the column
 *   (`OT`), or `<stem>.<column>` (`ETTh1.OT`) with `qualifySeries` (set when several files are
 *   replayed together, so that equal column names in different files stay distinct).
 * - long: columns `series`, `ts` (or timestamp/time/date) and `value`, in any order, detected
 *   from the header or named by `longColumns`; series ids are taken as written.
 *
 * Timestamps: `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DDTHH:MM:SS`, `YYYY/MM/DD HH:MM:SS`, optional
 * fractional seconds and zone, or a date alone; a time WITHOUT a zone is read as UTC (the NAB
 * and ETT convention). A cell of digits only is epoch milliseconds.
 * Values: an empty cell is an explicitly missing value (`null`); anything else must be a decimal
 * number. The delimiter (`,`, `;` or tab) is detected from the header unless given.
 *
 * Bad rows never throw: a row with a bad timestamp or the wrong number of cells becomes one
 * `invalid_csv` dead letter; in a wide row a non-numeric cell becomes an `invalid_csv` dead
 * letter for that cell while the row's good cells still become points. A header that cannot work
 * (no value column, a series name over 256 characters) is a ConfigError when the file is opened.
 * A file whose first line parses as a timestamp has no header: its columns are named
 * `column2`, `column3`, … (a single value column is the file's series, as with `value`).
 */
export interface CsvOptions {
  readonly layout?: 'auto' | 'wide' | 'long';
  /** Header names of the long layout's columns (defaults: series, ts|timestamp|time|date, value). */
  readonly longColumns?: { readonly series?: string; readonly ts?: string; readonly value?: string };
  /** Name of the wide layout's time column, when the default detection would pick wrongly. */
  readonly timeColumn?: string;
  /** Name wide columns `<stem>.<column>` rather than `<column>`. */
  readonly qualifySeries?: boolean;
  readonly delimiter?: ',' | ';' | '\t';
}

const TIME_NAMES = new Set(['timestamp', 'date', 'time', 'datetime', 'ts']);
const EMPTY_DEAD: readonly DeadLetter[] = Object.freeze([]) as readonly DeadLetter[];

/** The file's base name without its extension: the series id of single-series files. */
export function fileStem(path: string): string {
  return basename(path, extname(path));
}

/** A cursor over the rows of one CSV file's text; `partition` is the file's index in the replay. */
export function csvCursor(path: string, partition: number, text: string, opts: CsvOptions = {}): RecordCursor {
  return new CsvCursor(path, partition, text, opts);
}

type Layout =
  | { kind: 'wide'; time: number; columns: number[]; series: string[]; width: number }
  | { kind: 'long'; series: number; time: number; value: number; width: number };

class CsvCursor extends LineCursor {
  private readonly layout: Layout;
  private readonly delimiter: string;
  private lastTs = 0;

  constructor(
    private readonly path: string,
    private readonly partition: number,
    text: string,
    opts: CsvOptions,
  ) {
    super(new LineScanner(text));
    const first = this.lines.nextNonBlank();
    if (first === undefined) {
      this.delimiter = ',';
      this.layout = { kind: 'wide', time: 0, columns: [], series: [], width: 0 };
      this.done = true;
      return;
    }
    this.delimiter = opts.delimiter ?? detectDelimiter(first);
    const header = (splitCsvLine(first, this.delimiter) ?? first.split(this.delimiter)).map((h) => h.trim());
    const headerless = header.length > 1 && parseTime(header[0] as string) !== undefined;
    if (headerless) {
      header.forEach((_, i) => (header[i] = i === 0 ? 'timestamp' : header.length === 2 ? 'value' : `column${i + 1}`));
      this.lines.rewind();
    }
    this.layout = layoutOf(header, path, opts);
    this.begin();
  }

  protected decodeLine(line: string, lineNo: number): Ingested {
    const record = this.decodeRow(line, lineNo);
    this.headTs = this.lastTs;
    return record;
  }

  private decodeRow(line: string, lineNo: number): Ingested {
    const position = { topic: this.path, partition: this.partition, offset: String(lineNo + 1) };
    const layout = this.layout;
    const cells = splitCsvLine(line, this.delimiter);
    if (cells === undefined) return this.bad(position, lineNo, line, 'unterminated quote');
    if (cells.length !== layout.width) {
      return this.bad(position, lineNo, line, `expected ${layout.width} cells as in the header, got ${cells.length}`);
    }
    const timeCell = cells[layout.time] as string;
    const ts = parseTime(timeCell);
    if (ts === undefined) {
      return this.bad(position, lineNo, line, `bad timestamp ${JSON.stringify(timeCell)}; use e.g. 2015-01-10 00:00:00 or epoch milliseconds`);
    }
    this.lastTs = ts;

    if (layout.kind === 'long') {
      const series = (cells[layout.series] as string).trim();
      const problem = seriesIdProblem(series);
      if (problem !== undefined) return this.bad(position, lineNo, line, problem);
      const value = parseValue(cells[layout.value] as string);
      if (value === undefined) {
        return this.bad(position, lineNo, line, `value ${JSON.stringify(cells[layout.value])} is not a number within ±1e30 (leave the cell empty for a missing value)`);
      }
      return { points: [{ series, ts, value }], deadLetters: EMPTY_DEAD, position };
    }

    const points: Point[] = [];
    let dead: DeadLetter[] | undefined;
    const { columns, series } = layout;
    for (let c = 0; c < columns.length; c++) {
      const cell = cells[columns[c] as number] as string;
      const value = parseValue(cell);
      if (value === undefined) {
        (dead ??= []).push(
          deadLetter(
            'invalid_csv',
            `line ${lineNo}, column ${JSON.stringify(series[c])}: ${JSON.stringify(cell)} is not a number within ±1e30 (leave the cell empty for a missing value)`,
            this.sourceOf(lineNo),
            line,
          ),
        );
        continue;
      }
      points.push({ series: series[c] as string, ts, value });
    }
    return { points, deadLetters: dead ?? EMPTY_DEAD, position };
  }

  private bad(position: Ingested['position'], lineNo: number, line: string, why: string): Ingested {
    return {
      points: [],
      deadLetters: [deadLetter('invalid_csv', `line ${lineNo}: ${why}`, this.sourceOf(lineNo), line)],
      position,
    };
  }

  private sourceOf(lineNo: number): RecordSource {
    return { topic: this.path, partition: this.partition, offset: String(lineNo), key: null };
  }
}

function layoutOf(header: string[], path: string, opts: CsvOptions): Layout {
  const width = header.length;
  const lower = header.map((h) => h.toLowerCase());
  const find = (name: string | undefined, fallbacks: readonly string[]): number => {
    if (name !== undefined) return header.indexOf(name);
    for (const f of fallbacks) {
      const i = lower.indexOf(f);
      if (i >= 0) return i;
    }
    return -1;
  };
  const lc = opts.longColumns ?? {};
  const seriesCol = find(lc.series, ['series']);
  const tsCol = find(lc.ts, ['ts', 'timestamp', 'time', 'date']);
  const valueCol = find(lc.value, ['value']);
  const layout = opts.layout ?? 'auto';
  const looksLong = seriesCol >= 0 && tsCol >= 0 && valueCol >= 0;
  if (layout === 'long' || (layout === 'auto' && looksLong)) {
    if (!looksLong) {
      throw new ConfigError(
        `${path}: the long CSV layout needs series, ts and value columns; the header has ${header.join(', ')}. ` +
          'Rename the columns or name them with longColumns.',
      );
    }
    return { kind: 'long', series: seriesCol, time: tsCol, value: valueCol, width };
  }

  let time = opts.timeColumn !== undefined ? header.indexOf(opts.timeColumn) : lower.findIndex((h) => TIME_NAMES.has(h));
  if (opts.timeColumn !== undefined && time < 0) {
    throw new ConfigError(`${path}: time column ${JSON.stringify(opts.timeColumn)} is not in the header (${header.join(', ')})`);
  }
  if (time < 0) time = 0;
  const columns: number[] = [];
  for (let i = 0; i < width; i++) if (i !== time) columns.push(i);
  if (columns.length === 0) {
    throw new ConfigError(`${path}: the CSV header has no value column besides the time column ${JSON.stringify(header[time])}`);
  }
  const stem = fileStem(path);
  const single = columns.length === 1 && lower[columns[0] as number] === 'value';
  const series = columns.map((i) => {
    if (single) return stem;
    const name = header[i] === '' ? `column${i + 1}` : (header[i] as string);
    return opts.qualifySeries ? `${stem}.${name}` : name;
  });
  for (const id of series) {
    const problem = seriesIdProblem(id);
    if (problem !== undefined) throw new ConfigError(`${path}: column ${JSON.stringify(id.slice(0, 40))}…: ${problem}; shorten the header`);
  }
  return { kind: 'wide', time, columns, series, width };
}

function detectDelimiter(header: string): string {
  let best = ',';
  let bestCount = count(header, ',');
  for (const d of [';', '\t']) {
    const n = count(header, d);
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  return best;
}

function count(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i >= 0; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

/** Epoch ms of a time cell, or undefined. Digits only → epoch ms; else a timestamp (zoneless → UTC). */
export function parseTime(cell: string): number | undefined {
  let allDigits = cell.length > 0;
  for (let i = 0; i < cell.length; i++) {
    const c = cell.charCodeAt(i);
    if (c < 48 || c > 57) {
      allDigits = false;
      break;
    }
  }
  if (allDigits) {
    const ms = Number(cell);
    return isValidEpochMs(ms) ? ms : undefined;
  }
  const ts = parseTimestampText(cell, 'utc');
  return typeof ts === 'number' ? ts : undefined;
}

/** A value cell: empty → null (explicitly missing), a decimal number → it, else undefined. */
export function parseValue(cell: string): number | null | undefined {
  let s = cell;
  if (s.length === 0) return null;
  if (s.charCodeAt(0) <= 32 || s.charCodeAt(s.length - 1) <= 32) {
    s = s.trim();
    if (s.length === 0) return null;
  }
  const v = Number(s);
  // Also refuses magnitudes beyond ±MAX_ABS_VALUE, which would overflow sums downstream.
  if (!isValidValue(v)) return undefined;
  // Number() also reads 0x1F, 0o7 and 0b1; a data file meaning those is far likelier a mistake.
  if (s.charCodeAt(0) === 48 && s.length > 2) {
    const c1 = s.charCodeAt(1) | 0x20;
    if (c1 === 120 || c1 === 111 || c1 === 98) return undefined;
  }
  return v === 0 ? 0 : v;
}
