/**
 * Memory per live series through the whole live path (not only some structures): the records of
 * N series go through PipelineRunner → step pipeline (resampler, imputer, normalizer) → the
 * served ModelRuntime (baseline, history) → live accuracy, the latest-forecast map of
 * GET /series/:id, and the checkpoint coordinator, whose writer appends the state changelog to a
 * file (Kafka is not involved: its client's buffers do not grow with series).
 *
 * The load of the reliability issue: N series with one point each, N/10 of them with 5 more; then
 * every series goes idle and its open step is closed by idle close and forecast. Reported:
 *   - live: heap + array buffers per series after the idle close, and RSS;
 *   - checkpointed: the changelog's bytes per series (one frame per series, compacted);
 *   - restored: heap + array buffers per series of a fresh store restored from that changelog;
 *   - closeIdle: series closed and forecast per second; shutdown: the final checkpoint's seconds.
 *
 *   npm run bench -- live-memory                     (N = 200k; LIVE_MEMORY_SERIES=50000 for less)
 *   LIVE_MEMORY_SERIES=20000 LIVE_MEMORY_POINTS=60 npm run bench -- live-memory   (60 points each first)
 *   LIVE_MEMORY_HEAPSNAPSHOT=/tmp/live.heapsnapshot npm run bench -- live-memory
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { Subject } from 'rxjs';
import type { Forecast } from '../src/domain/forecast.js';
import type { SeriesId } from '../src/domain/point.js';
import { ManualClock } from '../src/domain/clock.js';
import { MemorySource } from '../src/connectors/memory/memorySource.js';
import { createForecaster } from '../src/forecasting/createForecaster.js';
import { LatestForecasts } from '../src/observability/latestForecasts.js';
import { createLogger } from '../src/observability/logger.js';
import { createPipelineCores } from '../src/pipeline/build.js';
import { parseSpec } from '../src/spec/loadSpec.js';
import type { CheckpointReader } from '../src/connectors/checkpointReader.js';
import type { Checkpoint, Committer, SealedOutputs } from '../src/connectors/committer.js';
import { CheckpointCoordinator } from '../src/runtime/checkpoint/checkpointCoordinator.js';
import { createLiveObservers } from '../src/runtime/liveObservers.js';
import { PipelineRunner } from '../src/runtime/pipelineRunner.js';
import { SeriesStateStore } from '../src/state/seriesStateStore.js';

const N = Number(process.env['LIVE_MEMORY_SERIES'] ?? 200_000);
/** Points per series before the tenth's 5 more: 1 is the issue's load; more shows a series' steady state. */
const POINTS = Number(process.env['LIVE_MEMORY_POINTS'] ?? 1);
const STEP = 60_000;
const PARTITIONS = 8;

