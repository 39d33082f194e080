import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { createBaseline } from '../../../src/forecasting/baseline/createBaseline.js';
import { createPipelineCores, type PipelineStateCores } from '../../../src/pipeline/build.js';
import type { ForecasterState } from '../../../src/state/seriesStateStore.js';

type TestStore = SeriesStateStore<ForecasterState, PipelineStateCores<ForecasterState>>;
import { parseSpec } from '../../../src/spec/loadSpec.js';
import { SeriesStateStore, type EncodedState, type StateBounds } from '../../../src/state/seriesStateStore.js';
import { SeriesHistory } from '../../../src/state/seriesHistory.js';

const STEP = 60_000;
const base = {
  name: 'bounds-test',
  input: { topic: 'in' },
  output: { topic: 'out' },
  window: { step: '1m', lateness: '1m', idleClose: '5m' },
  impute: { strategy: 'ffill', maxGap: '30m' },
  model: { type: 'baseline', horizon: 3, quantiles: [0.1, 0.5, 0.9] },
  baseline: { type: 'last-value', season: '1h' },
};

function store(bounds: StateBounds, now: { t: number }): TestStore {
  const spec = parseSpec(base);
  const forecaster = createBaseline({ type: 'last-value', seasonMs: 3_600_000 }, { name: 'bounds-test', stepMs: STEP, horizon: 3, quantiles: [0.1, 0.5, 0.9] });
  const s = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster }, now: () => now.t, bounds });
  s.own([0, 1]);
  return s;
}

/** A point of `series` read at clock time `at`, as the checkpoint coordinator and pipeline see it. */
function point(s: TestStore, series: string, at: number, partition = 0): void {
  s.touch(series, partition, at);
  s.cores.resampler.push({ series, ts: at, value: 1 }, at);
}

/** What a compacted changelog holds after these checkpoints: the newest value per key, tombstones delete. */
function compact(checkpoints: readonly (readonly EncodedState[])[]): Map<string, EncodedState> {
  const out = new Map<string, EncodedState>();
  for (const c of checkpoints) for (const e of c) (e.value === null ? out.delete(e.series) : out.set(e.series, e));
  return out;
}

describe('state.maxSeries', () => {
  it('evicts the least recently seen series for a new one, everywhere, and tombstones its changelog key', () => {
    const now = { t: 0 };
    const s = store({ maxSeries: 2 }, now);
    const dropped: string[] = [];
    s.onDrop((series) => dropped.push(series));
    point(s, 'a', 0);
    point(s, 'b', 1000);
    const first = s.finish(s.captureUpstream());
    point(s, 'a', 2000); // a is seen again: b is now the least recently seen
    point(s, 'c', 3000);
    expect(s.size).toBe(2);
    expect(s.partitionOf('b')).toBeUndefined();
    expect(s.cores.resampler.snapshot('b')).toBeUndefined();
    expect(s.cores.resampler.snapshot('a')).toBeDefined();
    expect(dropped).toEqual(['b']);
    expect(s.takeEvictions()).toEqual({ ttl: 0, max_series: 1 });
    const second = s.finish(s.captureUpstream());
    expect(second.find((e) => e.series === 'b')).toEqual({ series: 'b', partition: 0, value: null });
    // A restore from the changelog agrees with the live state: b is not resurrected.
    expect([...compact([first, second]).keys()].sort()).toEqual(['a', 'c']);
  });

  it('writes no tombstone for a series that came back before the next checkpoint', () => {
    const now = { t: 0 };
    const s = store({ maxSeries: 1 }, now);
    point(s, 'a', 0);
    point(s, 'b', 1);
    point(s, 'a', 2);
    const out = s.finish(s.captureUpstream());
    expect(out.map((e) => [e.series, e.value === null])).toEqual([['b', true], ['a', false]]);
  });
});

describe('state.ttl', () => {
  it('expires series with no point for ttl (clock time), oldest first, and tombstones them', () => {
    const now = { t: 0 };
    const s = store({ ttlMs: 10 * STEP }, now);
    point(s, 'a', 0);
    point(s, 'b', 5 * STEP, 1);
    point(s, 'c', 6 * STEP);
    point(s, 'a', 7 * STEP); // a is fresh again
    const first = s.finish(s.captureUpstream());
    expect(s.expire(15.5 * STEP)).toBe(1);
    expect(s.partitionOf('b')).toBeUndefined();
    expect(s.partitionOf('a')).toBe(0);
    expect(s.takeEvictions()).toEqual({ ttl: 1, max_series: 0 });
    const second = s.finish(s.captureUpstream());
    expect(second).toEqual([{ series: 'b', partition: 1, value: null }]);
    expect([...compact([first, second]).keys()].sort()).toEqual(['a', 'c']);
    expect(s.expire(100 * STEP)).toBe(2);
    expect(s.size).toBe(0);
  });

  it('does nothing without bounds', () => {
    const now = { t: 0 };
    const s = store({}, now);
    for (let i = 0; i < 100; i++) point(s, `s${i}`, i);
    expect(s.expire(1e12)).toBe(0);
    expect(s.size).toBe(100);
    expect(s.finish(s.captureUpstream()).every((e) => e.value !== null)).toBe(true);
  });
});

describe('spec state bounds', () => {
  it('parses maxSeries and ttl (ms), unbounded by default', () => {
    expect(parseSpec(base).state).toEqual({});
    expect(parseSpec({ ...base, state: { maxSeries: 500_000, ttl: '1d' } }).state).toEqual({ maxSeries: 500_000, ttl: 86_400_000 });
  });

  it('rejects bad bounds with the field and a fix', () => {
    const bad = (state: unknown) => {
      try {
        parseSpec({ ...base, state });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ maxSeries: 0 })).toMatch(/state\.maxSeries.*at least 1/);
    expect(bad({ maxSeries: 1.5 })).toMatch(/state\.maxSeries.*whole number/);
    expect(bad({ ttl: '1m' })).toMatch(/state\.ttl.*idleClose/);
    expect(bad({ ttl: 'soon' })).toMatch(/state\.ttl.*duration/);
    expect(bad({ maxseries: 3 })).toMatch(/state/);
  });
});

describe('SeriesHistory memory', () => {
  it('holds a few steps of a short series in a few bytes, not a buffer of the full capacity', () => {
    const h = new SeriesHistory({ stepMs: STEP, capacity: 10_000 });
    const empty = h.bytes;
    for (let i = 0; i < 1000; i++) h.append({ series: `s${i}`, ts: 0, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: true, z: 0, scale: { mean: 1, std: 1 } });
    expect((h.bytes - empty) / 1000).toBeLessThan(200);
    for (let i = 0; i < 1000; i++) h.drop(`s${i}`);
    expect((h.bytes - empty) / 1000).toBeLessThan(200);
  });
});
