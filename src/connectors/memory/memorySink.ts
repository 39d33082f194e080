import { StreamcastError } from '../../domain/errors.js';
import type { Sink } from '../sink.js';

/** A Sink that keeps everything in `items`: for tests and in-process consumers. */
export class MemorySink<T> implements Sink<T> {
  readonly items: T[] = [];
  /** Number of `flush` calls (the checkpoint's flush-before-commit is asserted on this). */
  flushes = 0;
  closed = false;

  constructor(readonly name = 'memory') {}

  async write(items: readonly T[]): Promise<void> {
    if (this.closed) throw new StreamcastError('fatal', `sink ${this.name}: write after close`);
    for (const item of items) this.items.push(item);
  }

  async flush(): Promise<void> {
    this.flushes++;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
