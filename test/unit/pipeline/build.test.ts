import { from, lastValueFrom, Subject, toArray, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Ingested } from '../../../src/domain/ingested.js';
import { ManualClock } from '../../../src/domain/clock.js';
import type { DeadLetter, RecordSource } from '../../../src/domain/deadLetter.js';
import { ConfigError } from '../../../src/domain/errors.js';
import type { Point } from '../../../src/domain/point.js';
import type { ImputedStep, NormalizedStep } from '../../../src/domain/step.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { buildStepPipeline, createPipelineCores, type PipelineContext, type PipelineCores, type StepBatch } from '../../../src/pipeline/build.js';
import { Normalizer } from '../../../src/pipeline/core/normalizer.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import type { PipelineSpec } from '../../../src/spec/pipelineSpec.js';

const MIN = 60_000;
const YEAR = 365 * 24 * 60 * MIN;

const spec = (window: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) =>
  parseSpec({
    name: 'skew',
    input: { topic: 'in' },
    output: { topic: 'out' },
    window: { step: '1m', lateness: '2m', ...window },
    impute: { strategy: 'ffill', maxGap: '30m' },
    model: { type: 'gru', hidden: 4, context: 8, horizon: 2 },
    baseline: { type: 'last-value' },
    ...rest,
  });

/** One record per point, on partition 2; with `keyed`, the Kafka-like source (own offset, key), else a file-like one. */
function records(points: readonly Point[], keyed: boolean): Ingested[] {
  return points.map((p, i) => ({
    points: [p],
    deadLetters: [],
    position: { topic: 'in', partition: 2, offset: String(100 + i + 1) },
    ...(keyed ? { source: { topic: 'in', partition: 2, offset: String(100 + i), key: i % 2 === 0 ? p.series : null } } : {}),
  }));
}

async function run(points: readonly Point[], opts: { keyed: boolean; window?: Record<string, unknown> }) {
  const letters: DeadLetter[] = [];
  const events: PipelineEvent[] = [];
  const warnings: string[] = [];
  const log = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_o: unknown, msg?: string) => warnings.push(msg ?? '') };
  const batches = await lastValueFrom(
    from(records(points, opts.keyed)).pipe(
      buildStepPipeline(spec(opts.window), {
        clock: new ManualClock(0),
        events: (e) => events.push(e),
        onDeadLetter: (l) => letters.push(...l),
        logger: log as never,
      }),
      toArray(),
    ),
  );
  return { steps: batches.flatMap((b) => b.steps), letters, events, warnings };
}

describe('buildStepPipeline: rejected points name their own record', () => {
  const pts: Point[] = [
    { series: 's', ts: 0, value: 1 },
    { series: 's', ts: 10 * MIN, value: 2 },
    { series: 's', ts: MIN, value: 3 }, // late
    { series: 's', ts: YEAR, value: 4 }, // held, then refuted by the next one
    { series: 's', ts: 11 * MIN, value: 5 },
  ];

  it('from a source that knows its records (Kafka): their own offset and key (null when absent)', async () => {
    const { letters } = await run(pts, { keyed: true });
    expect(letters.map((l) => [l.reason, l.source])).toEqual([
      ['late', { topic: 'in', partition: 2, offset: '102', key: 's' } satisfies RecordSource],
      ['future_timestamp', { topic: 'in', partition: 2, offset: '103', key: null } satisfies RecordSource],
    ]);
    expect(JSON.parse(letters[1]!.payload)).toEqual(pts[3]);
  });

  it('from a file-like source: the record before the position, without a key', async () => {
    const { letters } = await run(pts, { keyed: false });
    expect(letters.map((l) => [l.reason, l.source.offset, l.source.key])).toEqual([
      ['late', '102', null],
      ['future_timestamp', '103', null],
    ]);
  });
});

