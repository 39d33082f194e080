import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MergeByTime } from '../../../../src/connectors/replay/mergeByTime.js';
import type { RecordCursor } from '../../../../src/connectors/replay/recordCursor.js';
import type { Ingested } from '../../../../src/domain/ingested.js';

function arrayCursor(file: number, times: number[]): RecordCursor {
  let i = 0;
  return {
    get done() {
      return i >= times.length;
    },
    get headTs() {
      return times[i]!;
    },
    totalRecords: times.length,
    take(): Ingested {
      const ts = times[i++]!;
      return { points: [{ series: String(file), ts, value: i }], deadLetters: [], position: { topic: 'f', partition: file, offset: String(i) } };
    },
  };
}

describe('MergeByTime', () => {
  it('merges sorted inputs into one sorted, stable sequence keeping every record', () => {
    const sortedTimes = fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 30 }).map((a) => a.sort((x, y) => x - y));
    fc.assert(
      fc.property(fc.array(sortedTimes, { maxLength: 8 }), (files) => {
        const merge = new MergeByTime(files.map((t, f) => arrayCursor(f, t)));
        const out: Ingested[] = [];
        while (!merge.done) out.push(merge.take());
        expect(out).toHaveLength(files.reduce((n, t) => n + t.length, 0));
        for (let k = 1; k < out.length; k++) {
          const [a, b] = [out[k - 1]!, out[k]!];
          const [ta, tb] = [a.points[0]!.ts, b.points[0]!.ts];
          expect(ta <= tb).toBe(true);
          // Stable: equal times come in file order, and each file's own order is kept.
          if (ta === tb) {
            expect(a.position.partition <= b.position.partition).toBe(true);
            if (a.position.partition === b.position.partition) expect(Number(a.position.offset)).toBeLessThan(Number(b.position.offset));
          }
        }
      }),
    );
  });
});
