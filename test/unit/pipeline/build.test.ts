import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Ingested } from '../../../src/domain/ingested.js';
import { ManualClock } from '../../../src/domain/clock.js';
import type { DeadLetter, RecordSource } from '../../../src/domain/deadLetter.js';
import { ConfigError } from '../../../src/domain/errors.js';
import type { Point } from '../../../src/domain/point.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { buildStepPipeline } from '../../../src/pipeline/build.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';

const MIN = 60_000;
const YEAR = 365 * 24 * 60 * MIN;

const spec = (window: Record<string, unknown> = {}) =>
  parseSpec({
    name: 'skew',
    input: { topic: 'in' },
    output: { topic: 'out' },
    window: { step: '1m', lateness: '2m', ...window },
    impute: { strategy: 'ffill', maxGap: '30m' },
    model: { type: 'gru', hidden: 4, context: 8, horizon: 2 },
    baseline: { type: 'last-value' },
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
