import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, StreamcastError } from '../../../../src/domain/errors.js';
import type { RecordSource } from '../../../../src/domain/deadLetter.js';
import type { Point } from '../../../../src/domain/point.js';
import type { ClosedStep } from '../../../../src/domain/step.js';
import { Resampler, type Aggregate, type Rejected, type ResamplerOptions } from '../../../../src/pipeline/core/resampler.js';
import { DEFAULT_JUMP_CONFIRM } from '../../../../src/spec/pipelineSpec.js';

const MIN = 60_000;
const base: ResamplerOptions = { stepMs: MIN, aggregate: 'mean', latenessMs: 2 * MIN, idleCloseMs: 5 * MIN, maxJumpMs: 60 * MIN };
const p = (ts: number, value: number | null, series = 's'): Point => ({ series, ts, value });

/** Pushes every point (arrival = index unless given) and flushes; returns everything emitted. */
function runAll(r: Resampler, points: readonly Point[], flush = true): { steps: ClosedStep[]; rejected: Rejected[] } {
  const steps: ClosedStep[] = [];
  const rejected: Rejected[] = [];
  points.forEach((pt, i) => {
    const res = r.push(pt, i);
    steps.push(...res.steps);
    rejected.push(...res.rejected);
  });
  if (flush) {
    steps.push(...r.flush());
    rejected.push(...r.flushRejected());
  }
  return { steps, rejected };
}

