import type { Observable } from 'rxjs';
import type { Ingested } from '../domain/ingested.js';
import type { Position } from '../domain/position.js';

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
