import { describe, expect, it } from 'vitest';
import { AtLeastOnceCommitter } from '../../../src/connectors/atLeastOnceCommitter.js';
import type { PartitionCheckpoint } from '../../../src/connectors/committer.js';
import type { Sink } from '../../../src/connectors/sink.js';
import type { Position } from '../../../src/domain/position.js';
import type { DeadLetter } from '../../../src/domain/deadLetter.js';
import type { Forecast } from '../../../src/domain/forecast.js';
import type { EncodedState } from '../../../src/state/seriesStateStore.js';

/** Every sink and offset call, in the order made, into one log. */
function harness(failOn?: string) {
  const log: string[] = [];
  const sink = <T>(name: string): Sink<T> => ({
    name,
    write: async (items) => {
      log.push(`${name}.write(${items.length})`);
      if (failOn === `${name}.write`) throw new Error(`${name} write failed`);
    },
    flush: async () => {
      // An acknowledgement arrives later than the call: a committer that does not wait for it would log out of order.
      await new Promise((r) => setImmediate(r));
      log.push(`${name}.flush`);
      if (failOn === `${name}.flush`) throw new Error(`${name} flush failed`);
    },
    close: async () => undefined,
  });
  const committer = new AtLeastOnceCommitter({
    sinks: { forecasts: sink<Forecast>('forecasts'), deadLetters: sink<DeadLetter>('deadLetters'), state: sink<EncodedState>('state') },
    offsets: {
      commit: async (positions: readonly Position[]) => {
        log.push(`offsets(${positions.map((p) => `${p.partition}@${p.offset}`).join(',')})`);
      },
    },
  });
  return { committer, log };
}

const forecast = (series: string): Forecast => ({ series, ts: 0, step: 60_000, forecast: [], model: { name: 'm', version: 0, kind: 'baseline' }, imputed: false });
const letter = (partition: number): DeadLetter => ({ reason: 'invalid_json', message: 'x', source: { topic: 'in', partition, offset: '1', key: null }, payload: '{' });
const part = (partition: number, offset: string, extra: Partial<PartitionCheckpoint> = {}): PartitionCheckpoint => ({
  partition,
  deadLetters: [],
  state: [{ series: `s${partition}`, partition, value: new Uint8Array([1]) }],
  position: { topic: 'in', partition, offset },
  advances: true,
  ...extra,
});

describe('AtLeastOnceCommitter', () => {
  it('sends forecasts as they are written: written and flushed before the write resolves', async () => {
    const { committer, log } = harness();
    await committer.write([forecast('a'), forecast('b')]);
    expect(log).toEqual(['forecasts.write(2)', 'forecasts.flush']);
    expect(committer.held).toBe(0);
    expect(committer.seal().partitions.size).toBe(0);
  });

  it('commits in order: dead letters written, outputs acknowledged, state written and acknowledged, then offsets', async () => {
    const { committer, log } = harness();
    await committer.write([forecast('a')]);
    log.length = 0;
    const outputs = committer.seal();
    const lost = await committer.commit({ outputs, final: false, parts: [part(0, '7', { deadLetters: [letter(0)] }), part(1, '3')] });
    expect(lost).toEqual([]);
    expect(log).toEqual(['deadLetters.write(1)', 'forecasts.flush', 'deadLetters.flush', 'state.write(2)', 'state.flush', 'offsets(0@7,1@3)']);
  });

  it('commits no offset when the state cannot be acknowledged', async () => {
    const { committer, log } = harness('state.flush');
    await expect(committer.commit({ outputs: committer.seal(), final: false, parts: [part(0, '7')] })).rejects.toThrow('state flush failed');
    expect(log.some((l) => l.startsWith('offsets'))).toBe(false);
  });

  it('commits no offset when outputs cannot be acknowledged', async () => {
    const { committer, log } = harness('forecasts.flush');
    await expect(committer.commit({ outputs: committer.seal(), final: false, parts: [part(0, '7')] })).rejects.toThrow('forecasts flush failed');
    expect(log).toEqual(['forecasts.flush']);
  });

  it('does not commit again an offset that does not advance (a part with only state): the group may be rejoining meanwhile', async () => {
    const { committer, log } = harness();
    await committer.commit({ outputs: committer.seal(), final: false, parts: [part(0, '7', { advances: false }), part(1, '3')] });
    expect(log.filter((l) => l.startsWith('offsets'))).toEqual(['offsets(1@3)']);
    expect(log).toContain('state.write(2)');
  });

  it('commits a part without a position (nothing read) without an offset commit', async () => {
    const { committer, log } = harness();
    await committer.commit({ outputs: committer.seal(), final: true, parts: [part(0, '1', { position: undefined })] });
    expect(log.filter((l) => l.startsWith('offsets'))).toEqual([]);
    expect(log).toContain('state.write(1)');
  });
});
