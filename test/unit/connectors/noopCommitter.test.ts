import { describe, expect, it } from 'vitest';
import { MemorySink } from '../../../src/connectors/memory/memorySink.js';
import { NoopCommitter } from '../../../src/connectors/noopCommitter.js';
import type { Position } from '../../../src/domain/position.js';
import type { DeadLetter } from '../../../src/domain/deadLetter.js';
import type { Forecast } from '../../../src/domain/forecast.js';

const forecast = (series: string): Forecast => ({ series, ts: 0, step: 60_000, forecast: [], model: { name: 'm', version: 0, kind: 'baseline' }, imputed: false });
const letter: DeadLetter = { reason: 'invalid_json', message: 'x', source: { topic: 'f.csv', partition: 0, offset: '1', key: null }, payload: '{' };

describe('NoopCommitter', () => {
  it('writes forecasts and dead letters to its sinks, reports positions to the source, and flushes only at the last checkpoint', async () => {
    const forecasts = new MemorySink<Forecast>();
    const deadLetters = new MemorySink<DeadLetter>();
    const committed: Position[] = [];
    const committer = new NoopCommitter({ forecasts, deadLetters, source: { commit: async (ps) => void committed.push(...ps) } });
    await committer.write([forecast('a')]);
    const position = { topic: 'f.csv', partition: 0, offset: '2' };
    await committer.commit({ outputs: committer.seal(), final: false, parts: [{ partition: 0, deadLetters: [letter], state: [], position, advances: true }] });
    expect(forecasts.items.map((f) => f.series)).toEqual(['a']);
    expect(deadLetters.items).toEqual([letter]);
    expect(committed).toEqual([position]);
    expect(forecasts.flushes + deadLetters.flushes).toBe(0);
    await committer.commit({ outputs: committer.seal(), final: true, parts: [] });
    expect([forecasts.flushes, deadLetters.flushes]).toEqual([1, 1]);
    expect(forecasts.closed || deadLetters.closed).toBe(false); // their owner closes them
  });
});
