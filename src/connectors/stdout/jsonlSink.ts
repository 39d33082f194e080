import type { Writable } from 'node:stream';
import { StreamcastError } from '../../domain/errors.js';
import type { Sink } from '../sink.js';

/**
 * Writes one JSON object per line to a stream (stdout by default). Each `write` batch becomes one
 * chunk; when the stream's buffer is full it waits for 'drain', so a slow reader (a pipe into
 * `head`, a terminal) slows the pipeline instead of growing memory. A stream error (EPIPE when
 * the reader went away) makes later writes reject rather than crash the process. `close()`
 * leaves stdout open unless `end: true` — ending process.stdout would break later output.
 */
export class JsonlSink<T> implements Sink<T> {
  readonly name: string;
  private failure: Error | undefined;
  private closing?: Promise<void>;
  private readonly end: boolean;
  private readonly serialize: (item: T) => string;

  constructor(
    private readonly out: Writable = process.stdout,
    opts: { name?: string; end?: boolean; serialize?: (item: T) => string } = {},
  ) {
    this.serialize = opts.serialize ?? JSON.stringify;
    this.name = opts.name ?? 'jsonl-stream';
    this.end = opts.end ?? false;
    out.on('error', this.onError);
  }

  async write(items: readonly T[]): Promise<void> {
    this.throwIfFailed();
    if (this.closing) throw new StreamcastError('fatal', `sink ${this.name}: write after close`);
    if (items.length === 0) return;
    let chunk = '';
    for (const item of items) chunk += `${this.serialize(item)}\n`;
    if (!this.out.write(chunk)) await this.drained();
    this.throwIfFailed();
  }

  async flush(): Promise<void> {
    this.throwIfFailed();
    if (this.out.writableNeedDrain) await this.drained();
    this.throwIfFailed();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.failure === undefined && this.out.writableNeedDrain) await this.drained();
      if (this.end && !this.out.writableEnded) {
        await new Promise<void>((resolve) => this.out.end(resolve));
      }
      this.out.off('error', this.onError);
    })();
    return this.closing;
  }

  private readonly onError = (err: Error): void => {
    this.failure ??= err;
  };

  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.out.off('drain', done);
        this.out.off('error', done);
        this.out.off('close', done);
        resolve();
      };
      this.out.on('drain', done);
      this.out.on('error', done);
      this.out.on('close', done);
    });
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) {
      throw new StreamcastError('fatal', `sink ${this.name}: output stream failed (${this.failure.message}); was the reader closed?`, {
        cause: this.failure,
      });
    }
  }
}