describe('buildStepPipeline: a series moved a year ahead by skewed points forecasts again', () => {
  const genuine = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ series: 's', ts: (from + i) * MIN + 1000, value: from + i }));
  const skewed = (n: number) => Array.from({ length: n }, (_, k) => ({ series: 's', ts: YEAR + (10 + k) * MIN, value: 100 + k }));

  it('two skewed points, then 60 genuine: no genuine point is late, every genuine step comes out', async () => {
    const { steps, letters } = await run([...genuine(0, 10), ...skewed(2), ...genuine(10, 70)], { keyed: true });
    expect(letters.map((l) => l.reason)).toEqual(['future_timestamp', 'future_timestamp']);
    expect(steps.map((s) => s.ts)).toEqual(Array.from({ length: 70 }, (_, i) => i * MIN));
  });

  it('three skewed points confirm the jump; the genuine points re-base the series: a warning, a metric event, then steps from a fresh start', async () => {
    const { steps, letters, events, warnings } = await run([...genuine(0, 10), ...skewed(3), ...genuine(10, 70)], { keyed: true });
    expect(letters).toEqual([]);
    expect(events.filter((e) => e.type === 'series_rebased')).toEqual([{ type: 'series_rebased', count: 1 }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/series "s" re-based from .* back to .*Operator action/);
    const after = steps.filter((s) => s.ts < YEAR && s.ts >= 10 * MIN);
    expect(after.map((s) => s.ts)).toEqual(Array.from({ length: 60 }, (_, i) => (10 + i) * MIN));
    // The imputer restarted the series: its first step after the re-base says `reset`, observed.
    expect(after[0]).toMatchObject({ ts: 10 * MIN, value: 10, observed: true, reset: true });
    expect(after.slice(1).every((s) => !s.reset && s.observed)).toBe(true);
    expect(steps.every((s) => Number.isFinite(s.z) && Number.isFinite(s.value))).toBe(true);
  });
});

describe('window.jumpConfirm in the spec', () => {
  it('defaults to 3 and accepts whole numbers from 2', () => {
    expect(spec().window.jumpConfirm).toBe(3);
    expect(spec({ jumpConfirm: 2 }).window.jumpConfirm).toBe(2);
  });

  it('rejects 1, fractions and text with the path and how to fix it', () => {
    expect(() => spec({ jumpConfirm: 1 })).toThrow(/window\.jumpConfirm: window\.jumpConfirm must be at least 2: a jump that its own point confirms guards nothing/);
    expect(() => spec({ jumpConfirm: 2.5 })).toThrow(/window\.jumpConfirm: .*whole number of points, e\.g\. 3/);
    expect(() => spec({ jumpConfirm: 'three' })).toThrow(ConfigError);
    expect(() => spec({ jumpConfirm: 1000 })).toThrow(/at most 100/);
  });
});

/** No lateness: a step closes as soon as the series' next step begins. */
const tight = (window: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) => spec({ lateness: undefined, ...window }, rest);

/** A pipeline fed by hand: records in, batches out; barriers form a batch now; timers never fire. */
function harness(s: PipelineSpec, ctx: Partial<PipelineContext> = {}) {
  const input = new Subject<Ingested>();
  const barriers = new Subject<void>();
  const out = { batches: [] as StepBatch[], formed: [] as StepBatch[], letters: [] as DeadLetter[], events: [] as PipelineEvent[], completed: false };
  const sub = input
    .pipe(
      buildStepPipeline(s, {
        clock: new ManualClock(0),
        // Virtual time that is never advanced: only maxSize, barriers and completion form batches.
        scheduler: new VirtualTimeScheduler(),
        events: (e) => out.events.push(e),
        onDeadLetter: (l) => out.letters.push(...l),
        barriers,
        onBatchFormed: (b) => out.formed.push(b),
        ...ctx,
      }),
    )
    .subscribe({ next: (b) => out.batches.push(b), complete: () => (out.completed = true) });
  return { input, barrier: () => barriers.next(), out, sub };
}

const rec = (points: Point[], partition: number, offset: number, extra: Partial<Ingested> = {}): Ingested => ({
  points,
  deadLetters: [],
  position: { topic: 'in', partition, offset: String(offset) },
  ...extra,
});

