import type { Sink } from '../sink.js';

/** A sink that keeps nothing, for outputs a command does not want (dead letters are still counted by reason through the events). */
export class DiscardSink<T> implements Sink<T> {
  readonly name = 'discard';
  async write(): Promise<void> {}
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