describe('Resampler', () => {
  it('aggregates a bucket and closes it once watermark − lateness passes its end', () => {
    const r = new Resampler(base);
    expect(r.push(p(0, 1), 0).steps).toEqual([]);
    expect(r.push(p(30_000, 3), 0).steps).toEqual([]);
    expect(r.push(p(MIN + 1, 10), 0).steps).toEqual([]);
    // bucket [0, 1m) closes at watermark ≥ 1m + 2m.
    expect(r.push(p(3 * MIN - 1, 7), 0).steps).toEqual([]);
    expect(r.push(p(3 * MIN, 8), 0).steps).toEqual([{ series: 's', ts: 0, value: 2, count: 2 }]);
    expect(r.flush()).toEqual([
      { series: 's', ts: MIN, value: 10, count: 1 },
      { series: 's', ts: 2 * MIN, value: 7, count: 1 },
      { series: 's', ts: 3 * MIN, value: 8, count: 1 },
    ]);
  });

  it.each<[Aggregate, number]>([
    ['mean', 2.5],
    ['sum', 10],
    ['max', 4],
    ['min', 1],
    ['last', 3],
  ])('aggregate %s', (aggregate, expected) => {
    const r = new Resampler({ ...base, aggregate });
    // arrival order differs from ts order: `last` is the value with the greatest ts.
    const { steps } = runAll(r, [p(1000, 1), p(5000, 3), p(2000, 4), p(3000, 2)]);
    expect(steps).toEqual([{ series: 's', ts: 0, value: expected, count: 4 }]);
  });

  it('duplicate timestamps: all count, `last` takes the later arrival', () => {
    const last = new Resampler({ ...base, aggregate: 'last' });
    expect(runAll(last, [p(1000, 1), p(1000, 2), p(1000, 5)]).steps).toEqual([{ series: 's', ts: 0, value: 5, count: 3 }]);
    const mean = new Resampler(base);
    expect(runAll(mean, [p(1000, 1), p(1000, 2)]).steps).toEqual([{ series: 's', ts: 0, value: 1.5, count: 2 }]);
  });

  it('explicit nulls: a null-only bucket closes as null with count 0; nulls do not dilute the mean', () => {
    const r = new Resampler(base);
    const { steps } = runAll(r, [p(0, null), p(10, null), p(MIN, null), p(MIN + 5, 4), p(MIN + 6, 6)]);
    expect(steps).toEqual([
      { series: 's', ts: 0, value: null, count: 0 },
      { series: 's', ts: MIN, value: 5, count: 2 },
    ]);
  });

  it('non-finite values count as nulls, never NaN out', () => {
    const r = new Resampler({ ...base, aggregate: 'sum' });
    const { steps } = runAll(r, [p(0, Number.NaN), p(1, Number.POSITIVE_INFINITY), p(MIN, 2)]);
    expect(steps).toEqual([
      { series: 's', ts: 0, value: null, count: 0 },
      { series: 's', ts: MIN, value: 2, count: 1 },
    ]);
  });

  it('emits only buckets that received a record (holes are the imputer\'s job)', () => {
    const r = new Resampler(base);
    const { steps } = runAll(r, [p(0, 1), p(10 * MIN, 2)]);
    expect(steps.map((s) => s.ts)).toEqual([0, 10 * MIN]);
  });

  it('lateness boundary: ts exactly at the closed frontier is accepted, 1 ms before is late', () => {
    const r = new Resampler(base);
    r.push(p(0, 1), 0);
    const closing = r.push(p(3 * MIN, 1), 0); // closes [0,1m): frontier = 1m
    expect(closing.steps.map((s) => s.ts)).toEqual([0]);
    const late = p(MIN - 1, 9);
    expect(r.push(late, 0)).toEqual({ steps: [], rejected: [{ point: late, reason: 'late' }] });
    expect(r.push(p(MIN, 5), 0).rejected).toEqual([]);
    expect(r.flush()[0]).toEqual({ series: 's', ts: MIN, value: 5, count: 1 });
  });

  it('lateness 0: a bucket closes as soon as a record at its end arrives', () => {
    const r = new Resampler({ ...base, latenessMs: 0 });
    r.push(p(0, 1), 0);
    expect(r.push(p(MIN - 1, 2), 0).steps).toEqual([]);
    expect(r.push(p(MIN, 3), 0).steps).toEqual([{ series: 's', ts: 0, value: 1.5, count: 2 }]);
    expect(r.push(p(MIN - 1, 2), 0).rejected[0]?.reason).toBe('late');
  });

  it('the first record of a series starts its own watermark (series are independent)', () => {
    const r = new Resampler(base);
    r.push(p(1_000 * MIN, 1, 'a'), 0);
    expect(r.push(p(0, 2, 'b'), 0).rejected).toEqual([]);
    expect(r.size).toBe(2);
    const out = r.flush();
    expect(out).toContainEqual({ series: 'b', ts: 0, value: 2, count: 1 });
    expect(out).toContainEqual({ series: 'a', ts: 1_000 * MIN, value: 1, count: 1 });
  });

  describe('far-future guard', () => {
    it('a single far-future record is held, does not move the watermark, and is rejected by the next ordinary one', () => {
      const r = new Resampler(base);
      r.push(p(0, 1), 0);
      const future = p(10_000 * MIN, 99);
      expect(r.push(future, 1)).toEqual({ steps: [], rejected: [] });
      // Had the future record moved the watermark, [0,1m) would now be closed and this late.
      const next = r.push(p(30_000, 3), 2);
      expect(next.rejected).toEqual([{ point: future, reason: 'future_timestamp' }]);
      expect(next.steps).toEqual([]);
      expect(r.flush()).toEqual([{ series: 's', ts: 0, value: 2, count: 2 }]);
    });

    it('with jumpConfirm 2, a second record near the first confirms the jump; both are accepted, in ts order', () => {
      const r = new Resampler({ ...base, jumpConfirm: 2 });
      r.push(p(0, 1), 0);
      const far = 10_000 * MIN;
      r.push(p(far + MIN, 5), 1);
      const res = r.push(p(far, 4), 2); // earlier than the suspect: must not become late
      expect(res.rejected).toEqual([]);
      expect(res.steps).toEqual([{ series: 's', ts: 0, value: 1, count: 1 }]);
      expect(r.flush()).toEqual([
        { series: 's', ts: far, value: 4, count: 1 },
        { series: 's', ts: far + MIN, value: 5, count: 1 },
      ]);
    });

    it('two far-future records far apart confirm nothing: the older suspect is rejected, the newer held', () => {
      const r = new Resampler(base);
      r.push(p(0, 1), 0);
      const a = p(10_000 * MIN, 1);
      const b = p(20_000 * MIN, 2);
      r.push(a, 1);
      expect(r.push(b, 2).rejected).toEqual([{ point: a, reason: 'future_timestamp' }]);
      expect(r.push(p(MIN, 1), 3).rejected).toEqual([{ point: b, reason: 'future_timestamp' }]);
    });

    it('an unconfirmed suspect at flush is rejected via flushRejected, never lost', () => {
      const r = new Resampler(base);
      r.push(p(0, 1), 0);
      const future = p(10_000 * MIN, 99);
      r.push(future, 1);
      expect(r.flush()).toEqual([{ series: 's', ts: 0, value: 1, count: 1 }]);
      expect(r.flushRejected()).toEqual([{ point: future, reason: 'future_timestamp' }]);
      expect(r.flushRejected()).toEqual([]);
    });

    it('a jump of exactly maxJump is ordinary', () => {
      const r = new Resampler(base);
      r.push(p(0, 1), 0);
      const res = r.push(p(base.maxJumpMs, 2), 1);
      expect(res.rejected).toEqual([]);
      expect(res.steps).toEqual([{ series: 's', ts: 0, value: 1, count: 1 }]);
    });
  });

  describe('dead-letter provenance: a rejected point comes back with the record that carried it', () => {
    const src = (offset: number, key: string | null = null): RecordSource => ({ topic: 'in', partition: 3, offset: String(offset), key });

    it('late: the source it was pushed with, not the next record\'s', () => {
      const r = new Resampler(base);
      r.push(p(10 * MIN, 1), 0, src(1, 's'));
      const res = r.push(p(0, 2), 1, src(2));
      expect(res.rejected).toEqual([{ point: p(0, 2), reason: 'late', source: src(2) }]);
      expect(res.rejected[0]!.source?.key).toBeNull();
    });

    it('future_timestamp: the held point keeps its own source; the record that refutes it is not named', () => {
      const r = new Resampler(base);
      r.push(p(0, 1), 0, src(10, 'k'));
      const future = p(10_000 * MIN, 99);
      r.push(future, 1, src(11));
      const res = r.push(p(MIN, 2), 2, src(12, 'k'));
      expect(res.rejected).toEqual([{ point: future, reason: 'future_timestamp', source: src(11) }]);
    });

    it('every held point keeps its own source, through snapshot and restore, and at flush', () => {
      const r = new Resampler(base);
      r.push(p(0, 1), 0, src(1));
      const a = p(10_000 * MIN, 1);
      const b = p(10_000 * MIN + 1, 2);
      r.push(a, 1, src(2, 'x'));
      r.push(b, 2, src(3));
      const r2 = new Resampler(base);
      r2.restore('s', JSON.parse(JSON.stringify(r.snapshot('s'))) as unknown);
      expect(r2.push(p(MIN, 3), 3, src(4)).rejected).toEqual([
        { point: a, reason: 'future_timestamp', source: src(2, 'x') },
        { point: b, reason: 'future_timestamp', source: src(3) },
      ]);
      r2.push(a, 4, src(5));
      r2.flush();
      expect(r2.flushRejected()).toEqual([{ point: a, reason: 'future_timestamp', source: src(5) }]);
    });

    it('a version 1 snapshot (one suspect, no source) still restores', () => {
      const r = new Resampler(base);
      const suspect = p(10_000 * MIN, 9);
      r.restore('s', { v: 1, watermark: 0, frontier: -2 * MIN, lastArrival: 0, buckets: [], suspect: { point: suspect, arrival: 0 } });
      expect(r.push(p(MIN, 1), 1).rejected).toEqual([{ point: suspect, reason: 'future_timestamp', source: undefined }]);
    });
  });

  describe('clock skew: jumpConfirm agreeing points move a series, either way', () => {
    const YEAR = 365 * 24 * 60 * MIN;
    const daily = { ...base, maxJumpMs: 24 * 60 * MIN };
    /** One genuine point per step from step `from`, then `skewed` points a year ahead, then 60 genuine ones. */
    const scenario = (skewed: number) => {
      const pts: Point[] = [];
      for (let i = 0; i < 10; i++) pts.push(p(i * MIN + 1000, i));
      for (let k = 0; k < skewed; k++) pts.push(p(YEAR + (10 + k) * MIN, 100 + k));
      for (let i = 10; i < 70; i++) pts.push(p(i * MIN + 2000, i));
      return pts;
    };

    it(`defaults to ${DEFAULT_JUMP_CONFIRM} points`, () => {
      expect(DEFAULT_JUMP_CONFIRM).toBe(3);
    });

    it('two points a year ahead, then 60 genuine ones: none of the genuine is late, the two are future_timestamp', () => {
      const { steps, rejected } = runAll(new Resampler(daily), scenario(2));
      expect(rejected.map((x) => x.reason)).toEqual(['future_timestamp', 'future_timestamp']);
      expect(rejected.map((x) => x.point.value)).toEqual([100, 101]);
      expect(steps.map((s) => s.ts)).toEqual(Array.from({ length: 70 }, (_, i) => i * MIN));
      expect(steps.some((s) => s.rebase === true)).toBe(false);
    });

    it('three points a year ahead confirm the jump; the genuine points that keep coming re-base the series onto them', () => {
      const r = new Resampler(daily);
      const pts = scenario(3);
      const steps: ClosedStep[] = [];
      const rejected: Rejected[] = [];
      const rebased: unknown[] = [];
      pts.forEach((pt, i) => {
        const res = r.push(pt, i);
        steps.push(...res.steps);
        rejected.push(...res.rejected);
        if (res.rebased !== undefined) rebased.push({ ...res.rebased, at: i });
      });
      steps.push(...r.flush());
      rejected.push(...r.flushRejected());
      // Nothing is lost: the skewed points were accepted, the genuine ones too (3 held, then re-based).
      expect(rejected).toEqual([]);
      expect(rebased).toEqual([{ series: 's', from: YEAR + 12 * MIN, to: 10 * MIN + 2000, at: 10 + 3 + 2 }]);
      const ts = steps.map((s) => s.ts);
      // Steps 0..9, their lateness-held tail closed by the jump, the skewed steps (closed at the
      // re-base), then every genuine step again from 10.
      expect(ts).toEqual([...Array.from({ length: 10 }, (_, i) => i * MIN), YEAR + 10 * MIN, YEAR + 11 * MIN, YEAR + 12 * MIN, ...Array.from({ length: 60 }, (_, i) => (10 + i) * MIN)]);
      const first = steps.find((s) => s.ts === 10 * MIN)!;
      expect(first.rebase).toBe(true);
      expect(steps.filter((s) => s.rebase === true)).toHaveLength(1);
      expect(first.value).toBe(10);
    });

    it('with jumpConfirm 2 (the old rule), two skewed points confirm, and the series still recovers after two genuine ones', () => {
      const { steps, rejected } = runAll(new Resampler({ ...daily, jumpConfirm: 2 }), scenario(2));
      expect(rejected).toEqual([]);
      expect(steps.filter((s) => s.ts < YEAR).map((s) => s.ts)).toEqual(Array.from({ length: 70 }, (_, i) => i * MIN));
      expect(steps.filter((s) => s.rebase === true).map((s) => s.ts)).toEqual([10 * MIN]);
    });

    it('a point far behind is held, and rejected as late (with its source) by the next ordinary point: one stale record re-bases nothing', () => {
      const r = new Resampler(base);
      for (let i = 0; i < 100; i++) r.push(p(i * MIN, i), i);
      const stale = p(0, -1);
      const src: RecordSource = { topic: 'in', partition: 0, offset: '7', key: null };
      expect(r.push(stale, 100, src)).toEqual({ steps: [], rejected: [], rebased: undefined });
      const res = r.push(p(100 * MIN, 100), 101);
      expect(res.rejected).toEqual([{ point: stale, reason: 'late', source: src }]);
    });

    it('a point only a little late (within maxJump) is rejected at once, as before', () => {
      const r = new Resampler(base);
      for (let i = 0; i < 10; i++) r.push(p(i * MIN, i), i);
      expect(r.push(p(2 * MIN, -1), 10).rejected.map((x) => x.reason)).toEqual(['late']);
    });

    it('held points that disagree with each other confirm nothing', () => {
      const r = new Resampler(base);
      r.push(p(0, 1), 0);
      const a = p(10_000 * MIN, 1);
      r.push(a, 1);
      r.push(p(10_000 * MIN + 1, 2), 2);
      // Far ahead again, but not within maxJump of the first held: starts its own group.
      const res = r.push(p(30_000 * MIN, 3), 3);
      expect(res.rejected.map((x) => [x.point.value, x.reason])).toEqual([[1, 'future_timestamp'], [2, 'future_timestamp']]);
      // Points held ahead, then one far behind: the held ones are refuted, the new one held.
      const back = r.push(p(-10_000 * MIN, 4), 4);
      expect(back.rejected.map((x) => [x.point.value, x.reason])).toEqual([[3, 'future_timestamp']]);
    });

    it('the rebase mark survives a snapshot taken before the first re-based step closed', () => {
      const r = new Resampler({ ...daily, jumpConfirm: 2 });
      r.push(p(0, 1), 0);
      r.push(p(YEAR, 2), 1);
      r.push(p(YEAR + MIN, 3), 2);
      r.push(p(MIN, 4), 3);
      expect(r.push(p(MIN + 1, 5), 4).rebased).toBeDefined();
      const snap = JSON.parse(JSON.stringify(r.snapshot('s'))) as { rebase?: boolean };
      expect(snap.rebase).toBe(true);
      const r2 = new Resampler({ ...daily, jumpConfirm: 2 });
      r2.restore('s', snap);
      const steps = r2.flush();
      expect(steps).toEqual([{ series: 's', ts: MIN, value: 4.5, count: 2, rebase: true }]);
      expect(r2.snapshot('s')).not.toHaveProperty('rebase');
    });

    it('rejects a jumpConfirm below 2 or not whole', () => {
      expect(() => new Resampler({ ...base, jumpConfirm: 1 })).toThrow(/jumpConfirm must be a whole number from 2/);
      expect(() => new Resampler({ ...base, jumpConfirm: 2.5 })).toThrow(ConfigError);
    });
  });

  describe('idle close (arrival time, not event time)', () => {
    it('closes the open buckets of series idle for idleCloseMs, and only those', () => {
      const r = new Resampler(base);
      r.push(p(0, 1, 'a'), 1_000);
      r.push(p(0, 2, 'b'), 1_000 + 3 * MIN);
      expect(r.closeIdle(1_000 + 5 * MIN - 1)).toEqual([]);
      expect(r.closeIdle(1_000 + 5 * MIN)).toEqual([{ series: 'a', ts: 0, value: 1, count: 1 }]);
      expect(r.closeIdle(1_000 + 5 * MIN)).toEqual([]);
      expect(r.closeIdle(1_000 + 8 * MIN)).toEqual([{ series: 'b', ts: 0, value: 2, count: 1 }]);
    });

    it('after an idle close, the closed bucket is late and the next one opens normally', () => {
      const r = new Resampler(base);
      r.push(p(10_000, 1), 0);
      expect(r.closeIdle(base.idleCloseMs)).toHaveLength(1);
      expect(r.push(p(20_000, 2), base.idleCloseMs).rejected[0]?.reason).toBe('late');
      expect(r.push(p(MIN, 3), base.idleCloseMs).rejected).toEqual([]);
      expect(r.flush()).toEqual([{ series: 's', ts: MIN, value: 3, count: 1 }]);
    });
  });

  it('snapshot/restore through JSON continues exactly like an uninterrupted run', () => {
    const pts = [p(0, 1), p(30_000, 2), p(MIN, 3), p(2 * MIN, 4), p(50_000, 5), p(10_000 * MIN, 6)];
    const tail = [p(3 * MIN, 7), p(4 * MIN + 1, 8), p(10 * MIN, 9)];
    const whole = runAll(new Resampler(base), [...pts, ...tail]);

    const r1 = new Resampler(base);
    const first = runAll(r1, pts, false);
    const snap = JSON.parse(JSON.stringify(r1.snapshot('s'))) as unknown;
    const r2 = new Resampler(base);
    r2.restore('s', snap);
    const second = runAll(r2, tail);
    expect([...first.steps, ...second.steps]).toEqual(whole.steps);
    expect([...first.rejected, ...second.rejected]).toEqual(whole.rejected);
  });

  it('snapshot/restore/drop/size bookkeeping and invalid snapshots', () => {
    const r = new Resampler(base);
    expect(r.snapshot('x')).toBeUndefined();
    r.push(p(0, 1, 'x'), 0);
    expect(r.size).toBe(1);
    r.drop('x');
    expect(r.size).toBe(0);
    expect(() => r.restore('x', { v: 2 })).toThrow(StreamcastError);
    expect(() => r.restore('x', null)).toThrow(StreamcastError);
    expect(() =>
      r.restore('x', { v: 1, watermark: 0, frontier: 0, lastArrival: 0, buckets: [{ start: 'a' }], suspect: null }),
    ).toThrow(StreamcastError);
  });

  it('rejects bad options with a ConfigError that says how to fix them', () => {
    expect(() => new Resampler({ ...base, stepMs: 0 })).toThrow(ConfigError);
    expect(() => new Resampler({ ...base, latenessMs: -1 })).toThrow(/lateness/);
    expect(() => new Resampler({ ...base, maxJumpMs: 1 })).toThrow(/maxJump must be at least one step/);
    expect(() => new Resampler({ ...base, aggregate: 'median' as Aggregate })).toThrow(/aggregate/);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const STEP = 1_000;

/** Series of points with increasing ts (duplicates allowed), integer values or nulls. */
const seriesArb = fc.array(
  fc.record({
    dt: fc.integer({ min: 0, max: 2 * STEP }),
    value: fc.option(fc.integer({ min: -1_000, max: 1_000 }), { nil: null, freq: 8 }),
  }),
  { minLength: 1, maxLength: 60 },
);

const byseries = (steps: readonly ClosedStep[]) => {
  const m = new Map<string, ClosedStep[]>();
  for (const s of steps) m.set(s.series, [...(m.get(s.series) ?? []), s]);
  return m;
};

describe('Resampler alignment', () => {
  // One point per 5-minute step, on the grid but ±2 minutes off (a jittery sensor clock).
  const STEP5 = 5 * MIN;
  const jittered = (n: number, seed: number): Point[] => {
    let a = seed;
    const rand = (): number => {
      a = (a * 1103515245 + 12345) % 2147483648;
      return a / 2147483648;
    };
    return Array.from({ length: n }, (_, k) => p(k * STEP5 + Math.round((2 * rand() - 1) * 2 * MIN), k));
  };
  const opts = (align: 'start' | 'centre'): ResamplerOptions => ({ stepMs: STEP5, aggregate: 'mean', align, latenessMs: 10 * MIN, idleCloseMs: 30 * MIN, maxJumpMs: 60 * MIN });

  it('start: jittered one-per-step points straddle the boundaries, leaving steps empty and doubled', () => {
    const steps = runAll(new Resampler(opts('start')), jittered(400, 7)).steps;
    const onGrid = new Set(steps.map((s) => s.ts));
    // About a quarter of the 400 grid steps get no point at all (the imputer would invent them)…
    const empty = Array.from({ length: 399 }, (_, k) => k * STEP5).filter((ts) => !onGrid.has(ts)).length;
    expect(empty).toBeGreaterThan(60);
    // …and about a quarter average two points.
    expect(steps.filter((s) => s.count === 2).length).toBeGreaterThan(60);
  });

  it('centre: each point lands in the step it is nearest, one per step, its own value', () => {
    const steps = runAll(new Resampler(opts('centre')), jittered(400, 7)).steps;
    expect(steps).toHaveLength(400);
    steps.forEach((s, k) => expect(s).toEqual({ series: 's', ts: k * STEP5, value: k, count: 1 }));
  });

  it('centre: a point exactly half a step after the grid goes to the next step; lateness counts from the shifted time', () => {
    const r = new Resampler({ ...opts('centre'), latenessMs: 0 });
    expect(r.push(p(STEP5 / 2 - 1, 1), 0).steps).toEqual([]);
    // ts 2.5m is nearer… neither; it opens step 5m, which closes step 0 at once (lateness 0).
    expect(r.push(p(STEP5 / 2, 2), 0).steps).toEqual([{ series: 's', ts: 0, value: 1, count: 1 }]);
    // 2.4m belongs to the closed step 0: late.
    expect(r.push(p(STEP5 / 2 - 60_000, 3), 0).rejected.map((x) => x.reason)).toEqual(['late']);
    expect(r.flush()).toEqual([{ series: 's', ts: STEP5, value: 2, count: 1 }]);
  });

  it('rejects an unknown align with a message listing the choices', () => {
    expect(() => new Resampler({ ...opts('centre'), align: 'middle' as 'centre' })).toThrow(/align must be one of start, centre/);
  });
});

describe('Resampler properties', () => {
  it('disorder within lateness yields exactly the steps of sorted input', () => {
    fc.assert(
      fc.property(
        fc.array(seriesArb, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 5 * STEP }),
        fc.constantFrom<Aggregate>('mean', 'last', 'sum', 'max', 'min'),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        fc.constantFrom<'start' | 'centre'>('start', 'centre'),
        (series, lateness, aggregate, rand, align) => {
          // Arrival key = ts + jitter in [0, lateness]: then each arriving record's ts is ≥ the
          // watermark − lateness, i.e. the disorder stays within lateness.
          const pts: Array<{ point: Point; key: number; seq: number }> = [];
          series.forEach((rows, si) => {
            let ts = 1_700_000_000_000 + si * 333;
            for (const row of rows) {
              ts += row.dt;
              pts.push({ point: p(ts, row.value, `s${si}`), key: 0, seq: pts.length });
            }
          });
          const it = rand[Symbol.iterator]();
          for (const x of pts) x.key = x.point.ts + Math.floor((it.next().value as number) * lateness);
          const arrived = [...pts].sort((a, b) => a.key - b.key || a.seq - b.seq).map((x) => x.point);
          const sorted = [...arrived].sort((a, b) => a.ts - b.ts); // stable: ties keep arrival order

          const opts: ResamplerOptions = { stepMs: STEP, aggregate, align, latenessMs: lateness, idleCloseMs: 1e9, maxJumpMs: 1e9 };
          const a = runAll(new Resampler(opts), arrived);
          const b = runAll(new Resampler(opts), sorted);
          expect(a.rejected).toEqual([]);
          expect(b.rejected).toEqual([]);
          expect(byseries(a.steps)).toEqual(byseries(b.steps));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('messy input: every accepted value lands in exactly one step; steps increase; no NaN', () => {
    const event = fc.oneof(
      { weight: 12, arbitrary: fc.record({ kind: fc.constant('pt' as const), series: fc.constantFrom('a', 'b'), dt: fc.integer({ min: -6 * STEP, max: 3 * STEP }), value: fc.option(fc.integer({ min: -100, max: 100 }), { nil: null, freq: 6 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('jump' as const), series: fc.constantFrom('a', 'b'), dt: fc.integer({ min: 50 * STEP, max: 200 * STEP }), value: fc.integer({ min: -100, max: 100 }).map((v): number | null => v) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('idle' as const), series: fc.constant('a'), dt: fc.integer({ min: 0, max: 20 * STEP }), value: fc.constant(null) }) },
    );
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 120 }), fc.integer({ min: 0, max: 4 * STEP }), (events, lateness) => {
        const r = new Resampler({ stepMs: STEP, aggregate: 'sum', latenessMs: lateness, idleCloseMs: 10 * STEP, maxJumpMs: 40 * STEP });
        const cursor = new Map<string, number>([['a', 0], ['b', 0]]);
        let now = 0;
        const pushed: Point[] = [];
        const steps: ClosedStep[] = [];
        const rejected: Rejected[] = [];
        for (const e of events) {
          if (e.kind === 'idle') {
            now += e.dt;
            steps.push(...r.closeIdle(now));
            continue;
          }
          const ts = (cursor.get(e.series) ?? 0) + e.dt;
          if (e.kind === 'pt') cursor.set(e.series, Math.max(cursor.get(e.series) ?? 0, ts));
          const pt = p(ts, e.value, e.series);
          pushed.push(pt);
          now += 1;
          const res = r.push(pt, now);
          steps.push(...res.steps);
          rejected.push(...res.rejected);
        }
        steps.push(...r.flush());
        rejected.push(...r.flushRejected());

        const rejectedSet = new Set(rejected.map((x) => x.point));
        expect(rejectedSet.size).toBe(rejected.length); // never rejected twice
        for (const x of rejected) expect(pushed).toContain(x.point);
        const accepted = pushed.filter((x) => !rejectedSet.has(x));
        const sum = (xs: number[]) => xs.reduce((s, v) => s + v, 0);
        const acceptedValues = accepted.flatMap((x) => (x.value === null ? [] : [x.value]));
        expect(sum(steps.flatMap((s) => (s.value === null ? [] : [s.value])))).toBe(sum(acceptedValues));
        expect(sum(steps.map((s) => s.count))).toBe(acceptedValues.length);
        // Every accepted point's bucket was emitted, and only such buckets were.
        const buckets = new Set(accepted.map((x) => `${x.series}@${Math.floor(x.ts / STEP) * STEP}`));
        expect(new Set(steps.map((s) => `${s.series}@${s.ts}`))).toEqual(buckets);
        // Steps increase per series, except where the series was re-based back onto its points' clock.
        for (const [, ss] of byseries(steps)) {
          for (let i = 1; i < ss.length; i += 1) if (ss[i]!.rebase !== true) expect(ss[i]!.ts).toBeGreaterThan(ss[i - 1]!.ts);
        }
        for (const s of steps) {
          expect(s.ts % STEP === 0).toBe(true);
          if (s.value !== null) expect(Number.isFinite(s.value)).toBe(true);
          else expect(s.count).toBe(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});
