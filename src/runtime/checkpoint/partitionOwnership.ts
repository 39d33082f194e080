import type { CheckpointReader } from '../../connectors/checkpointReader.js';
import type { Committer } from '../../connectors/committer.js';
import type { SeriesId } from '../../domain/point.js';
import type { EventListener } from '../../observability/events.js';
import type { LogSink } from '../../observability/logger.js';
import type { RestoreOutcome, SeriesStateStore } from '../../state/seriesStateStore.js';
import type { InputPositions } from './inputPositions.js';

/** Revocations a checkpoint flushes; their partitions are dropped once it is done. */
export type Revocations = ReadonlyArray<{ readonly partitions: readonly number[]; readonly resolve: () => void }>;

export interface PartitionOwnershipOptions {
  readonly store: SeriesStateStore;
  readonly committer: Committer;
  readonly reader: CheckpointReader;
  readonly positions: InputPositions;
  readonly events: EventListener;
  readonly logger: LogSink;
  /** Partitions are leaving: cut a checkpoint now, to flush what was done for them. */
  readonly flush: () => void;
  /** A restore failed (other than by shutdown): the pipeline stops on it. */
  readonly fail: (err: unknown) => void;
}

/**
 * Which input partitions this instance owns, as the consumer group assigns them: a partition's
 * state is restored (and its previous owner fenced) before any of its records is processed; a
 * revoked one is flushed by a checkpoint, then its state dropped.
 */
export class PartitionOwnership {
  private readonly ready = new Map<number, Promise<string | undefined>>();
  private readonly revoking = new Map<number, Promise<void>>();
  private waiters: Array<{ partitions: number[]; resolve: () => void }> = [];
  private restoring = 0;
  private stopping = false;

  constructor(private readonly opts: PartitionOwnershipOptions) {}

  /** Shutdown has begun: restores aborted from now on are not failures. */
  stop(): void {
    this.stopping = true;
  }

  /** /readyz: false while assigned partitions are being restored. */
  readiness(): { ready: boolean; reason?: string } {
    if (this.restoring > 0) return { ready: false, reason: `restoring state of ${this.restoring} partition(s)` };
    return { ready: true };
  }

  /** The consumer group (re)assigned partitions: restore the new ones, flush and drop the revoked. */
  onAssignment(assigned: readonly number[], revoked: readonly number[]): void {
    if (revoked.length > 0) this.revoke(revoked);
    // A failed restore is reported through `fail` (or is moot during shutdown).
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
    const { store, committer, reader, events, logger } = this.opts;
    this.restoring++;
    const t0 = performance.now();
    try {
      // A revocation of p still being flushed must finish first, or its drop would hit the restored series.
      await this.revoking.get(p);
      store.own([p]);
      await committer.acquire(p);
      // By series, the newest record winning: before compaction a key has several records.
      const bySeries = new Map<SeriesId, RestoreOutcome>();
      let tombstones = 0;
      const records = await reader.readChangelog([p], (series, value, partition) => {
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
      const from = await reader.committedOffset(p);
      this.opts.positions.restored(p, from);
      const seconds = (performance.now() - t0) / 1000;
      events({ type: 'state_restore', seconds });
      this.warnSpecChanges(p);
      logger.info(
        { partition: p, records, ...outcomes, resumeFrom: from, seconds },
        `restored partition ${p}: ${outcomes.restored} series (${outcomes.rewarm} to re-warm, ${outcomes.invalid} unreadable, ${outcomes.discarded} voided by a spec change) in ${seconds.toFixed(2)} s; resuming at offset ${from ?? 'start'}`,
      );
      if (!store.owns(p)) store.dropPartitions([p]); // revoked while restoring
      return from;
    } catch (err) {
      this.ready.delete(p);
      // Shutting down aborts the reader's and committer's retries: not a failure of the pipeline.
      if (!this.stopping) this.opts.fail(err);
      throw err;
    } finally {
      this.restoring--;
    }
  }

  private warnSpecChanges(p: number): void {
    const changes = this.opts.store.takeSpecChanges(p);
    if (changes.length === 0) return;
    const what = changes.map((c) => `${c.field} ${c.old} → ${c.new} (${c.series} series ${c.drops === 'all' ? 'start afresh' : 're-warm their forecaster'})`);
    this.opts.logger.warn(
      { partition: p, changes },
      `state of partition ${p} was written under another spec: ${what.join('; ')}. ` +
        'Operator action: none if the change was meant (the series rebuild from new points); otherwise restore the previous spec before more state is overwritten',
    );
  }

  private revoke(partitions: readonly number[]): void {
    for (const p of partitions) this.ready.delete(p);
    const done = new Promise<void>((resolve) => this.waiters.push({ partitions: [...partitions], resolve }));
    for (const p of partitions) this.revoking.set(p, done);
    // Flush what we have for them now: if their new owner has fenced us already the committer
    // says so and nothing is written; either way their state is then dropped here.
    this.opts.flush();
  }

  /** The revocations the checkpoint being cut flushes. */
  takeRevocations(): Revocations {
    const taken = this.waiters;
    this.waiters = [];
    return taken;
  }

  /** The checkpoint that flushed `revocations` is done: drop their partitions (`forget` drops what the caller buffers for one). */
  settle(revocations: Revocations, forget: (partition: number) => void): void {
    const { store, committer, positions, logger } = this.opts;
    for (const w of revocations) {
      const n = store.dropPartitions(w.partitions);
      for (const p of w.partitions) {
        positions.forget(p);
        forget(p);
        this.revoking.delete(p);
        void committer.release(p).catch((err: unknown) => logger.warn({ err, partition: p }, 'releasing a revoked partition failed'));
      }
      logger.info({ partitions: w.partitions, series: n }, `revoked partitions [${w.partitions.join(', ')}]: flushed and dropped ${n} series`);
      w.resolve();
    }
  }
}
