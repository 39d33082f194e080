import type { Observable } from 'rxjs';
import type { DeadLetter, RecordSource } from '../domain/deadLetter.js';
import type { Point } from '../domain/point.js';

/** A position in an input that can be committed once everything derived from it is durable. */
export interface Position {
  readonly topic: string;
  readonly partition: number;
  /** The offset of the next record to read (Kafka's commit convention), as a decimal string. */
  readonly offset: string;
}

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

/**
 * A source of decoded records. File replay, the in-memory source and (later) Kafka implement it.
 * `start`/`stop` are idempotent. `records()` completes when a finite input is exhausted or after
 * `stop()`.
 */
export interface Source {
  readonly name: string;
  records(): Observable<Ingested>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Backpressure: stop delivering until `resume`. A no-op for sources that are pulled. */
  pause(): void;
  resume(): void;
  /** Marks positions as processed; Kafka commits them, files remember them. */
  commit(positions: readonly Position[]): Promise<void>;
  /**
   * Releases the input (Kafka: leave the consumer group, disconnect) once the runner has made its
   * last commit; implies `stop()`. Optional: file and memory sources have nothing to release.
   */
  close?(): Promise<void>;
  /** Progress of a finite input in [0, 1], or undefined for an endless one. */
  progress?(): number | undefined;
  /** Fraction of a finite input whose records were processed and committed, in [0, 1] (progress that never runs ahead of the work). */
  processed?(): number | undefined;
}
