import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CheckpointReader } from '../../../../src/connectors/checkpointReader.js';
import type { Checkpoint, Committer, PartitionCheckpoint, SealedOutputs } from '../../../../src/connectors/committer.js';
import { MemorySource } from '../../../../src/connectors/memory/memorySource.js';
import type { Ingested } from '../../../../src/domain/ingested.js';
import { ManualClock } from '../../../../src/domain/clock.js';
import type { Forecast } from '../../../../src/domain/forecast.js';
import { createBaseline } from '../../../../src/forecasting/baseline/createBaseline.js';
import type { PipelineEvent } from '../../../../src/observability/events.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { createPipelineCores } from '../../../../src/pipeline/build.js';
import { parseSpec } from '../../../../src/spec/loadSpec.js';
import { CheckpointCoordinator } from '../../../../src/runtime/checkpoint/checkpointCoordinator.js';
import { PipelineRunner, type RunSummary } from '../../../../src/runtime/pipelineRunner.js';
import { SeriesStateStore } from '../../../../src/state/seriesStateStore.js';
import { decodeSeriesState } from '../../../../src/state/stateCodec.js';

const STEP = 60_000;
const INTERVAL = 1000;
const TOPIC = 'in.ckpt';

// One step per batch (maxSize 1: no micro-batch timer), no lateness (a point of step i closes
// step i - 1), last-value baseline (a forecast for every step, no training).
const spec = parseSpec({
  name: 'ckpt',
  input: { topic: TOPIC },
  output: { topic: 'out.ckpt' },
  window: { step: '1m' },
  impute: { strategy: 'ffill', maxGap: '1h' },
  model: { type: 'baseline', horizon: 2, quantiles: [0.1, 0.5, 0.9] },
  baseline: { type: 'last-value', season: '1h' },
  batch: { maxSize: 1, maxWait: '20ms' },
});

/** A commit the test settles by hand, with the forecasts sealed for it. */
interface HeldCommit {
  readonly parts: readonly PartitionCheckpoint[];
  readonly forecasts: readonly Forecast[];
  readonly final: boolean;
  readonly resolve: () => void;
}

/**
 * A Committer whose commits stay outstanding until the test resolves them. `holds`: forecasts wait
 * in it for their checkpoint (as exactly-once's do), else they count as sent when written.
 */
class FakeCommitter implements Committer {
  readonly commits: HeldCommit[] = [];
  readonly written: Forecast[] = [];
  private readonly held_: HeldCommit[] = [];
  private open: Forecast[] = [];
  private readonly sealed = new Map<SealedOutputs, Forecast[]>();
  outstanding = 0;
  maxOutstanding = 0;

  constructor(readonly holds: boolean) {}

  get held(): number {
    return this.holds ? this.open.length : 0;
  }
  async write(forecasts: readonly Forecast[]): Promise<void> {
    this.written.push(...forecasts);
    this.open.push(...forecasts);
  }
  seal(): SealedOutputs {
    const s: SealedOutputs = { partitions: new Set(this.holds && this.open.length > 0 ? [0] : []) };
    this.sealed.set(s, this.open);
    this.open = [];
    return s;
  }
  async acquire(_partition: number): Promise<void> {}
  async release(_partition: number): Promise<void> {}
  commit({ outputs, parts, final }: Checkpoint): Promise<readonly number[]> {
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    const forecasts = this.sealed.get(outputs) ?? [];
    this.sealed.delete(outputs);
    return new Promise<readonly number[]>((resolve) => {
      const c: HeldCommit = {
        parts,
        forecasts,
        final,
        resolve: () => {
          this.outstanding--;
          resolve([]);
        },
      };
      this.commits.push(c);
      this.held_.push(c);
    });
  }
  /** Resolves the oldest outstanding commit; false when none is outstanding. */
  resolveNext(): boolean {
    const c = this.held_.shift();
    if (c === undefined) return false;
    c.resolve();
    return true;
  }
}

const emptyChangelog: CheckpointReader = { readChangelog: async () => 0, committedOffset: async () => undefined };

