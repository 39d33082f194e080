import { Subject, from } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/domain/errors.js';
import { microBatch } from '../../../../src/pipeline/operators/microBatch.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('microBatch', () => {
  it('a flush barrier emits the buffered batch at once, and an empty batch when nothing is buffered', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const src = cold('ab---- 20ms |');
      const flush = hot('--f-f');
      expectObservable(src.pipe(microBatch({ maxSize: 10, maxWaitMs: 100 }, undefined, flush))).toBe('--x-y 21ms |', {
        x: ['a', 'b'],
        y: [],
      });
    });
  });

  it('emits when maxSize is reached', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('abcde|');
      expectObservable(src.pipe(microBatch({ maxSize: 2, maxWaitMs: 100 }))).toBe('-x-y-(z|)', {
        x: ['a', 'b'],
        y: ['c', 'd'],
        z: ['e'],
      });
    });
  });

  it('emits maxWait after the first item of a batch, not on a fixed cadence; never empty', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // a at 0 → flush at 10; quiet 10..29 emits nothing; d at 30 → flush at 40.
      const src = cold('a-b------- ---------- d 30ms |');
      expectObservable(src.pipe(microBatch({ maxSize: 10, maxWaitMs: 10 }))).toBe('10ms x 19ms y 20ms |', {
        x: ['a', 'b'],
        y: ['d'],
      });
    });
  });

  it('flushes the remainder on completion and propagates errors (dropping the partial batch)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('ab|').pipe(microBatch({ maxSize: 5, maxWaitMs: 100 }))).toBe('--(x|)', { x: ['a', 'b'] });
      expectObservable(cold('ab#').pipe(microBatch({ maxSize: 5, maxWaitMs: 100 }))).toBe('--#');
      expectObservable(cold('|').pipe(microBatch({ maxSize: 5, maxWaitMs: 100 }))).toBe('|');
    });
  });

  it('unsubscribing cancels the pending timer', () => {
    scheduler().run(({ cold, expectObservable, flush }) => {
      const src = cold('a---------|');
      expectObservable(src.pipe(microBatch({ maxSize: 5, maxWaitMs: 5 })), '^--!').toBe('---');
      flush();
    });
  });

  it('a synchronous source is batched by size and completes synchronously', () => {
    const out: number[][] = [];
    let done = false;
    from([1, 2, 3, 4, 5, 6, 7])
      .pipe(microBatch({ maxSize: 3, maxWaitMs: 1_000 }))
      .subscribe({ next: (b) => out.push(b), complete: () => (done = true) });
    expect(out).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(done).toBe(true);
  });

  it('a subscriber may feed the source synchronously from inside a batch', async () => {
    const input = new Subject<number>();
    const out: number[][] = [];
    input.pipe(microBatch({ maxSize: 2, maxWaitMs: 0 })).subscribe((b) => {
      out.push(b);
      if (b[0]! < 10) input.next(b[0]! + 10);
    });
    input.next(1);
    input.next(2);
    expect(out).toEqual([[1, 2]]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(out).toEqual([[1, 2], [11]]);
  });

  it('validates options', () => {
    expect(() => microBatch({ maxSize: 0, maxWaitMs: 10 })).toThrow(ConfigError);
    expect(() => microBatch({ maxSize: 1, maxWaitMs: -1 })).toThrow(/maxWait/);
  });
});
