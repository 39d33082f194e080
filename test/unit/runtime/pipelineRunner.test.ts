import { describe, expect, it } from 'vitest';
import { MemorySource } from '../../../src/connectors/memory/memorySource.js';
import type { Source } from '../../../src/connectors/source.js';
import type { Ingested } from '../../../src/domain/ingested.js';
import { ManualClock } from '../../../src/domain/clock.js';
import type { DeadLetter } from '../../../src/domain/deadLetter.js';
import type { Forecast } from '../../../src/domain/forecast.js';
import { createBaseline } from '../../../src/forecasting/baseline/createBaseline.js';
import type { PipelineContext, StepBatch } from '../../../src/pipeline/build.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import type { Checkpoints } from '../../../src/runtime/checkpoint/checkpoints.js';
import { PipelineRunner } from '../../../src/runtime/pipelineRunner.js';

const STEP = 60_000;

// One step per batch (maxSize 1), a point of minute i closes minute i - 1, a forecast for every step.
const spec = parseSpec({
  name: 'runner',
  input: { topic: 'in' },
  output: { topic: 'out' },
  window: { step: '1m' },
  impute: { strategy: 'ffill', maxGap: '1h' },
  model: { type: 'baseline', horizon: 2, quantiles: [0.1, 0.5, 0.9] },
  baseline: { type: 'last-value', season: '1h' },
  batch: { maxSize: 1, maxWait: '20ms' },
});

const rec = (i: number, deadLetters: readonly DeadLetter[] = []): Ingested => ({
  points: [{ series: 'a', ts: i * STEP + 1000, value: i }],
  deadLetters,
  position: { topic: 'in', partition: 0, offset: String(i + 1) },
});

/** Checkpoints that log what the runner hands them; `gate` holds afterStep until the test opens it. */
class FakeCheckpoints implements Checkpoints {
  readonly log: string[] = [];
  readonly letters: DeadLetter[] = [];
  gate: Promise<void> = Promise.resolve();
  private failWith?: (err: unknown) => void;
  get context(): Pick<PipelineContext, 'onBatchFormed'> {
    return { onBatchFormed: (b) => this.log.push(`formed ${b.steps.map((s) => s.ts / STEP).join(',')}`) };
  }
  record(r: Ingested): void {
    this.log.push(`record ${r.position.offset}`);
  }
  deadLetters(letters: readonly DeadLetter[]): void {
    this.letters.push(...letters);
  }
  async afterStep(batch: StepBatch, forecasts: readonly Forecast[]): Promise<void> {
    this.log.push(`afterStep ${batch.steps.map((s) => s.ts / STEP).join(',')} → ${forecasts.map((f) => f.ts / STEP).join(',')}`);
    await this.gate;
  }
  onFailure(listener: (err: unknown) => void): void {
    this.failWith = listener;
  }
  fail(err: unknown): void {
    this.failWith?.(err);
  }
  async finish(): Promise<void> {
    this.log.push('finish');
  }
}

/** A memory source whose pause, resume and close are logged. */
function loggedSource(log: string[]): { source: Source; memory: MemorySource } {
  const memory = new MemorySource({ name: 'in' });
  const source: Source = {
    name: memory.name,
    records: () => memory.records(),
    start: () => memory.start(),
    stop: () => memory.stop(),
    pause: () => {
      log.push('pause');
      memory.pause();
    },
    resume: () => {
      log.push('resume');
      memory.resume();
    },
    commit: async () => {
      throw new Error('the runner commits through its checkpoints only');
    },
    close: async () => {
      log.push('close');
    },
  };
  return { source, memory };
}

function runner(checkpoints: Checkpoints, source: Source, onBatch?: (n: number) => void, maxInFlightBatches?: number) {
  const forecaster = createBaseline({ type: 'last-value', seasonMs: 3_600_000 }, { name: 'runner', stepMs: STEP, horizon: 2, quantiles: [0.1, 0.5, 0.9] });
  return new PipelineRunner({
    spec,
    source,
    forecaster,
    clock: new ManualClock(0),
    events: () => undefined,
    checkpoints,
    pipeline: { flushOnComplete: false },
    ...(onBatch ? { onBatch: (_s, f) => onBatch(f.length) } : {}),
    ...(maxInFlightBatches !== undefined ? { maxInFlightBatches } : {}),
  });
}

const settle = async (turns = 10) => {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
};

describe('PipelineRunner', () => {
  it('hands every record, then each batch once stepped (after onBatch), then the last checkpoint, then closes the input', async () => {
    const cps = new FakeCheckpoints();
    const { source, memory } = loggedSource(cps.log);
    const r = runner(cps, source, (n) => cps.log.push(`onBatch ${n}`));
    const done = r.run();
    memory.push(rec(0));
    memory.push(rec(1));
    memory.push(rec(2));
    memory.end();
    const summary = await done;
    expect(cps.log).toEqual(['record 1', 'record 2', 'formed 0', 'onBatch 1', 'afterStep 0 → 0', 'record 3', 'formed 1', 'onBatch 1', 'afterStep 1 → 1', 'finish', 'close']);
    expect(summary).toMatchObject({ batches: 2, steps: 2, forecasts: 2, deadLetters: 0, stoppedEarly: false });
  });

  it("passes the records' dead letters to the checkpoints and counts them", async () => {
    const cps = new FakeCheckpoints();
    const { source, memory } = loggedSource(cps.log);
    const done = runner(cps, source).run();
    const bad: DeadLetter = { reason: 'invalid_json', message: 'x', source: { topic: 'in', partition: 0, offset: '0', key: null }, payload: '{' };
    memory.push(rec(0, [bad]));
    memory.end();
    expect((await done).deadLetters).toBe(1);
    expect(cps.letters).toEqual([bad]);
  });

  it('stops on a failure the checkpoints report from the background, without the last checkpoint, and still closes the input', async () => {
    const cps = new FakeCheckpoints();
    const { source, memory } = loggedSource(cps.log);
    const done = runner(cps, source).run();
    memory.push(rec(0));
    await settle();
    cps.fail(new Error('commit failed'));
    await expect(done).rejects.toThrow('commit failed');
    expect(cps.log).not.toContain('finish');
    expect(cps.log.at(-1)).toBe('close');
  });

  it('pauses the input while too many batches wait for their checkpoints, and resumes it once they drain', async () => {
    const cps = new FakeCheckpoints();
    let open!: () => void;
    cps.gate = new Promise((resolve) => (open = resolve));
    const { source, memory } = loggedSource(cps.log);
    const done = runner(cps, source, undefined, 2).run();
    for (let i = 0; i < 5; i++) memory.push(rec(i));
    await settle();
    expect(cps.log).toContain('pause');
    expect(cps.log).not.toContain('resume');
    open();
    await settle();
    expect(cps.log.filter((l) => l === 'resume').length).toBeGreaterThan(0);
    memory.end();
    expect((await done).forecasts).toBe(4);
  });
});
