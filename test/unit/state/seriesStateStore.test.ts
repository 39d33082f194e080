import { describe, expect, it } from 'vitest';
import { createBaseline } from '../../../src/forecasting/baseline/createBaseline.js';
import type { Forecaster } from '../../../src/forecasting/forecaster.js';
import { createPipelineCores, type PipelineStateCores } from '../../../src/pipeline/build.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import { createForecaster } from '../../../src/forecasting/createForecaster.js';
import { SeriesRegistry } from '../../../src/state/seriesRegistry.js';
import { SeriesStateStore } from '../../../src/state/seriesStateStore.js';
import { decodeSeriesState, encodeSeriesState } from '../../../src/state/stateCodec.js';

const spec = parseSpec({
  name: 'store-test',
  input: { topic: 'in' },
  output: { topic: 'out' },
  deadLetter: { topic: 'dlq' },
  window: { step: '1m', aggregate: 'mean', lateness: '2m', idleClose: '5m' },
  impute: { strategy: 'ffill', maxGap: '30m' },
  normalize: { method: 'zscore', halfLife: '1d' },
  model: { type: 'gru', hidden: 8, context: 16, horizon: 3, quantiles: [0.1, 0.5, 0.9] },
  baseline: { type: 'seasonal-naive', season: '1h' },
});

function forecaster(kind: 'last-value' | 'seasonal-naive'): Forecaster {
  return createBaseline({ type: kind, seasonMs: 3_600_000 }, { name: 'store-test', stepMs: 60_000, horizon: 3, quantiles: [0.1, 0.5, 0.9] });
}

/** Feeds `n` steps of series `s` through the store's cores the way the pipeline does. */
function feed(store: SeriesStateStore<Forecaster, PipelineStateCores<Forecaster>>, s: string, from: number, n: number): void {
  const { resampler, imputer, normalizer, forecaster: f } = store.cores;
  for (let i = from; i < from + n; i++) {
    store.touch(s, 0);
    const { steps } = resampler.push({ series: s, ts: i * 60_000 + 1000, value: Math.sin(i / 5) * 10 }, i);
    const normalized = steps.flatMap((c) => imputer.push(c)).map((x) => normalizer.push(x));
    f.step(normalized);
    store.stepped(normalized);
  }
}

function storeWith(f: Forecaster): SeriesStateStore<Forecaster, PipelineStateCores<Forecaster>> {
  const store = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster: f }, now: () => 42 });
  store.own([0]);
  return store;
}

