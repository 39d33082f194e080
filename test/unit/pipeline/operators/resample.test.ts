import { Subject, from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/domain/clock.js';
import type { Point } from '../../../../src/domain/point.js';
import type { ClosedStep } from '../../../../src/domain/step.js';
import type { RejectReason } from '../../../../src/pipeline/core/resampler.js';
import { resample, type ResampleOptions } from '../../../../src/pipeline/operators/resample.js';

const MIN = 60_000;
const opts: ResampleOptions = { stepMs: MIN, aggregate: 'mean', latenessMs: 2 * MIN, idleCloseMs: 4 * MIN, maxJumpMs: 60 * MIN };
const p = (ts: number, value: number | null, series = 's'): Point => ({ series, ts, value });

function harness(extra: { idleCheckEveryMs?: number; withTicks?: boolean } = {}) {
  const clock = new ManualClock(1_000_000);
  const input = new Subject<Point>();
  const ticks = new Subject<void>();
  const out: ClosedStep[] = [];
  const rejected: Array<[Point, RejectReason]> = [];
  let completed = false;
  input
    .pipe(
      resample(opts, {
        clock,
        onRejected: (pt, reason) => rejected.push([pt, reason]),
        ...(extra.idleCheckEveryMs !== undefined ? { idleCheckEveryMs: extra.idleCheckEveryMs } : {}),
        ...(extra.withTicks ? { ticks } : {}),
      }),
    )
    .subscribe({ next: (s) => out.push(s), complete: () => (completed = true) });
  return { clock, input, ticks, out, rejected, isCompleted: () => completed };
}

describe('resample operator', () => {
  it('emits closed steps as the watermark passes and flushes the rest on completion', async () => {
    const out = await lastValueFrom(
      from([p(0, 1), p(30_000, 3), p(MIN, 5), p(3 * MIN, 7)]).pipe(
        resample(opts, { clock: new ManualClock(), onRejected: () => expect.fail('nothing is late') }),
        toArray(),
      ),
    );
    expect(out).toEqual([
      { series: 's', ts: 0, value: 2, count: 2 },
      { series: 's', ts: MIN, value: 5, count: 1 },
      { series: 's', ts: 3 * MIN, value: 7, count: 1 },
    ]);
  });

  it('routes late points and unconfirmed future points to onRejected', () => {
    const h = harness();
    h.input.next(p(0, 1));
    h.input.next(p(5 * MIN, 1));
    const late = p(10, 2);
    h.input.next(late);
    const future = p(10_000 * MIN, 3);
    h.input.next(future);
    h.input.complete();
    expect(h.rejected).toEqual([
      [late, 'late'],
      [future, 'future_timestamp'],
    ]);
    expect(h.isCompleted()).toBe(true);
  });

  it('idle close runs on the clock as points pass, at most once per idleCheckEveryMs', () => {
    const h = harness({ idleCheckEveryMs: MIN });
    h.input.next(p(0, 1, 'quiet'));
    h.clock.advance(4 * MIN); // 'quiet' is now idle
    h.input.next(p(0, 2, 'busy'));
    expect(h.out).toEqual([{ series: 'quiet', ts: 0, value: 1, count: 1 }]);
    // 'busy' becomes idle 4 min after its arrival; a check 30 s after the last one is skipped.
    h.clock.advance(4 * MIN);
    h.input.next(p(MIN, 3, 'quiet')); // check runs (≥ 1 min since last): closes 'busy'
    expect(h.out.map((s) => s.series)).toEqual(['quiet', 'busy']);
    h.clock.advance(4 * MIN - 1);
    h.input.next(p(MIN, 4, 'other'));
    h.clock.advance(30_000);
    h.input.next(p(MIN, 4, 'other2')); // 'quiet' idle now, but only 30 s since the last check
    expect(h.out).toHaveLength(2);
    h.clock.advance(30_000);
    h.input.next(p(MIN, 4, 'other3'));
    expect(h.out.map((s) => s.series)).toEqual(['quiet', 'busy', 'quiet']);
  });

  it('default check interval is idleCloseMs / 4', () => {
    const h = harness();
    h.input.next(p(0, 1, 'a'));
    h.clock.advance(opts.idleCloseMs / 4 - 1);
    h.input.next(p(0, 1, 'b'));
    h.clock.advance(opts.idleCloseMs - opts.idleCloseMs / 4 + 1);
    h.input.next(p(0, 1, 'c')); // 'a' idle exactly, ≥ 1/4 since the last check
    expect(h.out.map((s) => s.series)).toEqual(['a']);
  });

  it('ticks close idle series without any point passing; ticks stop with the input', () => {
    const h = harness({ withTicks: true });
    h.input.next(p(0, 1));
    h.clock.advance(4 * MIN - 1);
    h.ticks.next();
    expect(h.out).toEqual([]);
    h.clock.advance(1);
    h.ticks.next();
    expect(h.out).toEqual([{ series: 's', ts: 0, value: 1, count: 1 }]);
    expect(h.ticks.observed).toBe(true);
    h.input.complete();
    expect(h.isCompleted()).toBe(true);
    expect(h.ticks.observed).toBe(false);
  });

  it('each subscription has its own state', async () => {
    const op = resample(opts, { clock: new ManualClock(), onRejected: () => {} });
    const src = from([p(0, 1), p(MIN, 2)]);
    const a = await lastValueFrom(src.pipe(op, toArray()));
    const b = await lastValueFrom(src.pipe(op, toArray()));
    expect(a).toEqual(b);
    expect(a).toHaveLength(2);
  });

  it('propagates errors from the input', () => {
    const h = harness();
    let err: unknown;
    const input = new Subject<Point>();
    input.pipe(resample(opts, { clock: h.clock, onRejected: () => {} })).subscribe({ error: (e: unknown) => (err = e) });
    input.error(new Error('boom'));
    expect(err).toBeInstanceOf(Error);
  });

  it('flushOnComplete: false completes without emitting open buckets (a live input stopped for shutdown)', async () => {
    const points = [p(0, 1), p(MIN, 5), p(3 * MIN, 7)];
    const run = (flushOnComplete: boolean) =>
      lastValueFrom(from(points).pipe(resample(opts, { clock: new ManualClock(), onRejected: () => {}, flushOnComplete }), toArray()));
    const live = await run(false);
    const file = await run(true);
    // Watermark 3 min, lateness 2 min: only step 0 closed by event time.
    expect(live.map((s) => s.ts)).toEqual([0]);
    expect(file.map((s) => s.ts)).toEqual([0, MIN, 3 * MIN]);
  });
});
