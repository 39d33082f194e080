import { setImmediate as nextTurn } from 'node:timers/promises';
import { Subject, type Observable } from 'rxjs';
import type { Ingested } from '../domain/ingested.js';
import type { Position } from '../domain/position.js';
import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import type { EventListener } from '../observability/events.js';
import type { LogSink } from '../observability/logger.js';
import type { PipelineContext, StepBatch } from '../pipeline/build.js';
import type { RunnerCheckpoint } from './pipelineRunner.js';
import type { EncodedState, FrozenState, FrozenStates, RestoreOutcome, SeriesStateStore, UpstreamCapture } from '../state/seriesStateStore.js';

/** Evictions are logged in aggregate, at most this often. */
const EVICTION_LOG_EVERY_MS = 60_000;

/** Series encoded per event-loop turn when a checkpoint's frames are built in slices (≈ 1 ms). */
const ENCODE_SLICE = 128;

/** Series whose forecaster state is copied per event-loop turn at a cut (≈ 10 ms). */
const FREEZE_SLICE = 1024;

/** What one input partition contributes to a checkpoint. */
export interface PartitionCheckpoint {
  readonly partition: number;
  readonly forecasts: readonly Forecast[];
  readonly deadLetters: readonly DeadLetter[];
  readonly state: readonly EncodedState[];
  /** Next input offset to read; undefined when this instance has read nothing of the partition. */
  readonly position: Position | undefined;
}

/**
 * Where checkpoints go (Kafka: src/connectors/kafka/checkpointWriter.ts). `commit` makes, per
 * partition and in this order, the forecasts and dead letters, then the changed state, then the
 * input offset durable (exactly-once: one transaction per partition; at-least-once: flushed
 * idempotent sends, then an offset commit).
 */
export interface CheckpointWriter {
  /** True when forecasts go out per batch (`emit`) rather than inside checkpoints. */
  readonly eager: boolean;
  emit(forecasts: readonly Forecast[], deadLetters: readonly DeadLetter[]): Promise<void>;
  /**
   * Optional, for writers that are not eager: keeps a partition's forecasts until its next
   * `commit` in the writer's own (compact) form, instead of the coordinator holding the objects;
   * `commit` then writes them with that partition's part (whose `forecasts` is empty), and
   * `release`/`acquire` discard what a partition had staged.
   */
  stage?(partition: number, forecasts: readonly Forecast[]): void;
  /** Resolves once the partition's previous owner can no longer commit (exactly-once: fenced). */
  acquire(partition: number): Promise<void>;
  release(partition: number): Promise<void>;
  /** Reads the changelog partitions from the beginning to their current end. */
  readChangelog(partitions: readonly number[], onRecord: (series: SeriesId, value: Uint8Array | null, partition: number) => void): Promise<number>;
  /** The group's committed offset of an input partition, read after `acquire`. */
  committedOffset(partition: number): Promise<string | undefined>;
  /** Returns the partitions that turned out not to be ours any more (fenced); their parts were not written. */
  commit(parts: readonly PartitionCheckpoint[]): Promise<readonly number[]>;
  close(): Promise<void>;
}

export interface CheckpointOptions {
  readonly store: SeriesStateStore;
  readonly writer: CheckpointWriter;
  readonly events: EventListener;
  readonly logger: LogSink;
  /** A checkpoint is due this long after the previous one… */
  readonly intervalMs: number;
  /** …or once this many forecasts wait for one (exactly-once buffers them until it commits). */
  readonly maxPendingForecasts?: number;
  /**
   * A checkpoint is also cut once the input has been quiet this long with records read since the
   * last one (at most every max(quietMs, intervalMs / 4)): the end of a burst or of a backlog is
   * committed promptly instead of at the interval's end. Default min(100, intervalMs / 2).
   */
  readonly quietMs?: number;
  /** Wall clock (arrival times, intervals). */
  readonly now?: () => number;
}

interface Capture {
  readonly upstream: UpstreamCapture;
  readonly positions: ReadonlyMap<number, Position>;
  readonly deadLetters: Map<number, DeadLetter[]>;
  /** Revocations this checkpoint flushes; their partitions are dropped once it is done. */
  readonly revocations: ReadonlyArray<{ readonly partitions: readonly number[]; readonly resolve: () => void }>;
}