const spec = parseSpec({
  name: 'live-memory',
  input: { topic: 'bench.live-memory' },
  output: { topic: 'bench.live-memory.out' },
  window: { step: '1m', lateness: '1m', idleClose: '5m' },
  impute: { strategy: 'ffill', maxGap: '1h' },
  model: { type: 'gru', horizon: 12, quantiles: [0.1, 0.5, 0.9] },
  baseline: { type: 'seasonal-naive', season: '1d' },
});

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function used(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * The state changelog in a file (as on a broker, outside this process' memory): frames appended as
 * committed; `compacted()` reads it back, the newest frame per series (a tombstone deletes it).
 */
class FileChangelogWriter implements Committer, CheckpointReader {
  readonly held = 0;
  readonly path = join(mkdtempSync(join(tmpdir(), 'live-memory-')), 'changelog.bin');
  readonly #fd = openSync(this.path, 'w');
  /** Series whose newest record is a frame (not a tombstone). */
  readonly #live = new Set<SeriesId>();
  tombstones = 0;
  forecasts = 0;
  frames = 0;
  /** Frames identical to the series' previous frame (written again though nothing changed); counted by `compacted()`. */
  unchanged = 0;
  get size(): number {
    return this.#live.size;
  }
  async write(forecasts: readonly Forecast[]): Promise<void> {
    this.forecasts += forecasts.length;
  }
  seal(): SealedOutputs {
    return { partitions: new Set() };
  }
  async acquire(): Promise<void> {}
  async release(): Promise<void> {}
  async readChangelog(): Promise<number> {
    return 0;
  }
  async committedOffset(): Promise<string | undefined> {
    return undefined;
  }
  async commit({ parts }: Checkpoint): Promise<readonly number[]> {
    for (const part of parts) {
      for (const s of part.state) {
        const key = Buffer.from(s.series);
        const value = s.value;
        const head = Buffer.alloc(12);
        head.writeUInt32LE(key.byteLength, 0);
        head.writeUInt32LE(part.partition, 4);
        head.writeInt32LE(value === null ? -1 : value.byteLength, 8);
        writeSync(this.#fd, head);
        writeSync(this.#fd, key);
        this.frames++;
        if (value === null) {
          this.tombstones++;
          this.#live.delete(s.series);
        } else {
          writeSync(this.#fd, value);
          this.#live.add(s.series);
        }
      }
    }
    return [];
  }
  async close(): Promise<void> {}
  /** The compacted changelog: the newest frame per series. */
  compacted(): Map<SeriesId, { partition: number; value: Uint8Array }> {
    closeSync(this.#fd);
    const all = readFileSync(this.path);
    const out = new Map<SeriesId, { partition: number; value: Uint8Array }>();
    for (let o = 0; o < all.byteLength; ) {
      const k = all.readUInt32LE(o);
      const partition = all.readUInt32LE(o + 4);
      const n = all.readInt32LE(o + 8);
      const series = all.toString('utf8', o + 12, o + 12 + k);
      o += 12 + k;
      if (n < 0) out.delete(series);
      else {
        const value = all.subarray(o, o + n);
        const previous = out.get(series)?.value;
        if (previous !== undefined && Buffer.compare(previous, value) === 0) this.unchanged++;
        out.set(series, { partition, value });
        o += n;
      }
    }
    rmSync(dirname(this.path), { recursive: true, force: true });
    return out;
  }
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

interface LiveFigures {
  readonly inSeries: number;
  readonly afterRecords: number;
  readonly liveBytes: number;
  readonly rss: number;
  readonly closeSeconds: number;
  readonly closeCheckpointSeconds: number;
  readonly shutdownSeconds: number;
  readonly shutdownFrames: number;
}

/** The live process, in a scope of its own so that all of it is garbage once it returns. */
async function runLive(writer: FileChangelogWriter): Promise<LiveFigures> {
  const logger = createLogger({ level: 'silent' });
  const events = () => undefined;
  const clock = new ManualClock(1_000_000);
  const base = 1_700_000_000_000 - (1_700_000_000_000 % STEP);
  const rssBefore = process.memoryUsage().rss;
  const before = used();
  const forecaster = createForecaster(spec);
  const store = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster }, now: () => clock.now() });
  const coordinator = new CheckpointCoordinator({ store, committer: writer, reader: writer, events, logger, intervalMs: 1000, now: () => clock.now() });
  const observers = createLiveObservers({ spec, events, logger });
  const latest = new LatestForecasts();
  // As `streamcast run` wires them: what is kept beside the store forgets a series with it.
  store.onDrop((series) => {
    latest.delete(series);
    observers.drop(series);
  });
  const ticks = new Subject<void>();
  const source = new MemorySource({ name: spec.input.topic });
  let forecasts = 0;
  const runner = new PipelineRunner({
    spec,
    source,
    forecaster,
    clock,
    events,
    checkpoints: coordinator,
    pipeline: { flushOnComplete: false, idleTicks: ticks },
    onBatch: (steps, fc) => {
      forecasts += fc.length;
      for (const f of fc) latest.set(f.series, f);
      observers.onBatch(steps, fc);
    },
  });
  for (let p = 0; p < PARTITIONS; p++) await coordinator.partitionReady(p);
  coordinator.start();
  const done = runner.run();

  const offsets = new Array<number>(PARTITIONS).fill(0);
  const push = (series: string, ts: number, value: number) => {
    const p = hash(series) % PARTITIONS;
    source.push({ points: [{ series, ts, value }], deadLetters: [], position: { topic: spec.input.topic, partition: p, offset: String(++offsets[p]!) } });
  };
  // One point each (POINTS each for a series' steady state)…
  for (let k = 0; k < POINTS; k++) {
    for (let i = 0; i < N; i++) {
      push(`host-${i}.cpu`, base + k * STEP, (i + k) % 100);
      if (i % 5000 === 0) await turns(2);
    }
  }
  // …and 5 more for a tenth of them (steps close as their watermark moves).
  for (let k = POINTS; k < POINTS + 5; k++) {
    for (let i = 0; i < N; i += 10) push(`host-${i}.cpu`, base + k * STEP, (i + k) % 100);
    await turns(2);
  }
  await turns(50);
  const inSeries = store.size;
  const afterRecords = used();

  // Every series goes idle: one idle-close tick closes all open steps.
  const expected = forecasts + N;
  const framesBeforeClose = writer.frames;
  clock.advance(spec.window.idleClose + 1000);
  const t0 = performance.now();
  ticks.next();
  while (forecasts < expected) {
    clock.advance(1); // lets the coordinator's interval/quiet checkpoints come due
    await turns(1);
  }
  const closeSeconds = (performance.now() - t0) / 1000;
  // Until the checkpoints covering them landed (their in-flight copies are not live state).
  while (writer.frames < framesBeforeClose + N) {
    clock.advance(1);
    await turns(1);
  }
  const closeCheckpointSeconds = (performance.now() - t0) / 1000;
  await turns(50);
  const liveBytes = used() - before;
  const rss = process.memoryUsage().rss - rssBefore;
  const snapPath = process.env['LIVE_MEMORY_HEAPSNAPSHOT'];
  if (snapPath !== undefined) writeHeapSnapshot(snapPath);

  // Shutdown: stop fetching, final checkpoint (every series changed since the last one that landed).
  const s0 = performance.now();
  const framesBefore = writer.frames;
  source.end();
  await done;
  const shutdownSeconds = (performance.now() - s0) / 1000;
  const shutdownFrames = writer.frames - framesBefore;
  await forecaster.close();
  return { inSeries, afterRecords: afterRecords - before, liveBytes, rss, closeSeconds, closeCheckpointSeconds, shutdownSeconds, shutdownFrames };
}

export async function benchLiveMemory(): Promise<Record<string, unknown>[]> {
  const writer = new FileChangelogWriter();
  const { inSeries, afterRecords, liveBytes, rss, closeSeconds, closeCheckpointSeconds, shutdownSeconds, shutdownFrames } = await runLive(writer);
  const changelog = writer.compacted();
  let checkpointed = 0;
  for (const { value } of changelog.values()) checkpointed += value.byteLength;
  const changelogSeries = changelog.size;

  // A fresh process' worth of state restored from the changelog.
  const beforeRestore = used();
  const restoredForecaster = createForecaster(spec);
  const restored = new SeriesStateStore({ cores: { ...createPipelineCores(spec), forecaster: restoredForecaster } });
  restored.own(Array.from({ length: PARTITIONS }, (_, p) => p));
  for (const [series, { partition, value }] of changelog) restored.restore(series, partition, value);
  const restoredBytes = used() - beforeRestore;
  changelog.clear();
  const restoredSeries = restored.size;
  await restoredForecaster.close();

  const per = (b: number, n: number) => Math.round(b / Math.max(1, n));
  return [
    { measure: 'series', value: N, note: `${POINTS} point(s) each, 5 more for a tenth; ${inSeries} in the store after the records, ${changelogSeries} in the changelog, ${restoredSeries} restored` },
    { measure: 'live bytes/series after records (heap + arrayBuffers)', value: per(afterRecords, N) },
    { measure: 'live bytes/series after idle close (heap + arrayBuffers)', value: per(liveBytes, N) },
    { measure: 'live RSS growth/series', value: per(rss, N) },
    { measure: 'checkpointed bytes/series (changelog frames)', value: per(checkpointed, changelogSeries) },
    { measure: 'restored bytes/series (heap + arrayBuffers)', value: per(restoredBytes, restoredSeries) },
    { measure: 'live / restored', value: Number((liveBytes / N / Math.max(1, restoredBytes / Math.max(1, restoredSeries))).toFixed(2)) },
    { measure: 'idle close: series closed + forecast per second', value: Math.round(N / closeSeconds) },
    { measure: 'idle close: series closed, forecast + checkpointed per second', value: Math.round(N / closeCheckpointSeconds) },
    { measure: 'shutdown: final checkpoint seconds', value: Number(shutdownSeconds.toFixed(2)), note: `${shutdownFrames} frames written` },
    { measure: 'frames written in all', value: writer.frames, note: `${writer.unchanged} identical to their series' previous frame` },
    ...((globalThis as { gc?: () => void }).gc ? [] : [{ measure: '(run node with --expose-gc for stable figures)', value: 0 }]),
  ];
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