describe('SeriesStateStore', () => {
  it('captures dirty series once, and a restored store continues exactly like the original', () => {
    const a = storeWith(forecaster('seasonal-naive'));
    feed(a, 'x', 0, 50);
    feed(a, 'y', 0, 10);
    const encoded = a.finish(a.captureUpstream());
    expect(encoded.map((e) => e.series).sort()).toEqual(['x', 'y']);
    expect(a.dirtyCount()).toBe(0);
    expect(a.finish(a.captureUpstream())).toEqual([]);

    const b = storeWith(forecaster('seasonal-naive'));
    for (const e of encoded) expect(b.restore(e.series, e.partition, e.value!)).toBe('restored');
    // Same next steps in both: identical forecasts prove identical state.
    const next = (store: SeriesStateStore<Forecaster, PipelineStateCores<Forecaster>>) => {
      const { resampler, imputer, normalizer, forecaster: f } = store.cores;
      const out = [];
      for (let i = 50; i < 60; i++) {
        const { steps } = resampler.push({ series: 'x', ts: i * 60_000 + 1000, value: i }, 100);
        out.push(...f.step(steps.flatMap((c) => imputer.push(c)).map((x) => normalizer.push(x))));
      }
      return out;
    };
    expect(next(b)).toEqual(next(a));
    // The idle timer restarts at restore time.
    expect(b.cores.resampler.snapshot('y')?.lastArrival).toBe(42);
  });

  it('re-warms (does not restore) forecaster state of another kind or model version, keeping the pipeline cores', () => {
    const a = storeWith(forecaster('seasonal-naive'));
    feed(a, 'x', 0, 30);
    const [e] = a.finish(a.captureUpstream());
    const other = storeWith(forecaster('last-value'));
    expect(other.restore('x', 0, e!.value!)).toBe('rewarm');
    expect(other.cores.forecaster.snapshot('x')).toBeUndefined();
    expect(other.cores.normalizer.snapshot('x')).toEqual(a.cores.normalizer.snapshot('x'));

    const bumped = encodeSeriesState({ ...decodeSeriesState(e!.value!), model: { kind: 'baseline', version: 99 } });
    const same = storeWith(forecaster('seasonal-naive'));
    expect(same.restore('x', 0, bumped)).toBe('rewarm');
    expect(same.cores.forecaster.snapshot('x')).toBeUndefined();
  });

  it('drops a series whose frame is unreadable, and drops revoked partitions and their in-flight series', () => {
    const s = storeWith(forecaster('seasonal-naive'));
    expect(s.restore('x', 0, new Uint8Array([1, 2, 3]))).toBe('invalid');
    expect(s.size).toBe(0);
    feed(s, 'x', 0, 5);
    expect(s.dropPartitions([0])).toBe(1);
    expect(s.cores.resampler.snapshot('x')).toBeUndefined();
    feed(s, 'x', 5, 3); // steps still in flight for the revoked partition
    const cap = s.captureUpstream();
    expect(cap.series.size).toBe(0);
    expect(cap.dropped).toBe(1);
    expect(s.cores.forecaster.snapshot('x')).toBeUndefined();
  });
  it('encodes frozen states as they were when frozen, however far the series moved on since', () => {
    const a = storeWith(forecaster('seasonal-naive'));
    feed(a, 'x', 0, 40);
    feed(a, 'y', 0, 40);
    const cap = a.captureUpstream();
    const reference = a.finish(cap).map((e) => ({ series: e.series, value: e.value!.slice() }));
    const frozen = a.freeze(cap);
    // The pipeline goes on before the frames are encoded (at-least-once encodes in slices).
    feed(a, 'x', 40, 5);
    feed(a, 'y', 40, 5);
    const late = [...a.encode(frozen, 0, 1), ...a.encode(frozen, 1)];
    expect(late.map((e) => ({ series: e.series, value: e.value }))).toEqual(reference);
    // …while the series had indeed moved on.
    const current = a.finish(a.captureUpstream()).find((e) => e.series === late[0]!.series)!;
    expect(decodeSeriesState(current.value!).lastStep).toBe(decodeSeriesState(late[0]!.value!).lastStep! + 5 * 60_000);
  });

  it('marks a series changed when the cores emit its step, not again when the forecaster consumes it', () => {
    const a = storeWith(forecaster('seasonal-naive'));
    feed(a, 'x', 0, 3);
    a.finish(a.captureUpstream());
    expect(a.dirtyCount()).toBe(0);
    // An idle close: a step of a series no point touched since the last checkpoint.
    const { resampler, imputer, normalizer, forecaster: f } = a.cores;
    const closed = resampler.closeIdle(Number.POSITIVE_INFINITY);
    const normalized = closed.flatMap((c) => imputer.push(c)).map((x) => normalizer.push(x));
    // lateness 2m: the last three minutes were open.
    expect(normalized.map((n) => n.series)).toEqual(['x', 'x', 'x']);
    a.emitted(normalized);
    expect(a.dirtyCount()).toBe(1);
    const cap = a.captureUpstream();
    f.step(normalized);
    a.stepped(normalized);
    expect(a.dirtyCount()).toBe(0);
    expect(decodeSeriesState(a.finish(cap)[0]!.value!).lastStep).toBe(normalized.at(-1)!.ts);
  });

  it('freezes in slices exactly what it freezes at once', () => {
    const a = storeWith(forecaster('seasonal-naive'));
    for (let i = 0; i < 7; i++) feed(a, `s${i}`, 0, 5);
    const cap = a.captureUpstream();
    const slices = [...a.freezeSlices(cap, 3)];
    expect(slices.map((x) => x.length)).toEqual([3, 3, 1]);
    expect(a.encode(slices.flat())).toEqual(a.encode(a.freeze(cap)));
  });

  it('on one shared registry: the same frames as with separate indexes, and one drop forgets a series everywhere', () => {
    const registry = new SeriesRegistry();
    const shared = new SeriesStateStore({ cores: { ...createPipelineCores(spec, registry), forecaster: createForecaster(spec, { registry }) }, now: () => 42, registry });
    const apart = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster: createForecaster(spec) }, now: () => 42 });
    const dropped: string[] = [];
    shared.onDrop((series) => dropped.push(series));
    for (const store of [shared, apart]) {
      store.own([0]);
      for (const x of ['a', 'b', 'c']) feed(store, x, 0, 40);
    }
    const frames = (store: SeriesStateStore) => store.finish(store.captureUpstream()).map((e) => [e.series, e.partition, Array.from(e.value ?? [])]);
    expect(frames(shared)).toEqual(frames(apart));
    // One slot per series, whichever structures hold it.
    expect(registry.size).toBe(3);
    expect(shared.dropPartitions([0])).toBe(3);
    expect(dropped).toEqual(['a', 'b', 'c']);
    expect(registry.size).toBe(0);
    const { resampler, imputer, normalizer, forecaster: f } = shared.cores;
    for (const x of ['a', 'b', 'c']) {
      expect(resampler.snapshot(x)).toBeUndefined();
      expect(imputer.snapshot(x)).toBeUndefined();
      expect(normalizer.snapshot(x)).toBeUndefined();
      expect(f.snapshot(x)).toBeUndefined();
    }
    // A registry drop reaches the forecaster's history without the store calling it.
    feed(shared, 'd', 0, 10);
    const runtime = f as ReturnType<typeof createForecaster>;
    expect(runtime.history.lengthOf('d')).toBeGreaterThan(0);
    registry.drop('d');
    expect(runtime.history.lengthOf('d')).toBe(0);
    expect(imputer.snapshot('d')).toBeUndefined();
  });
});
