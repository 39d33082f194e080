import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonlFileSink } from '../../../../src/connectors/replay/jsonlFileSink.js';
import { ConfigError } from '../../../../src/domain/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'jsonl-sink-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('JsonlFileSink', () => {
  it('writes JSON lines, makes them visible on flush, and closes idempotently', async () => {
    const path = join(dir, 'out.jsonl');
    const sink = new JsonlFileSink<{ series: string; v: number }>(path, { fsync: true });
    await sink.write([{ series: 'a', v: 1 }]);
    await sink.flush();
    expect(readFileSync(path, 'utf8')).toBe('{"series":"a","v":1}\n');
    await sink.write([{ series: 'b', v: 2 }]);
    await Promise.all([sink.close(), sink.close(), sink.flush()]);
    expect(readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l).series)).toEqual(['a', 'b']);
    await sink.close();
    await expect(sink.write([{ series: 'c', v: 3 }])).rejects.toThrow(/after close/);
  });

  it('writes large volumes in order with bounded buffering', async () => {
    const path = join(dir, 'big.jsonl');
    const sink = new JsonlFileSink<number>(path);
    for (let i = 0; i < 200; i++) await sink.write(Array.from({ length: 1000 }, (_, k) => i * 1000 + k));
    await sink.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(200_000);
    expect(lines[123_456]).toBe('123456');
  });

  it('creates an empty file when nothing was written', async () => {
    const path = join(dir, 'empty.jsonl');
    await new JsonlFileSink(path).close();
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('reports an unwritable path as a ConfigError with a fix', async () => {
    const sink = new JsonlFileSink<number>(join(dir, 'missing-dir', 'x.jsonl'));
    await sink.write([1]);
    const err = await sink.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/folder does not exist/);
  });
});
