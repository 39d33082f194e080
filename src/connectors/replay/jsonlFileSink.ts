import { open, type FileHandle } from 'node:fs/promises';
import { ConfigError, StreamcastError } from '../../domain/errors.js';
import type { Sink } from '../sink.js';

/** Buffered text beyond this is written out before `write` resolves (bounded memory). */
const HIGH_WATER_CHARS = 1 << 20;

/**
 * Writes one JSON object per line to a file (`--out forecasts.jsonl`), truncating it on first
 * use. Lines are buffered and written in large chunks; `flush` hands everything written so far
 * to the operating system (it survives a crash of this process; pass `fsync: true` to also
 * survive a power loss, at a cost per checkpoint). `close` flushes and closes; it and `flush`
 * are idempotent and safe to call concurrently.
 */
export class JsonlFileSink<T> implements Sink<T> {
  readonly name: string;
  private readonly serialize: (item: T) => string;
  private handle?: Promise<FileHandle>;
  private buffer: string[] = [];
  private buffered = 0;
  // Serialises file writes: each flush chains after the previous one.
  private writing: Promise<void> = Promise.resolve();
  private closing?: Promise<void>;

  constructor(
    readonly path: string,
    private readonly opts: { fsync?: boolean; serialize?: (item: T) => string } = {},
  ) {
    this.serialize = opts.serialize ?? JSON.stringify;
    this.name = `jsonl-file:${path}`;
  }

  async write(items: readonly T[]): Promise<void> {
    if (this.closing) throw new StreamcastError('fatal', `sink ${this.name}: write after close`);
    for (const item of items) {
      const line = `${this.serialize(item)}\n`;
      this.buffer.push(line);
      this.buffered += line.length;
    }
    if (this.buffered >= HIGH_WATER_CHARS) await this.writeOut(false);
  }

  flush(): Promise<void> {
    // After close began, everything is (being) flushed by it; the handle may already be closed.
    if (this.closing) return this.closing;
    return this.writeOut(this.opts.fsync ?? false);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.writeOut(this.opts.fsync ?? false);
      if (this.handle) await (await this.handle).close();
    })();
    return this.closing;
  }

  private writeOut(sync: boolean): Promise<void> {
    const text = this.buffer.join('');
    this.buffer = [];
    this.buffered = 0;
    const next = this.writing.then(async () => {
      const fh = await this.file();
      if (text.length > 0) await fh.write(text);
      if (sync) await fh.datasync();
    });
    // Keep the chain alive after a failure so later calls report their own error.
    this.writing = next.catch(() => undefined);
    return next;
  }

  private file(): Promise<FileHandle> {
    this.handle ??= open(this.path, 'w').catch((err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? 'its folder does not exist' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? String(err));
      throw new ConfigError(`cannot write ${this.path}: ${why}; choose another --out path or create the folder`, { cause: err });
    });
    return this.handle;
  }
}
