import type { LineScanner } from './lineScanner.js';
import type { Ingested } from '../../domain/ingested.js';

/**
 * A pull cursor over one input file's records in file order. `headTs` is the event time of the
 * next record (what the k-way merge orders by); a record without a usable time (a malformed row)
 * carries its file's previous time, so it is emitted where it stood. A class with two methods
 * rather than an iterator of `{ts, record}` pairs: one allocation fewer per row.
 */
export interface RecordCursor {
  /** True once every record has been taken. */
  readonly done: boolean;
  /** Event time of the next record; meaningless when `done`. */
  readonly headTs: number;
  /** Returns the next record and advances. Call only when not `done`. */
  take(): Ingested;
  /** Number of data lines in the file (for progress), known up front. */
  readonly totalRecords: number;
}

/**
 * The line-by-line part every text cursor shares: skip blank lines, decode the next one ahead of
 * time (so `done` and `headTs` are known), hand it over on `take`. Subclasses decode one line and
 * set `headTs`; they call `begin()` at the end of their constructor, once their own fields exist.
 */
export abstract class LineCursor implements RecordCursor {
  done = false;
  headTs = 0;
  totalRecords = 0;
  private next: Ingested | undefined;

  protected constructor(protected readonly lines: LineScanner) {}

  /** Decodes one non-blank line (1-based `lineNo`) into a record and updates `headTs`. */
  protected abstract decodeLine(line: string, lineNo: number): Ingested;

  /** Lines skipped without becoming a record. */
  protected isBlankLine(line: string): boolean {
    return isBlank(line);
  }

  protected begin(): void {
    this.totalRecords = this.lines.remainingLines();
    this.advance();
  }

  take(): Ingested {
    const out = this.next as Ingested;
    this.advance();
    return out;
  }

  private advance(): void {
    for (;;) {
      const line = this.lines.nextLine();
      if (line === undefined) {
        this.next = undefined;
        this.done = true;
        return;
      }
      if (!this.isBlankLine(line)) {
        this.next = this.decodeLine(line, this.lines.lineNo);
        return;
      }
    }
  }
}

/** Only spaces and tabs (cheaper than `trim()` on every row). */
export function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9) return false;
  }
  return true;
}