/** Lets microtasks, setImmediate turns (the runner yields one per batch) and commit callbacks run. */
async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Point of minute `i` of series `a`, at input offset i + 1 (Kafka's "next offset" convention). */
function rec(i: number): Ingested {
  return { points: [{ series: 'a', ts: i * STEP + 1000, value: i }], deadLetters: [], position: { topic: TOPIC, partition: 0, offset: String(i + 1) } };
}

const key = (f: Forecast) => `${f.series}@${f.ts}`;
/** Forecast keys of steps from..to (inclusive) of series a. */
const steps = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => `a@${(from + k) * STEP}`);

/**
 * `timer`: the coordinator's interval timer runs, on faked setInterval (runner turns, microtasks
 * and setImmediate stay real; `vi.advanceTimersByTime` drives it).
 */
async function harness(opts: { holds: boolean; maxPendingForecasts?: number; timer?: boolean }) {
  if (opts.timer === true) vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  let t = 0;
  const writer = new FakeCommitter(opts.holds);
  const forecaster = createBaseline({ type: 'last-value', seasonMs: 3_600_000 }, { name: 'ckpt', stepMs: STEP, horizon: 2, quantiles: [0.1, 0.5, 0.9] });
  const store = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster } });
  const events: PipelineEvent[] = [];
  const coordinator = new CheckpointCoordinator({
    store,
    committer: writer,
    reader: emptyChangelog,
    events: (e) => events.push(e),
    logger: createLogger({ level: 'silent' }),
    intervalMs: INTERVAL,
    now: () => t,
    ...(opts.maxPendingForecasts !== undefined ? { maxPendingForecasts: opts.maxPendingForecasts } : {}),
  });
  const source = new MemorySource({ name: TOPIC });
  /** Every forecast the forecaster made, and the step count of every batch stepped (0: a checkpoint barrier). */
  const made: Forecast[] = [];
  const batchSizes: number[] = [];
  const runner = new PipelineRunner({
    spec,
    source,
    forecaster,
    clock: new ManualClock(0),
    events: (e) => events.push(e),
    checkpoints: coordinator,
    pipeline: { flushOnComplete: false },
    onBatch: (s, f) => {
      batchSizes.push(s.length);
      made.push(...f);
    },
  });
  // Own partition 0 (restored from an empty changelog) before any record.
  await expect(coordinator.partitionReady(0)).resolves.toBeUndefined();
  let summary: RunSummary | undefined;
  let failed: unknown;
  const done = runner.run().then(
    (s) => {
      summary = s;
    },
    (err: unknown) => {
      failed = err;
    },
  );
  await settle();
  if (opts.timer === true) coordinator.start();

  return {
    writer,
    coordinator,
    source,
    made,
    batchSizes,
    events,
    setNow: (ms: number) => {
      t = ms;
    },
    push: (...is: number[]) => {
      for (const i of is) source.push(rec(i));
    },
    forecastsOut: () => events.reduce((n, e) => (e.type === 'forecasts_out' ? n + e.count : n), 0),
    /** Ends the input, lets every remaining commit through, and returns the run's summary. */
    finish: async (): Promise<RunSummary> => {
      source.end();
      for (let i = 0; i < 100 && summary === undefined && failed === undefined; i++) {
        writer.resolveNext();
        await settle(2);
      }
      await done;
      if (failed !== undefined) throw failed;
      if (summary === undefined) throw new Error('the runner did not finish');
      return summary;
    },
  };
}

type Harness = Awaited<ReturnType<typeof harness>>;

/** The single partition-0 part of a commit, with the forecasts the commit carries. */
function part0(h: Harness, n: number): PartitionCheckpoint & { readonly forecasts: readonly Forecast[] } {
  const c = h.writer.commits[n];
  expect(c, `commit #${n}`).toBeDefined();
  expect(c!.parts.map((p) => p.partition)).toEqual([0]);
  return { ...c!.parts[0]!, forecasts: c!.forecasts };
}

/**
 * Ends the run, then: the final commit holds the input's last offset, `forecasts` were made,
 * commits never overlapped and each forecast was committed exactly once.
 */
