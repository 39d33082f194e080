import { describe, expect, it } from 'vitest';
import type { SeriesId } from '../../../../src/domain/point.js';
import { createBaseline } from '../../../../src/forecasting/baseline/createBaseline.js';
import { createPipelineCores, type PipelineStateCores } from '../../../../src/pipeline/build.js';
import { parseSpec } from '../../../../src/spec/loadSpec.js';
import type { CheckpointReader } from '../../../../src/connectors/checkpointReader.js';
import { NoopCommitter } from '../../../../src/connectors/noopCommitter.js';
import { MemorySink } from '../../../../src/connectors/memory/memorySink.js';
import { CheckpointCoordinator } from '../../../../src/runtime/checkpoint/checkpointCoordinator.js';
import { type EncodedState, SeriesStateStore } from '../../../../src/state/seriesStateStore.js';
import { stateShapeOf } from '../../../../src/state/stateShape.js';
import { baselineOptions, forecasterOptions } from '../../../../src/spec/specOptions.js';
import type { Forecaster } from '../../../../src/forecasting/forecaster.js';

const specWith = (window: Record<string, unknown>, model: Record<string, unknown> = {}) =>
  parseSpec({
    name: 'respec',
    input: { topic: 'in' },
    output: { topic: 'out' },
    window: { step: '1m', ...window },
    impute: { strategy: 'ffill', maxGap: '1h' },
    model: { type: 'baseline', horizon: 2, quantiles: [0.1, 0.5, 0.9], ...model },
    baseline: { type: 'seasonal-naive', season: '1h' },
  });

function storeFor(spec: ReturnType<typeof specWith>): SeriesStateStore<Forecaster, PipelineStateCores<Forecaster>> {
  const forecaster = createBaseline(baselineOptions(spec), forecasterOptions(spec));
  const store = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster }, shape: stateShapeOf(spec), now: () => 0 });
  store.own([0]);
  return store;
}

/** The frames a store under `spec` writes for `n` series after 30 steps each. */
function framesUnder(spec: ReturnType<typeof specWith>, n = 2): EncodedState[] {
  const store = storeFor(spec);
  const { resampler, imputer, normalizer, forecaster } = store.cores;
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < 30; i++) {
      store.touch(`s${s}`, 0);
      const { steps } = resampler.push({ series: `s${s}`, ts: i * spec.window.step + 1000, value: i }, i);
      const normalized = steps.flatMap((c) => imputer.push(c)).map((x) => normalizer.push(x));
      forecaster.step(normalized);
      store.stepped(normalized);
    }
  }
  return store.finish(store.captureUpstream());
}

/** Restores `frames` through a coordinator (as a partition assignment does) and returns its log lines. */
async function restoreLogged(store: SeriesStateStore<Forecaster, PipelineStateCores<Forecaster>>, frames: readonly EncodedState[]) {
  const lines: Array<{ level: string; msg: string; obj: unknown }> = [];
  const at = (level: string) => (obj: unknown, msg?: string) => lines.push({ level, msg: msg ?? '', obj });
  const reader: CheckpointReader = {
    readChangelog: async (_ps: readonly number[], onRecord: (series: SeriesId, value: Uint8Array | null, partition: number) => void) => {
      for (const f of frames) onRecord(f.series, f.value, f.partition);
      return frames.length;
    },
    committedOffset: async () => '30',
  };
  const coordinator = new CheckpointCoordinator({
    store,
    committer: new NoopCommitter({ forecasts: new MemorySink(), deadLetters: new MemorySink(), source: { commit: async () => undefined } }),
    reader,
    events: () => undefined,
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as never,
    intervalMs: 1000,
  });
  await coordinator.partitionReady(0);
  coordinator.stop();
  return lines;
}

describe('restoring state written under another spec', () => {
  it('window.step changed: the series start afresh, and a warning names the field, old → new', async () => {
    const store = storeFor(specWith({ step: '5m' }));
    const lines = await restoreLogged(store, framesUnder(specWith({ step: '1m' })));
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]!.msg).toContain('state of partition 0 was written under another spec: window.step 1m → 5m (2 series start afresh)');
    expect(warns[0]!.obj).toMatchObject({ partition: 0, changes: [{ field: 'window.step', old: '1m', new: '5m', drops: 'all', series: 2 }] });
    expect(store.size).toBe(0);
    expect(store.cores.resampler.snapshot('s0')).toBeUndefined();
    expect(lines.find((l) => l.level === 'info')?.msg).toMatch(/2 voided by a spec change/);
  });

  it('model.horizon changed: pipeline state restored, the forecaster re-warms, a warning says so', async () => {
    const store = storeFor(specWith({}, { horizon: 4 }));
    const lines = await restoreLogged(store, framesUnder(specWith({})));
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns.map((w) => w.msg)).toEqual([expect.stringContaining('model.horizon 2 → 4 (2 series re-warm their forecaster)')]);
    expect(store.size).toBe(2);
    expect(store.cores.resampler.snapshot('s0')).toBeDefined();
    expect(store.cores.forecaster.snapshot('s0')).toBeUndefined();
  });

  it('baseline.season changed: named too', () => {
    const store = storeFor({ ...specWith({}), baseline: { type: 'seasonal-naive', season: 7_200_000 } });
    for (const f of framesUnder(specWith({}))) expect(store.restore(f.series, f.partition, f.value!)).toBe('rewarm');
    expect(store.takeSpecChanges(0)).toEqual([{ field: 'baseline.season', old: '1h', new: '2h', drops: 'forecaster', series: 2 }]);
  });

  it('changes that state survives (quantiles, lateness, maxJump) restore quietly', async () => {
    const store = storeFor(specWith({ lateness: '2m', maxJump: '2d' }, { quantiles: [0.05, 0.5, 0.95] }));
    const lines = await restoreLogged(store, framesUnder(specWith({})));
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(store.size).toBe(2);
    expect(store.cores.forecaster.snapshot('s0')).toBeDefined();
  });
});
