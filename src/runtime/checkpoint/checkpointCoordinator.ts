import { setImmediate as nextTurn } from 'node:timers/promises';
import { Subject, type Observable } from 'rxjs';
import type { CheckpointReader } from '../../connectors/checkpointReader.js';
import type { Committer, SealedOutputs } from '../../connectors/committer.js';
import type { Ingested } from '../../domain/ingested.js';
import type { Position } from '../../domain/position.js';
import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import type { SeriesId } from '../../domain/point.js';
import type { EventListener } from '../../observability/events.js';
import type { LogSink } from '../../observability/logger.js';
import type { PipelineContext, PipelineStateCores, StepBatch } from '../../pipeline/build.js';
import type { EncodedState, ForecasterState, FrozenState, FrozenStates, SeriesStateStore, UpstreamCapture } from '../../state/seriesStateStore.js';
import { checkpointParts, PendingDeadLetters } from './checkpointParts.js';
import type { Checkpoints } from './checkpoints.js';
import { EvictionReport } from './evictionReport.js';
import { InputPositions } from './inputPositions.js';
import { PartitionOwnership, type Revocations } from './partitionOwnership.js';

/** Series encoded per event-loop turn when a checkpoint's frames are built in slices (≈ 1 ms). */
const ENCODE_SLICE = 128;

/** Series whose forecaster state is copied per event-loop turn at a cut (≈ 10 ms). */
const FREEZE_SLICE = 1024;

/** The store of a pipeline run: its cores are the concrete ones the operator chain steps. */
export type PipelineStateStore = SeriesStateStore<ForecasterState, PipelineStateCores<ForecasterState>>;

export interface CheckpointOptions {
  readonly store: PipelineStateStore;
  /** Makes checkpoints durable per the pipeline's guarantee (src/connectors/committer.ts). */
  readonly committer: Committer;
  /** Reads a partition's checkpoint back when it is assigned. */
  readonly reader: CheckpointReader;
  readonly events: EventListener;
  readonly logger: LogSink;
  /** A checkpoint is due this long after the previous one… */
  readonly intervalMs: number;
  /** …or once this many forecasts wait in the committer for one (exactly-once holds them until it commits). */
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
  readonly deadLetters: ReadonlyMap<number, readonly DeadLetter[]>;
  readonly revocations: Revocations;
}

/**
 * The checkpoint coordinator of a pipeline with per-series state (Kafka): decides when a
 * checkpoint is cut and what it holds (forecasts, changed state, dead letters, input positions
 * describing the same prefix of the input), and hands it to the committer, which makes it durable
 * in that order per the guarantee. Partition ownership (restore on assignment, flush and drop on
 * revocation) is PartitionOwnership's.
 *
 * How a checkpoint cuts the stream consistently without stopping it:
 * 1. When one is due, a barrier, between two records, makes the micro-batcher emit at once (an
 *    empty batch when it holds nothing). As that batch forms, `formed` snapshots the pipeline
 *    cores of the changed series, takes the input positions read so far and the dead letters
 *    raised so far.
 * 2. When the runner has stepped that batch (all earlier batches were stepped before it),
 *    `afterStep` copies the forecaster's state of those series (`freeze`) and seals the forecasts
 *    written since the previous checkpoint: state, outputs and positions now describe the same
 *    prefix of the input. The frames are encoded from those copies, in slices (forecasts made
 *    meanwhile are the next checkpoint's).
 * 3. The committer commits it; the next checkpoint waits for it (at most one in flight), so the
 *    pipeline keeps running while the broker works and backpressure applies when it falls behind.
 */
export class CheckpointCoordinator implements Checkpoints {
  private readonly barrier$ = new Subject<void>();
  private readonly now: () => number;
  private readonly maxPending: number;
  private readonly quietMs: number;
  private readonly captures = new WeakMap<StepBatch, Capture>();
  private readonly positions = new InputPositions();
  private readonly pendingDead = new PendingDeadLetters();
  private readonly ownership: PartitionOwnership;
  private readonly evictions: EvictionReport;
  private readonly partitionOf: (series: SeriesId) => number;
  private lastCaptureAt: number;
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
  private failure: unknown;
  private readonly failureListeners: Array<(err: unknown) => void> = [];
  private finished?: Promise<void>;

  constructor(private readonly opts: CheckpointOptions) {
    this.now = opts.now ?? Date.now;
    this.maxPending = opts.maxPendingForecasts ?? 50_000;
    this.lastCaptureAt = this.now();
    this.quietMs = opts.quietMs ?? Math.min(100, opts.intervalMs / 2);
    const { store, committer, reader, events, logger } = opts;
    this.partitionOf = (series) => store.partitionOf(series) ?? -1;
    this.evictions = new EvictionReport({ store, events, logger });
    this.ownership = new PartitionOwnership({
      store,
      committer,
      reader,
      positions: this.positions,
      events,
      logger,
      flush: () => {
        this.forced = true;
        this.requestBarrier();
      },
      fail: (err) => this.fail(err),
    });
  }

  /** Shutdown has begun: restores aborted from now on are not failures. */
  stop(): void {
    this.ownership.stop();
  }

