import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Ingested } from '../../../src/domain/ingested.js';
import { ManualClock } from '../../../src/domain/clock.js';
import type { DeadLetter } from '../../../src/domain/deadLetter.js';
import type { Point } from '../../../src/domain/point.js';
import type { ClosedStep, ImputedStep, NormalizedStep } from '../../../src/domain/step.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { buildStepPipeline, createPipelineCores } from '../../../src/pipeline/build.js';
import { Imputer } from '../../../src/pipeline/core/imputer.js';
import { Normalizer } from '../../../src/pipeline/core/normalizer.js';
import { Resampler } from '../../../src/pipeline/core/resampler.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';

const STEP = 60_000;
const spec = parseSpec({
  name: 'guard',
  input: { topic: 'in' },
  output: { topic: 'out' },
  window: { step: '1m', aggregate: 'mean' },
  impute: { strategy: 'ffill', maxGap: '30m' },
  model: { type: 'gru', hidden: 8, context: 16, horizon: 3, quantiles: [0.1, 0.5, 0.9] },
  batch: { maxSize: 1, maxWait: '1ms' },
});

// Cores with a planted bug, one per stage, each triggered by its own series: a stand-in for
// whatever unexpected error a record's content might one day trigger.
class BuggyResampler extends Resampler {
  override push(point: Point, now: number) {
    if (point.series === 'boom-resample') throw new RangeError('Maximum call stack size exceeded');
    return super.push(point, now);
  }
}
class BuggyImputer extends Imputer {
  override push(step: ClosedStep): ImputedStep[] {
    if (step.series === 'boom-impute') throw new TypeError('imputer bug');
    return super.push(step);
  }
}
class BuggyNormalizer extends Normalizer {
  override push(step: ImputedStep): NormalizedStep {
    if (step.series === 'boom-normalize') throw new Error('normalizer bug');
    return super.push(step);
  }
}

function record(offset: number, points: Point[], withSource: boolean): Ingested {
  const position = { topic: 'in', partition: 2, offset: String(offset + 1) };
  if (!withSource) return { points, deadLetters: [], position };
  return { points, deadLetters: [], position, source: { topic: 'in', partition: 2, offset: String(offset), key: 'k' }, payload: new TextEncoder().encode(`raw-${offset}`) };
}

describe('buildStepPipeline: a record the chain throws on', () => {
  it('becomes an internal_error dead letter and the records after it still flow', async () => {
    const cores = {
      resampler: new BuggyResampler({ stepMs: STEP, aggregate: 'mean', latenessMs: 0, idleCloseMs: spec.window.idleClose, maxJumpMs: spec.window.maxJump }),
      imputer: new BuggyImputer({ stepMs: STEP, strategy: 'ffill', maxGapMs: spec.impute.maxGap, seasonMs: spec.impute.season }),
      normalizer: new BuggyNormalizer({ stepMs: STEP, halfLifeMs: spec.normalize.halfLife }),
    };
    const letters: DeadLetter[] = [];
    const events: PipelineEvent[] = [];
    const recs: Ingested[] = [];
    let offset = 0;
    const good = (i: number) => ({ series: 'ok', ts: i * STEP + 1, value: i });
    for (let i = 0; i < 3; i++) recs.push(record(offset++, [good(i)], true));
    // Its second point is never pushed: the first error ends the record.
    recs.push(record(offset++, [{ series: 'boom-resample', ts: 1, value: 1 }, { series: 'ok', ts: 100 * STEP, value: 1 }], true));
    recs.push(record(offset++, [good(3), { series: 'boom-impute', ts: 1, value: 1 }], true));
    recs.push(record(offset++, [{ series: 'boom-impute', ts: 2 * STEP, value: 1 }], true)); // closes the step that throws
    recs.push(record(offset++, [{ series: 'boom-normalize', ts: 1, value: 1 }, { series: 'boom-normalize', ts: STEP + 1, value: 1 }], false));
    for (let i = 4; i < 8; i++) recs.push(record(offset++, [good(i)], true));

    const batches = await lastValueFrom(
      from(recs).pipe(
        buildStepPipeline(spec, { clock: new ManualClock(0), events: (e) => events.push(e), onDeadLetter: (d) => letters.push(...d), cores, flushOnComplete: false }),
        toArray(),
      ),
    );

    // Every step of the good series came out, in order: the stream survived the three failures.
    const okSteps = batches.flatMap((b) => b.steps).filter((s) => s.series === 'ok');
    expect(okSteps.map((s) => s.ts)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => i * STEP));
    expect(letters.map((l) => l.reason)).toEqual(['internal_error', 'internal_error', 'internal_error']);
    const [r, im, n] = letters;
    // The source's own provenance and original bytes when it kept them.
    expect(r).toMatchObject({ source: { topic: 'in', partition: 2, offset: '3', key: 'k' }, payload: 'raw-3' });
    expect(r!.message).toMatch(/point 1 of 2 .*RangeError: Maximum call stack size exceeded/);
    // The step of boom-impute closes when its next point arrives: that record is the one blamed.
    expect(im).toMatchObject({ source: { offset: '5' }, payload: 'raw-5' });
    expect(im!.message).toMatch(/TypeError: imputer bug/);
    // Without them, the position names the record (no key known: null) and the payload holds its decoded points.
    expect(n).toMatchObject({ source: { topic: 'in', partition: 2, offset: '6', key: null } });
    expect(n!.message).toMatch(/point 2 of 2 .*Error: normalizer bug/);
    expect(JSON.parse(n!.payload)).toEqual([{ series: 'boom-normalize', ts: 1, value: 1 }, { series: 'boom-normalize', ts: STEP + 1, value: 1 }]);
    expect(events.filter((e) => e.type === 'invalid')).toEqual([
      { type: 'invalid', reason: 'internal_error', count: 1 },
      { type: 'invalid', reason: 'internal_error', count: 1 },
      { type: 'invalid', reason: 'internal_error', count: 1 },
    ]);
  });

  it('still errors the stream for a failure outside any record (completion flush)', async () => {
    class FlushBug extends Resampler {
      override flush(): ClosedStep[] {
        throw new Error('flush bug');
      }
    }
    const cores = { ...createPipelineCores(spec), resampler: new FlushBug({ stepMs: STEP, aggregate: 'mean', latenessMs: 0, idleCloseMs: spec.window.idleClose, maxJumpMs: spec.window.maxJump }) };
    const run = lastValueFrom(from([record(0, [{ series: 'ok', ts: 1, value: 1 }], true)]).pipe(buildStepPipeline(spec, { clock: new ManualClock(0), events: () => {}, onDeadLetter: () => {}, cores }), toArray()));
    await expect(run).rejects.toThrow('flush bug');
  });
});
