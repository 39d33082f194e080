import type { Ingested } from '../source.js';

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