async function expectFinished(h: Harness, want: { forecasts: number; lastOffset: string }): Promise<void> {
  const summary = await h.finish();
  expect(summary.forecasts).toBe(want.forecasts);
  expect(h.writer.commits.at(-1)?.parts[0]?.position?.offset).toBe(want.lastOffset);
  expect(h.writer.maxOutstanding).toBe(1);
  expectEachForecastCommittedOnce(h);
}

/** Every forecast made appears in exactly one commit, none is lost or duplicated. */
function expectEachForecastCommittedOnce(h: Harness): void {
  const committed = h.writer.commits.flatMap((c) => c.forecasts.map(key));
  expect(h.made.length).toBeGreaterThan(0);
  expect([...committed].sort()).toEqual(h.made.map(key).sort());
  expect(new Set(committed).size).toBe(committed.length);
}

describe('CheckpointCoordinator with PipelineRunner', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does not cut a checkpoint on an elapsed interval while one is in flight, and keeps forecasting meanwhile', async () => {
    const h = await harness({ holds: false, timer: true });

    h.push(0, 1, 2);
    await settle();
    expect(h.made.map(key)).toEqual(steps(0, 1));
    expect(h.writer.commits).toHaveLength(0); // interval not elapsed yet

    // Interval elapsed: the next record is followed by the barrier of checkpoint #1, whose commit the writer holds.
    h.setNow(INTERVAL);
    h.push(3);
    await settle();
    expect(h.writer.commits).toHaveLength(1);
    expect(part0(h, 0).position?.offset).toBe('4');
    expect(h.writer.outstanding).toBe(1);

    // Intervals keep elapsing, the timer keeps firing: no barrier and no second checkpoint.
    const batchesBefore = h.batchSizes.length;
    h.setNow(10 * INTERVAL);
    vi.advanceTimersByTime(5 * INTERVAL);
    await settle();
    expect(h.batchSizes.slice(batchesBefore)).toEqual([]); // no (empty) barrier batch
    expect(h.writer.commits).toHaveLength(1);

    // Input keeps flowing through the pipeline: every record still gets its forecast, at once.
    h.push(4, 5, 6, 7);
    await settle();
    vi.advanceTimersByTime(5 * INTERVAL);
    await settle();
    expect(h.made.map(key)).toEqual(steps(0, 6));
    expect(h.batchSizes).toEqual([1, 1, 1, 0, 1, 1, 1, 1]); // 0: the barrier that cut #1
    expect(h.forecastsOut()).toBe(7);
    expect(h.writer.written.map(key)).toEqual(steps(0, 6)); // written per batch
    expect(h.writer.commits).toHaveLength(1);
    expect(h.writer.outstanding).toBe(1);

    await h.finish();
    expect(h.writer.maxOutstanding).toBe(1);
  });

  it('cuts the held-back checkpoint as soon as the in-flight one commits, covering everything since', async () => {
    const h = await harness({ holds: true });

    h.push(0, 1, 2);
    await settle();
    h.setNow(INTERVAL);
    h.push(3);
    await settle();
    expect(h.writer.commits).toHaveLength(1);
    const first = part0(h, 0);
    expect(first.forecasts.map(key)).toEqual(steps(0, 2));
    expect(first.position).toEqual({ topic: TOPIC, partition: 0, offset: '4' });
    expect(first.state.map((s) => s.series)).toEqual(['a']);

    // While #1 is in flight the interval elapses and more records arrive.
    h.setNow(INTERVAL + 1500);
    h.push(4, 5, 6, 7);
    await settle();
    expect(h.made.map(key)).toEqual(steps(0, 6));
    expect(h.writer.commits).toHaveLength(1);

    // #1 commits: #2 follows without further input and carries all that was held back.
    expect(h.writer.resolveNext()).toBe(true);
    await settle();
    expect(h.writer.commits).toHaveLength(2);
    const second = part0(h, 1);
    expect(second.forecasts.map(key)).toEqual(steps(3, 6));
    expect(second.position).toEqual({ topic: TOPIC, partition: 0, offset: '8' });
    expect(second.state.map((s) => s.series)).toEqual(['a']);
    expect(h.batchSizes.at(-1)).toBe(0); // cut by a barrier (an empty batch), not by a record
    expect(h.events.filter((e) => e.type === 'checkpoint')).toHaveLength(1);

    // More input after #2 lands in a later checkpoint (here the last, at the end of the input).
    expect(h.writer.resolveNext()).toBe(true);
    await settle();
    h.push(8, 9);
    await settle();
    await expectFinished(h, { forecasts: 9, lastOffset: '10' });
  });

  it('still cuts a checkpoint on too many pending forecasts while one is in flight, then waits for it (no overlapping commits)', async () => {
    const h = await harness({ holds: true, maxPendingForecasts: 3 });

    // Checkpoint #1, cut by the interval, stays in flight.
    h.push(0, 1);
    await settle();
    h.setNow(INTERVAL);
    h.push(2);
    await settle();
    expect(h.writer.commits).toHaveLength(1);
    expect(part0(h, 0).forecasts.map(key)).toEqual(steps(0, 1));
    expect(part0(h, 0).position?.offset).toBe('3');

    // The clock stands still (no interval elapses); three forecasts wait: a barrier cuts
    // checkpoint #2 although #1 is in flight…
    const batchesBefore = h.batchSizes.length;
    h.push(3, 4, 5);
    await settle();
    expect(h.made.map(key)).toEqual(steps(0, 4));
    expect(h.batchSizes.slice(batchesBefore)).toEqual(expect.arrayContaining([0])); // the barrier
    // …which waits for #1 instead of committing alongside it, and holds up the pipeline: the
    // next record's step is not forecast while #1 is outstanding.
    expect(h.writer.commits).toHaveLength(1);
    expect(h.writer.outstanding).toBe(1);
    h.push(6);
    await settle();
    expect(h.made.map(key)).toEqual(steps(0, 4));

    // #1 commits: #2 follows with exactly the forecasts cut, then the pipeline moves again.
    expect(h.writer.resolveNext()).toBe(true);
    await settle();
    expect(h.writer.commits).toHaveLength(2);
    const second = part0(h, 1);
    expect(second.forecasts.map(key)).toEqual(steps(2, 4));
    expect(second.position?.offset).toBe('6');
    expect(h.made.map(key)).toEqual(steps(0, 5));

    await expectFinished(h, { forecasts: 6, lastOffset: '7' });
  });

  // A barrier that found nothing due once left a flag set that ignored every later barrier.
  it('after a backpressure checkpoint, still cuts the held-back one promptly when the in-flight commit resolves', async () => {
    const h = await harness({ holds: true, maxPendingForecasts: 3 });

    // Checkpoint #1, cut by backpressure (three forecasts pending), stays in flight.
    h.push(0, 1, 2, 3);
    await settle();
    expect(h.writer.commits).toHaveLength(1);
    expect(part0(h, 0).forecasts.map(key)).toEqual(steps(0, 2));

    // An interval elapses and one more forecast is made while #1 is in flight.
    h.setNow(INTERVAL);
    h.push(4);
    await settle();
    expect(h.made.map(key)).toEqual(steps(0, 3));
    expect(h.writer.commits).toHaveLength(1);

    // #1 commits: #2 is due (interval elapsed) and should follow without further input.
    expect(h.writer.resolveNext()).toBe(true);
    await settle();
    try {
      expect(h.writer.commits).toHaveLength(2); // fails today: the barrier request is stuck
      expect(part0(h, 1).forecasts.map(key)).toEqual(steps(3, 3));
      expect(part0(h, 1).position?.offset).toBe('5');
    } finally {
      const summary = await h.finish();
      expect(summary.forecasts).toBe(4);
      expectEachForecastCommittedOnce(h);
    }
  });

  it('cuts a checkpoint once the input goes quiet, before the interval ends, and not again without new input', async () => {
    const h = await harness({ holds: true, timer: true });
    h.push(0, 1, 2);
    await settle();
    vi.advanceTimersByTime(INTERVAL);
    await settle();
    expect(h.writer.commits).toHaveLength(0); // the clock has not moved: not quiet yet

    // Quiet for 300 ms (≥ the 100 ms default and the minimum gap of interval / 4), well before the interval.
    h.setNow(300);
    vi.advanceTimersByTime(100);
    await settle();
    expect(h.writer.commits).toHaveLength(1);
    expect(part0(h, 0).forecasts.map(key)).toEqual(steps(0, 1));
    expect(part0(h, 0).position?.offset).toBe('3');
    h.writer.resolveNext();
    await settle();

    // Nothing read since: staying quiet cuts nothing more until the interval…
    h.setNow(600);
    vi.advanceTimersByTime(100);
    await settle();
    expect(h.writer.commits).toHaveLength(1);
    // …and new input, once quiet again, does.
    h.push(3);
    await settle();
    h.setNow(650);
    vi.advanceTimersByTime(100);
    await settle();
    expect(h.writer.commits).toHaveLength(1); // read 50 ms ago: not quiet
    h.setNow(800);
    vi.advanceTimersByTime(100);
    await settle();
    expect(h.writer.commits).toHaveLength(2);
    expect(part0(h, 1).forecasts.map(key)).toEqual(steps(2, 2));
    expect(part0(h, 1).position?.offset).toBe('4');
    await h.finish();
    expectEachForecastCommittedOnce(h);
  });
  // A batch that fills up in the middle of a record used to carry the checkpoint: the position
  // then counted the whole record while the state had taken only part of it.
  it('cuts checkpoints between records only: a record of several points is never split', async () => {
    const h = await harness({ holds: false });
    const series = ['s0', 's1', 's2', 's3'];
    const many = (i: number): Ingested => ({
      points: series.map((s) => ({ series: s, ts: i * STEP + 1000, value: i })),
      deadLetters: [],
      position: { topic: TOPIC, partition: 0, offset: String(i + 1) },
    });
    h.source.push(many(0));
    await settle();
    // Due now; the next record closes minute 0 of four series, one batch each (maxSize 1).
    h.setNow(INTERVAL);
    h.source.push(many(1));
    await settle(20);
    expect(h.writer.commits).toHaveLength(1);
    const first = part0(h, 0);
    expect(first.position?.offset).toBe('2');
    // The whole record is in the checkpoint: every series' state has stepped minute 0.
    const lastSteps = Object.fromEntries(first.state.map((e) => [e.series, decodeSeriesState(e.value!).lastStep]));
    expect(lastSteps).toEqual(Object.fromEntries(series.map((s) => [s, 0])));
    expect(h.made.map(key).sort()).toEqual(series.map((s) => `${s}@0`));
    await h.finish();
  });

  // Steps formed before a checkpoint's cut but stepped after it are in that checkpoint (their
  // forecaster state is copied once its batch was stepped); they were marked changed again as
  // they were stepped, so the next checkpoint (at shutdown: the last one) wrote them once more.
  it('writes a series stepped once in exactly one checkpoint: the one that covers its step', async () => {
    const h = await harness({ holds: false });
    const series = ['s0', 's1', 's2', 's3'];
    const many = (i: number): Ingested => ({
      points: series.map((s) => ({ series: s, ts: i * STEP + 1000, value: i })),
      deadLetters: [],
      position: { topic: TOPIC, partition: 0, offset: String(i + 1) },
    });
    h.source.push(many(0));
    await settle();
    // Due now: the record closes minute 0 of four series (four batches formed at once, stepped one
    // after the other), and the checkpoint is cut behind them.
    h.setNow(INTERVAL);
    h.source.push(many(1));
    await settle(20);
    expect(h.writer.commits).toHaveLength(1);
    const first = part0(h, 0);
    expect(first.state.map((e) => e.series).sort()).toEqual(series);
    expect(first.state.every((e) => decodeSeriesState(e.value!).lastStep === 0)).toBe(true);
    h.writer.resolveNext();
    await settle();
    // Nothing happened since: the last checkpoint has no state to write (and so no commit at all).
    await h.finish();
    const written = h.writer.commits.flatMap((c) => c.parts.flatMap((p) => p.state.map((e) => e.series)));
    expect(written.sort()).toEqual(series);
  });
});

