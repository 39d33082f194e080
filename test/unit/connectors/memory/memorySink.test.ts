import { describe, expect, it } from 'vitest';
import { MemorySink } from '../../../../src/connectors/memory/memorySink.js';

describe('MemorySink', () => {
  it('keeps items in order, counts flushes, and refuses writes after close', async () => {
    const sink = new MemorySink<number>();
    await sink.write([1, 2]);
    await sink.write([]);
    await sink.write([3]);
    await sink.flush();
    expect(sink.items).toEqual([1, 2, 3]);
    expect(sink.flushes).toBe(1);
    await sink.close();
    await sink.close();
    await expect(sink.write([4])).rejects.toThrow(/write after close/);
  });
});
