import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { onlyBefore, onlySeries } from '../../../src/connectors/mapSource.js';
import { MemorySource } from '../../../src/connectors/memory/memorySource.js';
import type { Ingested } from '../../../src/domain/ingested.js';

const rec = (offset: number, series: string[]): Ingested => ({
  points: series.map((s) => ({ series: s, ts: offset * 1000, value: offset })),
  deadLetters: [],
  position: { topic: 'f.csv', partition: 0, offset: String(offset + 1) },
});

describe('onlySeries', () => {
  it('keeps only the named series but every record (positions still advance)', async () => {
    const inner = MemorySource.of([rec(0, ['OT', 'HUFL']), rec(1, ['HUFL']), rec(2, ['OT'])]);
    const source = onlySeries(inner, ['OT']);
    await source.start();
    const out = await lastValueFrom(source.records().pipe(toArray()));
    expect(out.map((r) => r.position.offset)).toEqual(['1', '2', '3']);
    expect(out.flatMap((r) => r.points.map((p) => p.series))).toEqual(['OT', 'OT']);
    await source.stop();
  });
});

describe('onlyBefore', () => {
  it('drops each series\' points from its own cutoff on, keeps series without one, and every record', async () => {
    const inner = MemorySource.of([rec(0, ['A', 'B', 'C']), rec(1, ['A', 'B', 'C']), rec(2, ['A', 'B', 'C'])]);
    const source = onlyBefore(inner, new Map([['A', 1000], ['B', 2000]]));
    await source.start();
    const out = await lastValueFrom(source.records().pipe(toArray()));
    expect(out.map((r) => r.position.offset)).toEqual(['1', '2', '3']);
    expect(out.map((r) => r.points.map((p) => p.series).join(''))).toEqual(['ABC', 'BC', 'C']);
    await source.stop();
  });
});