  /** For the runner: the store's cores, barriers and the batch-formed hook. */
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
    return this.ownership.readiness();
  }

  /** The consumer group (re)assigned partitions: restore the new ones, flush and drop the revoked. */
  onAssignment(assigned: readonly number[], revoked: readonly number[]): void {
    this.ownership.onAssignment(assigned, revoked);
  }

  /** Resolves once partition `p`'s state is restored, with the offset from which its records are new. */
  partitionReady(p: number): Promise<string | undefined> {
    return this.ownership.partitionReady(p);
  }

  // ---- the stream ------------------------------------------------------------------------------

  record(rec: Ingested): void {
    const p = rec.position.partition;
    this.positions.advance(rec.position);
    const t = this.now();
    this.lastRecordAt = t;
    this.readSinceCapture = true;
    // Cut once this record has gone through (the barrier waits for the push to end).
    if (!this.barrierRequested && this.due(t)) this.requestBarrier();
    if (rec.points.length === 0) return;
    for (const pt of rec.points) this.opts.store.touch(pt.series, p, t);
  }

  deadLetters(letters: readonly DeadLetter[]): void {
    this.pendingDead.add(letters);
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
   * themselves instead of stalling the stream. Revocations and too many held forecasts cut
   * one regardless (the latter is the backpressure: the pipeline then waits for the one in flight).
   */
  private due(now = this.now()): boolean {
    if (this.forced || this.opts.committer.held >= this.maxPending) return true;
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
    const deadLetters = this.pendingDead.take();
    const revocations = this.ownership.takeRevocations();
    // Expired series are tombstoned by this very checkpoint.
    this.opts.store.expire(this.lastCaptureAt);
    this.evictions.report(this.lastCaptureAt);
    return { upstream: this.opts.store.captureUpstream(), positions: this.positions.cut(), deadLetters, revocations };
  }

  /** After the forecaster consumed `batch`: hand its forecasts to the committer; phase two when it carries a capture. */
  async afterStep(batch: StepBatch, forecasts: readonly Forecast[]): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const { store, committer, events } = this.opts;
    store.stepped(batch.steps);
    if (forecasts.length > 0) {
      const starts = forecasts.map((f) => store.lastSeen(f.series) ?? this.now());
      void committer.write(forecasts, this.partitionOf).then(
        () => this.latency(starts),
        (err: unknown) => this.fail(err),
      );
      // Unless this very batch carries the checkpoint that takes them.
      if (committer.held >= this.maxPending && !this.captures.has(batch)) this.requestBarrier();
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
    const outputs = committer.seal();
    // At most one checkpoint in flight: this one waits for the previous (backpressure).
    await this.inFlight;
    if (this.failure !== undefined) throw this.failure;
    const t0 = performance.now();
    this.committing = true;
    // Forecasts sealed into this checkpoint wait for its commit (exactly-once: their latency is
    // its duration), so its frames are encoded at once, before the next batch (in slices all the
    // same, for the event loop). With none waiting (at-least-once sent them already), they are
    // encoded in slices while the pipeline goes on, so that the checkpoint does not hold up the
    // batch after it.
    const encoded = outputs.partitions.size > 0 ? Promise.resolve(await this.encodeInSlices(frozen)) : this.encodeInSlices(frozen);
    this.inFlight = encoded
      .then((state) => this.commit(cap, state, outputs, false))
      .then(
        () => {
          this.committing = false;
          events({ type: 'checkpoint', seconds: (performance.now() - t0) / 1000 });
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

  private async commit(cap: Capture, state: readonly EncodedState[], outputs: SealedOutputs, final: boolean): Promise<void> {
    const { store, committer, logger } = this.opts;
    const parts = checkpointParts({ positions: cap.positions, deadLetters: cap.deadLetters, state, outputs: outputs.partitions }, this.positions, (p) => store.owns(p));
    if (parts.length > 0 || outputs.partitions.size > 0 || final) {
      const lost = await committer.commit({ outputs, parts, final });
      this.positions.commitDone(
        parts.map((p) => p.position),
        lost,
      );
      if (lost.length > 0) {
        logger.warn({ partitions: lost }, `partitions [${lost.join(', ')}] have a new owner (fenced); their uncommitted work is left to it`);
        store.dropPartitions(lost);
      }
    }
    this.ownership.settle(cap.revocations, (p) => this.pendingDead.forget(p));
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

  onFailure(listener: (err: unknown) => void): void {
    if (this.failure !== undefined) listener(this.failure);
    else this.failureListeners.push(listener);
  }

  /** After the input completed and every batch was handled (nothing is in flight anywhere): the last checkpoint. Idempotent. */
  finish(): Promise<void> {
    this.finished ??= (async () => {
      if (this.timer !== undefined) clearInterval(this.timer);
      this.timer = undefined;
      this.barrier$.complete();
      await this.inFlight;
      if (this.failure !== undefined) throw this.failure;
      const cap = this.capture();
      const outputs = this.opts.committer.seal();
      const t0 = performance.now();
      await this.commit(cap, this.opts.store.finish(cap.upstream), outputs, true);
      this.opts.events({ type: 'checkpoint', seconds: (performance.now() - t0) / 1000 });
      if (this.failure !== undefined) throw this.failure;
    })();
    return this.finished;
  }
}