describe('buildStepPipeline: batches', () => {
  it('a barrier closes a batch with the steps closed so far (empty when none), and onBatchFormed sees that very batch first', () => {
    const { input, barrier, out, sub } = harness(tight());
    input.next(rec([{ series: 'a', ts: 0, value: 1 }], 0, 1));
    input.next(rec([{ series: 'b', ts: 0, value: 2 }], 1, 5));
    input.next(rec([{ series: 'a', ts: MIN, value: 3 }], 0, 2)); // closes a@0
    barrier();
    input.next(rec([{ series: 'b', ts: MIN, value: 4 }], 1, 6)); // closes b@0
    barrier();
    barrier(); // nothing buffered: an empty batch, still with the positions
    sub.unsubscribe();

    expect(out.batches.map((b) => b.steps.map((st) => `${st.series}@${st.ts}=${st.value}`))).toEqual([['a@0=1'], ['b@0=2'], []]);
    expect(out.formed).toHaveLength(3);
    out.formed.forEach((b, i) => expect(b).toBe(out.batches[i]));
  });

  it('batch.maxSize closes a batch without a barrier', () => {
    const { input, out, sub } = harness(tight({}, { batch: { maxSize: 2 } }));
    for (const series of ['a', 'b', 'c']) input.next(rec([{ series, ts: 0, value: 1 }], 0, 1));
    for (const [i, series] of ['a', 'b', 'c'].entries()) input.next(rec([{ series, ts: MIN, value: 2 }], 0, 2 + i));
    sub.unsubscribe();
    expect(out.batches.map((b) => b.steps.map((st) => st.series))).toEqual([['a', 'b']]);
  });
});

describe('buildStepPipeline: records in, events and dead letters out', () => {
  it('counts every record and its points, and passes the decoder\'s dead letters on, counted by reason', () => {
    const bad = (reason: DeadLetter['reason'], offset: string): DeadLetter => ({ reason, message: reason, source: { topic: 'in', partition: 0, offset, key: null }, payload: 'x' });
    const { input, out, sub } = harness(tight());
    input.next(rec([{ series: 'a', ts: 0, value: 1 }, { series: 'b', ts: 0, value: 2 }], 0, 1, { deadLetters: [bad('invalid_json', '0')] }));
    input.next(rec([], 0, 2, { deadLetters: [bad('invalid_json', '1'), bad('missing_ts', '1')] }));
    sub.unsubscribe();
    expect(out.events.filter((e) => e.type === 'records_in')).toEqual([{ type: 'records_in', count: 1 }, { type: 'records_in', count: 1 }]);
    // A record without points reports none (no zero counts).
    expect(out.events.filter((e) => e.type === 'points_in')).toEqual([{ type: 'points_in', count: 2 }]);
    expect(out.events.filter((e) => e.type === 'invalid')).toEqual([
      { type: 'invalid', reason: 'invalid_json', count: 1 },
      { type: 'invalid', reason: 'invalid_json', count: 1 },
      { type: 'invalid', reason: 'missing_ts', count: 1 },
    ]);
    expect(out.letters.map((l) => [l.reason, l.source.offset])).toEqual([
      ['invalid_json', '0'],
      ['invalid_json', '1'],
      ['missing_ts', '1'],
    ]);
  });

  it('a record the chain throws on becomes one internal_error dead letter with its own bytes, and the stream goes on', () => {
    const s = tight();
    // A normalizer that fails on one series: what a bug in an operator would do.
    class FailingNormalizer extends Normalizer {
      override push(step: ImputedStep): NormalizedStep {
        if (step.series === 'boom') throw new Error('kaput');
        return super.push(step);
      }
    }
    const cores = { ...createPipelineCores(s), normalizer: new FailingNormalizer({ stepMs: s.window.step, halfLifeMs: s.normalize.halfLife }) };
    const { input, barrier, out, sub } = harness(s, { cores });
    const source = { topic: 'in', partition: 0, offset: '41', key: 'boom' };
    input.next(rec([{ series: 'boom', ts: 0, value: 1 }], 0, 41));
    // Closes boom@0, which the normalizer throws on: this record is the one that failed.
    input.next(rec([{ series: 'boom', ts: MIN, value: 2 }], 0, 42, { source, payload: '{"raw":"bytes"}' }));
    input.next(rec([{ series: 'ok', ts: 0, value: 3 }], 0, 43));
    input.next(rec([{ series: 'ok', ts: MIN, value: 4 }], 0, 44));
    barrier();
    sub.unsubscribe();
    expect(out.letters).toHaveLength(1);
    expect(out.letters[0]).toMatchObject({ reason: 'internal_error', source, payload: '{"raw":"bytes"}' });
    expect(out.letters[0]!.message).toMatch(/processing failed at point 1 of 1 .*kaput/);
    expect(out.events.filter((e) => e.type === 'invalid')).toEqual([{ type: 'invalid', reason: 'internal_error', count: 1 }]);
    expect(out.batches.flatMap((b) => b.steps.map((st) => `${st.series}@${st.ts}`))).toEqual(['ok@0']);
  });
});

