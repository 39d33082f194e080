import { Subject, from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ClosedStep, ImputedStep } from '../../../../src/domain/step.js';
import { impute } from '../../../../src/pipeline/operators/impute.js';

const H = 3_600_000;
const cs = (hour: number, value: number | null, series = 's'): ClosedStep => ({ series, ts: hour * H, value, count: value === null ? 0 : 1 });

describe('impute operator', () => {
  it('fills holes and reports imputed counts by method and gap resets', async () => {
    const imputed: Array<[string, number]> = [];
    let resets = 0;
    const out = await lastValueFrom(
      from([cs(0, 1), cs(3, 2), cs(100, 3), cs(101, null)]).pipe(
        impute(
          { stepMs: H, strategy: 'ffill', maxGapMs: 24 * H, seasonMs: 24 * H },
          { onImputed: (s, n) => imputed.push([s, n]), onGapReset: () => (resets += 1) },
        ),
        toArray(),
      ),
    );
    expect(out.map((x) => [x.ts / H, x.value, x.observed, x.reset])).toEqual([
      [0, 1, true, true],
      [1, 1, false, false],
      [2, 1, false, false],
      [3, 2, true, false],
      [100, 3, true, true],
      [101, 3, false, false],
    ]);
    expect(imputed).toEqual([
      ['ffill', 2],
      ['ffill', 1],
    ]);
    expect(resets).toBe(1);
  });

  it('linear holds steps back until the next observation; completion flushes and completes', () => {
    const input = new Subject<ClosedStep>();
    const out: ImputedStep[] = [];
    let done = false;
    input
      .pipe(impute({ stepMs: H, strategy: 'linear', maxGapMs: 24 * H, seasonMs: 24 * H }))
      .subscribe({ next: (x) => out.push(x), complete: () => (done = true) });
    input.next(cs(0, 0));
    input.next(cs(1, null));
    expect(out).toHaveLength(1);
    input.next(cs(2, 10));
    expect(out.map((x) => x.value)).toEqual([0, 5, 10]);
    input.next(cs(3, null));
    input.complete();
    expect(out).toHaveLength(3);
    expect(done).toBe(true);
  });

  it('works without a context and keeps state per subscription', async () => {
    const op = impute({ stepMs: H, strategy: 'zero', maxGapMs: H, seasonMs: H });
    const src = from([cs(0, 1), cs(2, 1)]);
    const a = await lastValueFrom(src.pipe(op, toArray()));
    const b = await lastValueFrom(src.pipe(op, toArray()));
    expect(a).toEqual(b);
    expect(a.map((x) => x.value)).toEqual([1, 0, 1]);
  });
});
