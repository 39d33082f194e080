import { Observable, Subject } from 'rxjs';
import { StreamcastError } from '../../domain/errors.js';
import type { Point } from '../../domain/point.js';
import type { Ingested } from '../../domain/ingested.js';
import type { Position } from '../../domain/position.js';
import type { Source } from '../source.js';

/** What can be pushed: a ready record, or bare points that become one record. */
export type MemoryInput = Ingested | readonly Point[];

/**
 * An in-process Source for tests and the embedded demo. Records are pushed with `push` and the
 * stream ends with `end()` (or is built ended with `MemorySource.of`). Delivery waits for
 * `start()` and a subscriber; while paused, pushed records are buffered and delivered in order on
 * `resume()` — a `pause()` from inside a subscriber holds back the very next record. Bare points
 * get positions `{ topic: <name>, partition: 0, offset: <1-based count> }`.
 */
export class MemorySource implements Source {
  readonly name: string;
  private readonly subject = new Subject<Ingested>();
  private readonly buffer: Ingested[] = [];
  private head = 0;
  private started = false;
  private paused = false;
  private ended = false;
  private completed = false;
  private subscribers = 0;
  private draining = false;
  private nextOffset = 0;
  private delivered = 0;
  private pushed = 0;
  /** Positions passed to `commit`, in order: tests assert on them. */
  readonly commits: Position[] = [];

  constructor(opts: { name?: string } = {}) {
    this.name = opts.name ?? 'memory';
  }

  /** A source holding `items` that ends after them. */
  static of(items: Iterable<MemoryInput>, opts: { name?: string } = {}): MemorySource {
    const source = new MemorySource(opts);
    for (const item of items) source.push(item);
    source.end();
    return source;
  }

  push(item: MemoryInput): void {
    if (this.ended) throw new StreamcastError('fatal', `MemorySource ${this.name}: push after end()`);
    const record: Ingested = isPoints(item)
      ? { points: item, deadLetters: [], position: { topic: this.name, partition: 0, offset: String(++this.nextOffset) } }
      : item;
    this.buffer.push(record);
    this.pushed++;
    this.drain();
  }

  end(): void {
    this.ended = true;
    this.drain();
  }

  records(): Observable<Ingested> {
    return new Observable<Ingested>((subscriber) => {
      const inner = this.subject.subscribe(subscriber);
      this.subscribers++;
      this.drain();
      return () => {
        inner.unsubscribe();
        this.subscribers--;
      };
    });
  }

  async start(): Promise<void> {
    this.started = true;
    this.drain();
  }

  /** Ends the stream now; records not yet delivered are dropped. */
  async stop(): Promise<void> {
    this.ended = true;
    this.buffer.length = 0;
    this.head = 0;
    this.complete();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.drain();
  }

  async commit(positions: readonly Position[]): Promise<void> {
    this.commits.push(...positions);
  }

  /** Delivered fraction once ended; undefined while more may be pushed. */
  progress(): number | undefined {
    if (!this.ended) return undefined;
    return this.pushed === 0 ? 1 : this.delivered / this.pushed;
  }

  /** Records pushed but not yet delivered. */
  get pending(): number {
    return this.buffer.length - this.head;
  }

  private drain(): void {
    // Re-entrancy: a subscriber pushing from inside next() must not reorder delivery.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.started && !this.paused && !this.completed && this.subscribers > 0 && this.head < this.buffer.length) {
        const record = this.buffer[this.head++] as Ingested;
        this.delivered++;
        this.subject.next(record);
      }
      if (this.head === this.buffer.length) {
        this.buffer.length = 0;
        this.head = 0;
      }
      if (this.ended && this.started && this.subscribers > 0 && this.buffer.length === 0) this.complete();
    } finally {
      this.draining = false;
    }
  }

  private complete(): void {
    if (this.completed) return;
    this.completed = true;
    this.subject.complete();
  }
}

function isPoints(item: MemoryInput): item is readonly Point[] {
  return Array.isArray(item);
}