describe('buildStepPipeline: state and completion', () => {
  const points = (series: string, values: readonly (number | undefined)[]): Point[] =>
    values.flatMap((value, i) => (value === undefined ? [] : [{ series, ts: i * MIN, value }]));

  it('flushOnComplete (files, the default) emits open windows when the input ends; false (Kafka) holds them back', async () => {
    const run = async (flushOnComplete?: boolean) => {
      const batches = await lastValueFrom(
        from([rec(points('a', [1, 2]), 0, 1)]).pipe(
          buildStepPipeline(tight(), { clock: new ManualClock(0), events: () => undefined, onDeadLetter: () => undefined, ...(flushOnComplete !== undefined ? { flushOnComplete } : {}) }),
          toArray(),
        ),
      );
      return batches.flatMap((b) => b.steps.map((st) => st.ts));
    };
    expect(await run()).toEqual([0, MIN]);
    expect(await run(false)).toEqual([0]);
  });

  it('uses the cores it is given (the state store snapshots and drops those), not fresh ones', () => {
    const s = tight();
    const cores = createPipelineCores(s);
    const { input, sub } = harness(s, { cores });
    input.next(rec(points('a', [1, 2]), 0, 1));
    sub.unsubscribe();
    // a@1m is still open in the given resampler; a@0 went through the given imputer and normalizer.
    expect(cores.resampler.size).toBe(1);
    expect(cores.resampler.snapshot('a')).toBeDefined();
    expect(cores.imputer.snapshot('a')).toBeDefined();
    expect(cores.normalizer.snapshot('a')).toBeDefined();
  });

  it('createPipelineCores builds the cores buildStepPipeline would: the same steps either way', async () => {
    const s = tight({ aggregate: 'sum', lateness: '3m' }, { impute: { strategy: 'linear', maxGap: '5m' }, normalize: { halfLife: '7m' } });
    // Gaps inside and beyond maxGap, two points in one step (summed), and values that move the scale.
    const values = [1, undefined, 5, 2, undefined, undefined, undefined, undefined, undefined, undefined, 40, 3, 7, 7, 1];
    const pts = [...points('a', values), { series: 'a', ts: 2 * MIN + 1000, value: 10 }].sort((x, y) => x.ts - y.ts);
    const run = async (cores?: PipelineCores) => {
      const batches = await lastValueFrom(
        from(pts.map((p, i) => rec([p], 0, i + 1))).pipe(
          buildStepPipeline(s, { clock: new ManualClock(0), events: () => undefined, onDeadLetter: () => undefined, ...(cores ? { cores } : {}) }),
          toArray(),
        ),
      );
      return batches.flatMap((b) => b.steps);
    };
    const own = await run();
    expect(own.some((st) => st.imputed)).toBe(true);
    expect(own.some((st) => st.reset && st.ts > 0)).toBe(true);
    expect(own.find((st) => st.ts === 2 * MIN)?.value).toBe(15);
    expect(await run(createPipelineCores(s))).toEqual(own);
  });

  it('idle ticks close a quiet series\' window by the clock, without another record', () => {
    const clock = new ManualClock(0);
    const ticks = new Subject<void>();
    const { input, barrier, out, sub } = harness(tight({ idleClose: '2m' }), { clock, idleTicks: ticks });
    input.next(rec([{ series: 'quiet', ts: 0, value: 1 }], 0, 1));
    ticks.next();
    barrier();
    clock.set(3 * MIN);
    ticks.next();
    barrier();
    sub.unsubscribe();
    expect(out.batches.map((b) => b.steps.map((st) => `${st.series}@${st.ts}`))).toEqual([[], ['quiet@0']]);
  });
});
