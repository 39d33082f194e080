import { describe, expect, it } from 'vitest';
import { StreamcastError } from '../../../src/domain/errors.js';
import { ModelRuntime } from '../../../src/forecasting/modelRuntime.js';
import type { LogSink } from '../../../src/observability/logger.js';
import { PeerHistory } from '../../../src/runtime/peerHistory.js';
import type { ChangelogRead } from '../../../src/runtime/peerHistory.js';
import { encodeSeriesState } from '../../../src/state/stateCodec.js';
import { stateShapeOf } from '../../../src/state/stateShape.js';
import type { StateShape } from '../../../src/state/stateShape.js';
import { runtimeSpec } from '../../helpers/runtimeSpec.js';
import { seasonalSteps } from '../../helpers/trainingSeries.js';

/**
 * PeerHistory over a fake changelog: which partitions it reads, which record of a series wins,
 * what it skips, the sample bound, and how a failed or slow read ends. Against a real broker (two
 * instances, the trainer trains on the other's series) see
 * test/integration/kafka/peerTraining.test.ts.
 */

const spec = runtimeSpec();
const CAPACITY = 500;

/** State frames as a pipeline writes them: a ModelRuntime's snapshot (history tail included) in a state frame. */
function frames(ids: readonly string[], n = 120, shape: StateShape | null = stateShapeOf(spec), snapshotHistorySteps?: number): Map<string, Uint8Array> {
  const rt = new ModelRuntime({ spec, ...(snapshotHistorySteps !== undefined ? { snapshotHistorySteps } : {}) });
  for (const [k, id] of ids.entries()) rt.step(seasonalSteps(id, { n, seed: k + 1 }));
  const out = new Map<string, Uint8Array>();
  for (const id of ids) {
    const forecaster = rt.snapshot(id)!;
    out.set(id, encodeSeriesState({ model: { kind: rt.info.kind, version: 0 }, forecaster, ...(shape !== null ? { shape } : {}) }).slice());
  }
  return out;
}

type ChangelogRecord = readonly [series: string, value: Uint8Array | null, partition: number];

/** A changelog of `records`, in order; `partitions` records which partitions were asked for. */
function fakeRead(records: readonly ChangelogRecord[], asked: number[] = [], hold?: Promise<void>): ChangelogRead {
  return async (select, onRecord) => {
    const parts = [...new Set(records.map((r) => r[2]))].filter((p) => select(p));
    asked.push(...parts);
    await hold;
    let n = 0;
    for (const [series, value, partition] of records) {
      if (!parts.includes(partition)) continue;
      onRecord(series, value, partition);
      n++;
    }
    return n;
  };
}

function recordingLogger(): LogSink & { lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> } {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as LogSink & { lines: typeof lines };
}

const request = (signal = new AbortController().signal) => ({ capacity: CAPACITY, signal });

