import { describe, expect, it } from 'vitest';
import type { Checkpoint, Committer, SealedOutputs } from '../../../../src/connectors/committer.js';
import type { Ingested } from '../../../../src/domain/ingested.js';
import type { DeadLetter } from '../../../../src/domain/deadLetter.js';
import type { Forecast } from '../../../../src/domain/forecast.js';
import { BatchCheckpoints } from '../../../../src/runtime/checkpoint/batchCheckpoints.js';

class RecordingCommitter implements Committer {
  readonly held = 0;
  readonly log: string[] = [];
  readonly commits: Checkpoint[] = [];
  async write(forecasts: readonly Forecast[]): Promise<void> {
    this.log.push(`write ${forecasts.map((f) => f.series).join(',')}`);
  }
  seal(): SealedOutputs {
    this.log.push('seal');
    return { partitions: new Set() };
  }
  async commit(c: Checkpoint): Promise<readonly number[]> {
    this.log.push(`commit${c.final ? ' final' : ''}`);
    this.commits.push(c);
    return [];
  }
  async acquire(): Promise<void> {}
  async release(): Promise<void> {}
}

const rec = (partition: number, offset: string): Ingested => ({ points: [], deadLetters: [], position: { topic: 'f', partition, offset } });
const forecast = (series: string): Forecast => ({ series, ts: 0, step: 60_000, forecast: [], model: { name: 'm', version: 0, kind: 'baseline' }, imputed: false });
const letter: DeadLetter = { reason: 'invalid_json', message: 'x', source: { topic: 'f', partition: 0, offset: '1', key: null }, payload: '{' };

describe('BatchCheckpoints', () => {
  it('commits every batch once it is stepped: its forecasts written first, then the positions read when it formed', async () => {
    const committer = new RecordingCommitter();
    const cps = new BatchCheckpoints(committer);
    cps.record(rec(0, '1'));
    cps.record(rec(1, '1'));
    const batch = { steps: [] };
    cps.context.onBatchFormed!(batch);
    cps.record(rec(0, '2')); // read after the batch formed: not covered by it
    cps.deadLetters([letter]);
    await cps.afterStep(batch, [forecast('a')]);
    expect(committer.log).toEqual(['write a', 'seal', 'commit']);
    const [c] = committer.commits;
    expect(c!.parts.map((p) => [p.partition, p.position?.offset])).toEqual([
      [0, '1'],
      [1, '1'],
    ]);
    expect(c!.parts.find((p) => p.partition === 0)!.deadLetters).toEqual([letter]);

    // The last checkpoint: what was read since, flushed (final), once however often asked.
    await Promise.all([cps.finish(), cps.finish()]);
    expect(committer.log.slice(3)).toEqual(['seal', 'commit final']);
    expect(committer.commits[1]!.parts.map((p) => [p.partition, p.position?.offset])).toEqual([[0, '2']]);
  });

  it('skips the commit of a batch that brings nothing new', async () => {
    const committer = new RecordingCommitter();
    const cps = new BatchCheckpoints(committer);
    cps.record(rec(0, '1'));
    const a = { steps: [] };
    const b = { steps: [] };
    cps.context.onBatchFormed!(a);
    cps.context.onBatchFormed!(b);
    await cps.afterStep(a, []);
    await cps.afterStep(b, []);
    expect(committer.commits).toHaveLength(1);
  });
});