/**
 * The checkpoint coordinator: the one place where the order "forecasts produced → changed state
 * produced → offsets committed" is kept (offsets committed before what they cover is durable lose
 * it in a crash), plus partition ownership (restore on assignment before any record is processed,
 * flush and drop on revocation).
 *
 * How a checkpoint cuts the stream consistently without stopping it:
 * 1. When one is due, a barrier, between two records, makes the micro-batcher emit at once (an
 *    empty batch when it holds nothing). As that batch forms, `formed` snapshots the pipeline
 *    cores of the changed series, takes the input positions read so far and the dead letters
 *    raised so far.
 * 2. When the runner has stepped that batch (all earlier batches were stepped before it),
 *    `afterStep` copies the forecaster's state of those series (`freeze`) and takes the forecasts
 *    made since the previous checkpoint: state, outputs and positions now describe the same prefix
 *    of the input. The frames are encoded from those copies (at-least-once: in slices, while the
 *    pipeline goes on).
 * 3. The writer commits it; the next checkpoint waits for it (at most one in flight), so the
 *    pipeline keeps running while the broker works and backpressure applies when it falls behind.
 */
export class CheckpointCoordinator implements RunnerCheckpoint {
  private readonly barrier$ = new Subject<void>();
  private readonly now: () => number;
  private readonly maxPending: number;
  private readonly captures = new WeakMap<StepBatch, Capture>();
  private pendingForecasts = new Map<number, Forecast[]>();
  /** Partitions with forecasts staged in the writer since the last capture (CheckpointWriter.stage). */
  private stagedPartitions = new Set<number>();
  private pendingStarts: number[] = [];
  private pendingCount = 0;
  private pendingDead = new Map<number, DeadLetter[]>();
  private readonly latest = new Map<number, Position>();
  private readonly committed = new Map<number, string>();
  private lastCaptureAt: number;
  private readonly quietMs: number;
  private lastRecordAt = 0;
  private readSinceCapture = false;
  private forced = false;
  private barrierRequested = false;
  /** A barrier is flushing the micro-batcher: the batch it forms carries the checkpoint. */
  private cutting = false;
  private inFlight: Promise<void> = Promise.resolve();
  /** A checkpoint is being written (inFlight has not settled). */
  private committing = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly ready = new Map<number, Promise<string | undefined>>();
  private readonly revoking = new Map<number, Promise<void>>();
  private revokeWaiters: Array<{ partitions: number[]; resolve: () => void }> = [];
  private restoring = 0;
  private failure: unknown;
  private readonly failureListeners: Array<(err: unknown) => void> = [];
  private finished?: Promise<void>;
  private stopping = false;
  private evictedSinceLog = { ttl: 0, max_series: 0 };
  private lastEvictionLog = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: CheckpointOptions) {
    this.now = opts.now ?? Date.now;
    this.maxPending = opts.maxPendingForecasts ?? 50_000;
    this.lastCaptureAt = this.now();
    this.quietMs = opts.quietMs ?? Math.min(100, opts.intervalMs / 2);
  }

  /** Shutdown has begun: restores aborted from now on are not failures. */
  stop(): void {
    this.stopping = true;
  }

  /** For the runner (RunnerCheckpoint): the store's cores, barriers and the batch-formed hook. */
  get context(): Pick<PipelineContext, 'cores' | 'barriers' | 'onBatchFormed'> {
    const { resampler, imputer, normalizer } = this.opts.store.cores;
    return { cores: { resampler, imputer, normalizer }, barriers: this.barriers, onBatchFormed: (b) => this.formed(b) };
  }

  /** Barriers for the micro-batcher (PipelineContext.barriers). */
  get barriers(): Observable<void> {
    return this.barrier$.asObservable();
  }

  /** Starts the interval timer (stopped by `finish`). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.maybeBarrier(), Math.max(10, Math.floor(Math.min(this.opts.intervalMs, this.quietMs) / 2)));
    this.timer.unref();
  }

  /** /readyz: false while assigned partitions are being restored. */
  readiness(): { ready: boolean; reason?: string } {
    if (this.restoring > 0) return { ready: false, reason: `restoring state of ${this.restoring} partition(s)` };
    return { ready: true };
  }

  // ---- partition ownership -------------------------------------------------------------------

  /** The consumer group (re)assigned partitions: restore the new ones, flush and drop the revoked. */
  onAssignment(assigned: readonly number[], revoked: readonly number[]): void {
    if (revoked.length > 0) this.revoke(revoked);
    // A failed restore is reported through onFailure (or is moot during shutdown).
    for (const p of assigned) this.partitionReady(p).catch(() => undefined);
  }

  /**
   * Resolves once partition `p`'s state is restored, with the offset from which its records are
   * new (earlier ones are already in the restored state). Records of `p` wait for it.
   */
  partitionReady(p: number): Promise<string | undefined> {
    let r = this.ready.get(p);
    if (r === undefined) {
      r = this.restore(p);
      this.ready.set(p, r);
    }
    return r;
  }

  private async restore(p: number): Promise<string | undefined> {
    const { store, writer, events, logger } = this.opts;
    this.restoring++;
    const t0 = performance.now();
    try {
      // A revocation of p still being flushed must finish first, or its drop would hit the restored series.
      await this.revoking.get(p);
      store.own([p]);
      await writer.acquire(p);
      // By series, the newest record winning: before compaction a key has several records.
      const bySeries = new Map<SeriesId, RestoreOutcome>();
      let tombstones = 0;
      const records = await writer.readChangelog([p], (series, value, partition) => {
        if (value === null) {
          // Until the topic is compacted the series' earlier frames precede its tombstone: the
          // tombstone wins, as it will after compaction (an evicted series stays evicted).
          store.forget(series);
          bySeries.delete(series);
          tombstones++;
          return;
        }
        bySeries.set(series, store.restore(series, partition, value));
      });
      const outcomes = { restored: 0, rewarm: 0, invalid: 0, discarded: 0, tombstones };
      for (const o of bySeries.values()) outcomes[o]++;
      const from = await writer.committedOffset(p);
      if (from !== undefined) this.committed.set(p, from);
      const seconds = (performance.now() - t0) / 1000;
      events({ type: 'state_restore', seconds });
      const changes = store.takeSpecChanges(p);
      if (changes.length > 0) {
        const what = changes.map(
          (c) => `${c.field} ${c.old} → ${c.new} (${c.series} series ${c.drops === 'all' ? 'start afresh' : 're-warm their forecaster'})`,
        );
        logger.warn(
          { partition: p, changes },
          `state of partition ${p} was written under another spec: ${what.join('; ')}. ` +
            'Operator action: none if the change was meant (the series rebuild from new points); otherwise restore the previous spec before more state is overwritten',
        );
      }
      logger.info(
        { partition: p, records, ...outcomes, resumeFrom: from, seconds },
        `restored partition ${p}: ${outcomes.restored} series (${outcomes.rewarm} to re-warm, ${outcomes.invalid} unreadable, ${outcomes.discarded} voided by a spec change) in ${seconds.toFixed(2)} s; resuming at offset ${from ?? 'start'}`,
      );
      if (!store.owns(p)) store.dropPartitions([p]); // revoked while restoring
      return from;
    } catch (err) {
      this.ready.delete(p);
      // Shutting down aborts the writer's retries: not a failure of the pipeline.
      if (!this.stopping) this.fail(err);
      throw err;
    } finally {
      this.restoring--;
    }
  }

  private revoke(partitions: readonly number[]): void {
    for (const p of partitions) this.ready.delete(p);
    const done = new Promise<void>((resolve) => this.revokeWaiters.push({ partitions: [...partitions], resolve }));
    for (const p of partitions) this.revoking.set(p, done);
    // Flush what we have for them now: if their new owner has fenced us already the writer says so
    // and nothing is written; either way their state is then dropped here.
    this.forced = true;
    this.requestBarrier();
  }

  private settleRevocations(waiters: Capture['revocations']): void {
    for (const w of waiters) {
      const n = this.opts.store.dropPartitions(w.partitions);
      for (const p of w.partitions) {
        this.latest.delete(p);
        this.committed.delete(p);
        this.pendingForecasts.delete(p);
        this.stagedPartitions.delete(p);
        this.pendingDead.delete(p);
        this.revoking.delete(p);
        void this.opts.writer.release(p).catch((err: unknown) => this.opts.logger.warn({ err, partition: p }, 'releasing a revoked partition failed'));
      }
      this.opts.logger.info({ partitions: w.partitions, series: n }, `revoked partitions [${w.partitions.join(', ')}]: flushed and dropped ${n} series`);
      w.resolve();
    }
  }

  // ---- the stream ------------------------------------------------------------------------------

  /** Every input record, before the pipeline sees it. */
  record(rec: Ingested): void {
    const p = rec.position.partition;
    this.latest.set(p, rec.position);
    const t = this.now();
    this.lastRecordAt = t;
    this.readSinceCapture = true;
    // Cut once this record has gone through (the barrier waits for the push to end).
    if (!this.barrierRequested && this.due(t)) this.requestBarrier();
    if (rec.points.length === 0) return;
    for (const pt of rec.points) this.opts.store.touch(pt.series, p, t);
  }

  deadLetters(letters: readonly DeadLetter[]): void {
    for (const d of letters) {
      let list = this.pendingDead.get(d.source.partition);
      if (list === undefined) this.pendingDead.set(d.source.partition, (list = []));
      list.push(d);
    }
  }

  /**
   * PipelineContext.onBatchFormed: phase one of a due checkpoint, in the batch a barrier forms
   * only. A batch that fills up can form in the middle of a record (a record of several points,
   * or a point that closes several steps): the input position would then count the whole record
   * while the cores had taken only part of it, and a restore would lose the rest.
   */
  formed(batch: StepBatch): void {
    this.opts.store.emitted(batch.steps);
    if (!this.cutting) return;
    this.cutting = false;
    this.captures.set(batch, this.capture());
  }

  /**
   * A checkpoint interval that has passed does not cut a new checkpoint while the previous one is
   * still being written: the pipeline keeps going, and the next checkpoint, due at once when the
   * previous one completes, covers everything since (a series changed five times is written
   * once). So when the broker is slower than the interval, checkpoints grow and space out by
   * themselves instead of stalling the stream. Revocations and too many buffered forecasts cut
   * one regardless (the latter is the backpressure: the pipeline then waits for the one in flight).
   */
  private due(now = this.now()): boolean {
    if (this.forced || this.pendingCount >= this.maxPending) return true;
    if (this.committing) return false;
    const since = now - this.lastCaptureAt;
    if (since >= this.opts.intervalMs) return true;
    return this.readSinceCapture && now - this.lastRecordAt >= this.quietMs && since >= Math.max(this.quietMs, this.opts.intervalMs / 4);
  }

  private capture(): Capture {
    this.forced = false;
    this.barrierRequested = false;
    this.readSinceCapture = false;
    this.lastCaptureAt = this.now();
    const deadLetters = this.pendingDead;
    this.pendingDead = new Map();
    const revocations = this.revokeWaiters;
    this.revokeWaiters = [];
    // Expired series are tombstoned by this very checkpoint.
    this.opts.store.expire(this.lastCaptureAt);
    this.reportEvictions(this.lastCaptureAt);
    return { upstream: this.opts.store.captureUpstream(), positions: new Map(this.latest), deadLetters, revocations };
  }

  /**
   * Evicted and expired series as metrics at every checkpoint, and in the log in aggregate (at
   * most once a minute, never a line per series: churn can evict thousands a second).
   */
  private reportEvictions(now: number): void {
    const counts = this.opts.store.takeEvictions();
    for (const reason of ['ttl', 'max_series'] as const) {
      const n = counts[reason];
      if (n === 0) continue;
      this.opts.events({ type: 'series_evicted', reason, count: n });
      this.evictedSinceLog[reason] += n;
    }
    const { ttl, max_series: max } = this.evictedSinceLog;
    if (ttl + max === 0 || now - this.lastEvictionLog < EVICTION_LOG_EVERY_MS) return;
    this.lastEvictionLog = now;
    this.evictedSinceLog = { ttl: 0, max_series: 0 };
    const { maxSeries, ttlMs } = this.opts.store.bounds;
    this.opts.logger.info(
      { expired: ttl, evicted: max, series: this.opts.store.size, maxSeries, ttlMs },
      `dropped the state of ${ttl + max} series (${ttl} expired by state.ttl, ${max} least recently seen evicted by state.maxSeries); tombstoned in the state changelog`,
    );
  }

  /** After the forecaster consumed `batch`: buffer or emit its forecasts; phase two when it carries a capture. */
  async afterStep(batch: StepBatch, forecasts: readonly Forecast[]): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const { store, writer, events } = this.opts;
    store.stepped(batch.steps);
    const starts = forecasts.map((f) => store.lastSeen(f.series) ?? this.now());
    if (writer.eager) {
      if (forecasts.length > 0) {
        void writer.emit(forecasts, []).then(
          () => this.latency(starts),
          (err: unknown) => this.fail(err),
        );
      }
    } else {
      const byPartition = writer.stage === undefined ? this.pendingForecasts : new Map<number, Forecast[]>();
      for (const f of forecasts) {
        const p = store.partitionOf(f.series) ?? -1;
        let list = byPartition.get(p);
        if (list === undefined) byPartition.set(p, (list = []));
        list.push(f);
      }
      if (writer.stage !== undefined) {
        for (const [p, list] of byPartition) {
          writer.stage(p, list);
          this.stagedPartitions.add(p);
        }
      }
      for (const s of starts) this.pendingStarts.push(s);
      this.pendingCount += forecasts.length;
      // Unless this very batch carries the checkpoint that empties the buffer.
      if (this.pendingCount >= this.maxPending && !this.captures.has(batch)) this.requestBarrier();
    }
    const cap = this.captures.get(batch);
    if (cap === undefined) return;
    // Before the forecaster steps another batch (the runner waits for this call): the
    // forecaster's state of the captured series, in slices so that the event loop turns.
    const frozen: FrozenState[] = [];
    for (const slice of store.freezeSlices(cap.upstream, FREEZE_SLICE)) {
      if (frozen.length > 0) await nextTurn();
      for (const s of slice) frozen.push(s);
    }
    const startsOfThis = this.pendingStarts;
    this.pendingStarts = [];
    this.pendingCount = 0;
    // At most one checkpoint in flight: this one waits for the previous (backpressure).
    await this.inFlight;
    if (this.failure !== undefined) throw this.failure;
    const t0 = performance.now();
    this.committing = true;
    // At-least-once: the frames are encoded in slices while the pipeline goes on (the forecasts
    // made meanwhile go out as usual; their state is the next checkpoint's), so a checkpoint does
    // not hold up the batch after it. Exactly-once: assembled at once, because forecasts staged
    // from the next batch on belong to the next transaction.
    // (Awaited here, so that the pipeline waits: in slices all the same, for the event loop.)
    const parts = writer.eager
      ? this.encodeInSlices(frozen).then((state) => this.assemble(cap, state))
      : Promise.resolve(this.assemble(cap, await this.encodeInSlices(frozen)));
    this.inFlight = parts.then((p) => this.commit(p, cap.revocations)).then(
      () => {
        this.committing = false;
        events({ type: 'checkpoint', seconds: (performance.now() - t0) / 1000 });
        if (!writer.eager) this.latency(startsOfThis);
        // One that came due meanwhile was held back (see due()): cut it now.
        this.maybeBarrier();
      },
      (err: unknown) => {
        this.committing = false;
        this.fail(err);
      },
    );
  }

  private async encodeInSlices(frozen: FrozenStates): Promise<EncodedState[]> {
    const out: EncodedState[] = [];
    for (let i = 0; i < frozen.length; i += ENCODE_SLICE) {
      if (i > 0) await nextTurn();
      for (const e of this.opts.store.encode(frozen, i, i + ENCODE_SLICE)) out.push(e);
    }
    return out;
  }

  private assemble(cap: Capture, state: readonly EncodedState[]): PartitionCheckpoint[] {
    const byPartition = new Map<number, { forecasts: Forecast[]; deadLetters: DeadLetter[]; state: EncodedState[] }>();
    const slot = (p: number) => {
      let s = byPartition.get(p);
      if (s === undefined) byPartition.set(p, (s = { forecasts: [], deadLetters: [], state: [] }));
      return s;
    };
    if (!this.opts.writer.eager) {
      for (const [p, list] of this.pendingForecasts) slot(p).forecasts = list;
      this.pendingForecasts = new Map();
      for (const p of this.stagedPartitions) slot(p);
      this.stagedPartitions = new Set();
    }
    for (const [p, list] of cap.deadLetters) slot(p).deadLetters = list;
    for (const s of state) slot(s.partition).state.push(s);
    for (const [p, pos] of cap.positions) if (this.committed.get(p) !== pos.offset) slot(p);
    const parts: PartitionCheckpoint[] = [];
    for (const [p, s] of byPartition) {
      if (!this.opts.store.owns(p)) continue; // revoked and already dropped: its new owner redoes it
      const position = cap.positions.get(p) ?? this.committedPosition(p);
      parts.push({ partition: p, ...s, position });
    }
    return parts;
  }

  private committedPosition(p: number): Position | undefined {
    const offset = this.committed.get(p);
    const topic = this.latestTopic();
    return offset === undefined || topic === undefined ? undefined : { topic, partition: p, offset };
  }

  private latestTopic(): string | undefined {
    for (const pos of this.latest.values()) return pos.topic;
    return undefined;
  }

  private async commit(parts: readonly PartitionCheckpoint[], revocations: Capture['revocations']): Promise<void> {
    if (parts.length > 0) {
      const lost = await this.opts.writer.commit(parts);
      for (const part of parts) {
        if (part.position !== undefined && !lost.includes(part.partition)) this.committed.set(part.partition, part.position.offset);
      }
      if (lost.length > 0) {
        this.opts.logger.warn({ partitions: lost }, `partitions [${lost.join(', ')}] have a new owner (fenced); their uncommitted work is left to it`);
        this.opts.store.dropPartitions(lost);
      }
    }
    this.settleRevocations(revocations);
  }

  private latency(starts: readonly number[]): void {
    const t = this.now();
    for (const s of starts) this.opts.events({ type: 'latency', seconds: Math.max(0, t - s) / 1000 });
  }

  private maybeBarrier(): void {
    if (this.due()) this.requestBarrier();
  }

  private requestBarrier(): void {
    if (this.barrierRequested) return;
    this.barrierRequested = true;
    // Asynchronously: a barrier from inside a record push would cut a record in half.
    // The flag clears when the microtask runs, whether or not a checkpoint is still due then
    // (a request that finds nothing due must not block every later one).
    queueMicrotask(() => {
      this.barrierRequested = false;
      if (!this.due()) return;
      this.cutting = true;
      this.barrier$.next();
      this.cutting = false;
    });
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    for (const l of this.failureListeners) l(err);
  }

  /** Calls `listener` once when a background checkpoint or restore fails (the runner stops on it). */
  onFailure(listener: (err: unknown) => void): void {
    if (this.failure !== undefined) listener(this.failure);
    else this.failureListeners.push(listener);
  }

  /**
   * After the input completed and every batch was handled (nothing is in flight anywhere): the
   * last checkpoint, then the writer is closed. Idempotent.
   */
  finish(): Promise<void> {
    this.finished ??= (async () => {
      if (this.timer !== undefined) clearInterval(this.timer);
      this.timer = undefined;
      this.barrier$.complete();
      await this.inFlight;
      if (this.failure !== undefined) throw this.failure;
      const cap = this.capture();
      const parts = this.assemble(cap, this.opts.store.finish(cap.upstream));
      const starts = this.pendingStarts;
      this.pendingStarts = [];
      const t0 = performance.now();
      await this.commit(parts, cap.revocations);
      this.opts.events({ type: 'checkpoint', seconds: (performance.now() - t0) / 1000 });
      if (!this.opts.writer.eager) this.latency(starts);
      if (this.failure !== undefined) throw this.failure;
    })();
    return this.finished;
  }

}