describe('PeerHistory (the other instances\' series, from the state changelog)', () => {
  it('reads only the partitions this instance does not own, and returns their series\' history tails as windows', async () => {
    const f = frames(['p0-a', 'p1-a', 'p1-b', 'p2-a']);
    const asked: number[] = [];
    const log = recordingLogger();
    const peers = new PeerHistory({ spec, read: fakeRead([['p0-a', f.get('p0-a')!, 0], ['p1-a', f.get('p1-a')!, 1], ['p1-b', f.get('p1-b')!, 1], ['p2-a', f.get('p2-a')!, 2]], asked), owns: (p) => p === 0, logger: log });
    const got = await peers.windows(request());
    expect(asked.sort()).toEqual([1, 2]);
    expect(got.series).toBe(3);
    expect(new Set(got.windows.map((w) => w.series))).toEqual(new Set(['p1-a', 'p1-b', 'p2-a']));
    expect(got.sampledOut).toBe(0);
    expect(got.skipped).toBe(0);
    // The snapshot tail (ModelRuntime.snapshot): model.context + the residual base's lag + 1 (no
    // model serves yet, so no lag), on the pipeline's grid.
    const tail = spec.model.context + 1;
    for (const w of got.windows) {
      expect(w.length).toBe(tail);
      expect(w.stepMs).toBe(spec.window.step);
      for (let i = 0; i < w.length; i++) expect(Number.isFinite(w.z[i]!) && Number.isFinite(w.mean[i]!) && w.std[i]! > 0).toBe(true);
    }
    const line = log.lines.find((l) => l.level === 'info')!;
    expect(line.obj).toMatchObject({ partitions: [1, 2], series: 3, steps: 3 * tail });
  });

  it('a longer snapshot tail (run --snapshot-history) gives longer peer windows; never shorter than a re-warm needs', async () => {
    const long = frames(['deep'], 300, stateShapeOf(spec), 200);
    const tiny = frames(['shallow'], 300, stateShapeOf(spec), 5);
    const read = fakeRead([['deep', long.get('deep')!, 1], ['shallow', tiny.get('shallow')!, 1]]);
    const got = await new PeerHistory({ spec, read, owns: () => false, logger: recordingLogger() }).windows(request());
    expect(Object.fromEntries(got.windows.map((w) => [w.series, w.length]))).toEqual({ deep: 200, shallow: spec.model.context + 1 });
  });

  it('the newest record of a series wins and a tombstone drops it', async () => {
    const short = frames(['x', 'y'], 10);
    const long = frames(['x', 'y'], 120);
    const read = fakeRead([['x', short.get('x')!, 1], ['y', short.get('y')!, 1], ['x', long.get('x')!, 1], ['y', null, 1]]);
    const got = await new PeerHistory({ spec, read, owns: () => false, logger: recordingLogger() }).windows(request());
    expect(got.series).toBe(1);
    expect(got.windows.map((w) => [w.series, w.length])).toEqual([['x', spec.model.context + 1]]);
  });

  it('skips state written under another window.step (or without a spec shape) and frames that do not decode, counting them', async () => {
    const good = frames(['ok'], 120);
    const otherStep = frames(['half-hourly'], 120, { ...stateShapeOf(spec), step: spec.window.step / 2 });
    const noShape = frames(['old-build'], 120, null);
    const corrupt = good.get('ok')!.slice(0, 30);
    const read = fakeRead([['ok', good.get('ok')!, 1], ['half-hourly', otherStep.get('half-hourly')!, 1], ['old-build', noShape.get('old-build')!, 1], ['corrupt', corrupt, 1]]);
    const log = recordingLogger();
    const got = await new PeerHistory({ spec, read, owns: () => false, logger: log }).windows(request());
    expect(got.windows.map((w) => w.series)).toEqual(['ok']);
    expect(got.skipped).toBe(3);
    expect(log.lines.find((l) => l.level === 'info')!.obj).toMatchObject({ otherStep: 2, unreadable: 1 });
  });

  it('takes at most maxSeries peer series, the same ones whatever the order (a sample by series id), and says so', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `s${i}`);
    const f = frames(ids, 60);
    const run = async (order: readonly string[]) => {
      const log = recordingLogger();
      const got = await new PeerHistory({ spec, read: fakeRead(order.map((id, i) => [id, f.get(id)!, i % 3])), owns: () => false, maxSeries: 4, logger: log }).windows(request());
      return { got, log };
    };
    const a = await run(ids);
    const b = await run([...ids].reverse());
    expect(a.got.series).toBe(4);
    expect(a.got.sampledOut).toBe(8);
    expect(new Set(a.got.windows.map((w) => w.series))).toEqual(new Set(b.got.windows.map((w) => w.series)));
    expect(a.log.lines.find((l) => l.level === 'info')!.msg).toContain('at most 4 series');
  });

  it('rejects when the read fails (the retrainer then trains on its own history)', async () => {
    const read: ChangelogRead = async () => {
      throw new StreamcastError('retriable', 'broker away');
    };
    await expect(new PeerHistory({ spec, read, owns: () => false, logger: recordingLogger() }).windows(request())).rejects.toThrow('broker away');
  });

  it('gives up a read that takes longer than timeoutMs, and one whose retrain is abandoned; records delivered after are ignored', async () => {
    const f = frames(['late']);
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    let signalled: AbortSignal | undefined;
    const slow: ChangelogRead = async (select, onRecord, signal) => {
      signalled = signal;
      await hold;
      onRecord('late', f.get('late')!, 1);
      return 1;
    };
    const timedOut = new PeerHistory({ spec, read: slow, owns: () => false, timeoutMs: 50, logger: recordingLogger() }).windows(request());
    await expect(timedOut).rejects.toThrow(/took over 0.05 s/);
    expect(signalled?.aborted).toBe(true);
    const stop = new AbortController();
    const abandoned = new PeerHistory({ spec, read: slow, owns: () => false, logger: recordingLogger() }).windows(request(stop.signal));
    stop.abort(new StreamcastError('retriable', 'retraining turned off'));
    await expect(abandoned).rejects.toThrow('retraining turned off');
    release();
    await new Promise((r) => setTimeout(r, 10));
  });
});
