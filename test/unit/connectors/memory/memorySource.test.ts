import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { MemorySource } from '../../../../src/connectors/memory/memorySource.js';
import type { Ingested } from '../../../../src/domain/ingested.js';

const p = (value: number) => ({ series: 's', ts: value * 1000, value });

describe('MemorySource', () => {
  it('replays an array and completes, positions numbered from 1', async () => {
    const source = MemorySource.of([[p(1)], [p(2), p(3)]], { name: 'mem' });
    await source.start();
    const rs = await lastValueFrom(source.records().pipe(toArray()));
    expect(rs.map((r) => r.points.map((x) => x.value))).toEqual([[1], [2, 3]]);
    expect(rs.map((r) => r.position)).toEqual([
      { topic: 'mem', partition: 0, offset: '1' },
      { topic: 'mem', partition: 0, offset: '2' },
    ]);
    expect(source.progress()).toBe(1);
  });

  it('delivers pushes only after start and a subscriber, in order, and ends on end()', async () => {
    const source = new MemorySource();
    const custom: Ingested = { points: [p(9)], deadLetters: [], position: { topic: 'k', partition: 4, offset: '77' } };
    source.push([p(1)]);
    const seen: Ingested[] = [];
    let done = false;
    source.records().subscribe({ next: (r) => seen.push(r), complete: () => (done = true) });
    expect(seen).toHaveLength(0);
    await source.start();
    source.push(custom);
    expect(seen.map((r) => r.points[0]!.value)).toEqual([1, 9]);
    expect(seen[1]).toBe(custom);
    expect(source.progress()).toBeUndefined();
    source.end();
    expect(done).toBe(true);
    expect(() => source.push([p(2)])).toThrow(/push after end/);
  });

  it('buffers while paused, including a pause from inside a subscriber', async () => {
    const source = new MemorySource();
    await source.start();
    const seen: number[] = [];
    let done = false;
    source.records().subscribe({
      next: (r) => {
        seen.push(r.points[0]!.value!);
        if (seen.length === 2) source.pause();
      },
      complete: () => (done = true),
    });
    for (let i = 1; i <= 5; i++) source.push([p(i)]);
    source.end();
    expect(seen).toEqual([1, 2]);
    expect(source.pending).toBe(3);
    expect(done).toBe(false);
    source.resume();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(done).toBe(true);
  });

  it('stop() completes at once; commits are recorded', async () => {
    const source = new MemorySource();
    await source.start();
    let done = 0;
    source.records().subscribe({ complete: () => done++ });
    await source.commit([{ topic: 'memory', partition: 0, offset: '3' }]);
    await source.stop();
    await source.stop();
    expect(done).toBe(1);
    expect(source.commits).toEqual([{ topic: 'memory', partition: 0, offset: '3' }]);
  });
});
