import type { DeadLetter, RecordSource } from './deadLetter.js';
import type { Point } from './point.js';
import type { Position } from './position.js';

/**
 * What one input record decodes to: zero or more points (wide CSV rows hold several series),
 * dead letters for anything malformed, and the position to commit once it is processed.
 */
export interface Ingested {
  readonly points: readonly Point[];
  readonly deadLetters: readonly DeadLetter[];
  readonly position: Position;
  /**
   * The record itself (its own offset, its key or null), where the source knows more than
   * `position` says (Kafka); dead letters of its points name it. Absent: the record at
   * `position` − 1, without a key (files, memory).
   */
  readonly source?: RecordSource;
  /** The record's original bytes, for the `internal_error` dead letter of a record the pipeline fails on (see RecordGuard). */
  readonly payload?: Uint8Array | string;
}
