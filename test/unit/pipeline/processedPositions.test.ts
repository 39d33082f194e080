import { describe, expect, it } from 'vitest';
import type { Ingested } from '../../../src/domain/ingested.js';
import type { Point } from '../../../src/domain/point.js';
import { ProcessedPositions } from '../../../src/pipeline/processedPositions.js';

const STEP = 60_000;
const rec = (partition: number, offset: number, points: Point[]): Ingested => ({
  points,
  deadLetters: [],
  position: { topic: 't', partition, offset: String(offset + 1) },
});
const pt = (series: string, step: number): Point => ({ series, ts: step * STEP + 1, value: 1 });

describe('ProcessedPositions', () => {
  it('holds the commit at the oldest record with a point not yet forecast, per partition', () => {
    const pp = new ProcessedPositions(STEP);
    pp.admit(rec(0, 0, [pt('a', 0)]));
    pp.admit(rec(0, 1, [pt('b', 0)]));
    pp.admit(rec(0, 2, [pt('a', 1)]));
    pp.admit(rec(1, 0, [pt('c', 0)]));
    expect(pp.positions()).toEqual([
      { topic: 't', partition: 0, offset: '0' },
      { topic: 't', partition: 1, offset: '0' },
    ]);
    pp.forecast([{ series: 'a', ts: 0 }]);
    // a@0 is done, b@0 still open: partition 0 resumes at offset 1.
    expect(pp.positions()[0]).toEqual({ topic: 't', partition: 0, offset: '1' });
    pp.forecast([{ series: 'b', ts: 0 }, { series: 'a', ts: STEP }, { series: 'c', ts: 0 }]);
    expect(pp.positions()).toEqual([
      { topic: 't', partition: 0, offset: '3' },
      { topic: 't', partition: 1, offset: '1' },
    ]);
    expect(pp.held()).toBe(0);
  });

  it('rejected points (dead letters) and point-less records do not hold the commit', () => {
    const pp = new ProcessedPositions(STEP);
    const late = pt('a', 0);
    pp.admit(rec(0, 0, [late]));
    pp.admit(rec(0, 1, []));
    expect(pp.positions()).toEqual([{ topic: 't', partition: 0, offset: '0' }]);
    pp.reject(late);
    expect(pp.positions()).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
  });

  it('a record with several points waits for all of them', () => {
    const pp = new ProcessedPositions(STEP);
    pp.admit(rec(0, 5, [pt('a', 3), pt('b', 3)]));
    pp.forecast([{ series: 'a', ts: 3 * STEP }]);
    expect(pp.positions()).toEqual([{ topic: 't', partition: 0, offset: '5' }]);
    pp.forecast([{ series: 'b', ts: 4 * STEP }]);
    expect(pp.positions()).toEqual([{ topic: 't', partition: 0, offset: '6' }]);
  });

  it('a re-base: skewed points count as done, skewed forecasts cover no genuine point, the first reset step does', () => {
    const pp = new ProcessedPositions(STEP);
    const YEAR = 525_600;
    pp.admit(rec(0, 0, [pt('a', YEAR)])); // accepted on the skewed clock
    pp.admit(rec(0, 1, [pt('a', 10)])); // genuine, held, re-bases the series
    pp.admit(rec(0, 2, [pt('a', 11)]));
    pp.rebased('a', YEAR * STEP - 1440 * STEP); // the skewed watermark − maxJump (1 day)
    // The skewed step forecast after the re-base must not make the genuine points look done.
    pp.forecast([{ series: 'a', ts: YEAR * STEP }]);
    expect(pp.positions()).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
    pp.forecast([{ series: 'a', ts: 10 * STEP, reset: true }]);
    expect(pp.positions()).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
    pp.forecast([{ series: 'a', ts: 11 * STEP }]);
    expect(pp.positions()).toEqual([{ topic: 't', partition: 0, offset: '3' }]);
  });
});
