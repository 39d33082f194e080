import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JsonlSink } from '../../../../src/connectors/stdout/jsonlSink.js';

/** A writable with a tiny buffer whose callbacks the test releases by hand. */
function slowStream(highWaterMark = 16) {
  const chunks: string[] = [];
  const pending: Array<() => void> = [];
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      pending.push(() => cb());
    },
  });
  return { stream, chunks, release: () => pending.splice(0).forEach((f) => f()) };
}

describe('JsonlSink', () => {
  it('writes one JSON object per line', async () => {
    const { stream, chunks, release } = slowStream(1 << 20);
    const sink = new JsonlSink<{ a: number }>(stream);
    await sink.write([{ a: 1 }, { a: 2 }]);
    release();
    await sink.flush();
    expect(chunks.join('')).toBe('{"a":1}\n{"a":2}\n');
  });

  it('waits for drain when the stream buffer is full', async () => {
    const { stream, release } = slowStream(4);
    const sink = new JsonlSink<{ a: number }>(stream);
    let resolved = false;
    const w = sink.write([{ a: 1 }]).then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    release();
    await w;
    expect(resolved).toBe(true);
  });

  it('rejects writes after the stream fails, instead of crashing', async () => {
    const stream = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('EPIPE'), { code: 'EPIPE' })) });
    const sink = new JsonlSink<number>(stream);
    await sink.write([1]).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    await expect(sink.write([2])).rejects.toThrow(/output stream failed/);
  });

  it('close is idempotent and ends the stream only when asked', async () => {
    const { stream, release } = slowStream(1 << 20);
    const sink = new JsonlSink<number>(stream);
    await Promise.all([sink.close(), sink.close()]);
    expect(stream.writableEnded).toBe(false);
    await expect(sink.write([1])).rejects.toThrow(/after close/);
    const owned = slowStream(1 << 20);
    const ending = new JsonlSink<number>(owned.stream, { end: true });
    await ending.write([1]);
    owned.release();
    await ending.close();
    expect(owned.stream.writableEnded).toBe(true);
    release();
  });
});
