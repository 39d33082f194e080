import { type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage } from 'kafkajs';
import { Observable, Subject } from 'rxjs';
import type { Decoder } from '../../codecs/codec.js';
import { DEFAULT_SESSION_TIMEOUT_MS } from '../../config/kafkaConfig.js';
import { utf8OrUndefined } from '../../codecs/payloadText.js';
import type { RecordSource } from '../../domain/deadLetter.js';
import { describeError } from '../../domain/describeError.js';
import { StreamcastError } from '../../domain/errors.js';
import type { EventListener } from '../../observability/events.js';
import type { LogSink } from '../../observability/logger.js';
import { retry } from '../../platform/retry.js';
import type { Ingested } from '../../domain/ingested.js';
import type { Position } from '../../domain/position.js';
import type { Source } from '../source.js';
import { isBrokerOutage, isRetriableKafkaError, kafkaErrorType } from './kafkaClient.js';

export interface KafkaSourceOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly groupId: string;
  readonly decoder: Decoder;
  /** Where a group without committed offsets starts: earliest (true) or latest. */
  readonly fromBeginning: boolean;
  readonly logger: LogSink;
  readonly events: EventListener;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** Bytes fetched per partition per request (kafkajs default 1 MiB); bounds what one batch holds. */
  readonly maxBytesPerPartition?: number;
  /** Backoff for (re)connecting at start; default 0.5 s doubling to 15 s, for ever (until stop). */
  readonly connectRetry?: { readonly initialMs: number; readonly maxMs: number; readonly retries: number };
  /**
   * Partition ownership (the state store): called on every group join with the partitions newly
   * assigned to this instance and those it lost.
   */
  readonly onAssignment?: (assigned: readonly number[], revoked: readonly number[]) => void;
  /**
   * Gate per newly assigned partition: its records are handed over only once this resolves
   * (state restored), and records below the offset it returns are skipped (the restored state
   * holds them). Heartbeats continue meanwhile.
   */
  readonly partitionReady?: (partition: number) => Promise<string | undefined>;
}

/** What /readyz reports while the source is not consuming. */
export interface SourceReadiness {
  readonly ready: boolean;
  readonly reason?: string;
}

// Commit failures that only mean "the group moved on": the next owner re-reads from the last
// successful commit, which at-least-once allows. Broker error codes (data), not messages.
const GROUP_MOVED_ON = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE']);

/**
 * A Kafka topic as a Source: one consumer in group `groupId`, `eachBatch` with manual offset
 * resolution and autoCommit off, so the only commits are `commit(positions)`, which the
 * at-least-once committer calls once a checkpoint's outputs and state are acknowledged
 * (positions are "next offset" per topic-partition; exactly-once commits them in its
 * transactions instead).
 *
 * - Ordering: kafkajs hands batches of one partition in offset order, one batch at a time, and
 *   each record is pushed synchronously into the pipeline before the next, so a partition's (and
 *   therefore a series') records stay in order.
 * - Backpressure: `pause()` pauses fetching of the whole topic and holds the batch in progress
 *   between records (heart-beating meanwhile), so in-flight records stay bounded by the runner's
 *   queue plus one fetch; nothing is dropped: a record is resolved only once handed over.
 * - Re-delivery after a rebalance that left a partition with us: records below what this process
 *   already handed over are skipped (its in-memory windows already hold them).
 * - Lifecycle: `start`/`stop`/`close` are idempotent. `stop()` stops fetching and completes
 *   `records()`; the group is left by `close()`, which the runner calls after its last checkpoint
 *   (leaving first would make that commit fail and the next owner redo the work).
 *
 * This file is over 400 lines because the consumer's lifecycle (connect, run, backpressure pauses, rebalance
 * hand-over, restart after an outage, stop) shares one consumer and its in-flight state; the outage
 * test (crashFromOutage) sits beside the code that acts on it.
 */
export class KafkaSource implements Source {
  readonly name: string;
  private readonly subject = new Subject<Ingested>();
  private readonly consumer: Consumer;
  private readonly abort = new AbortController();
  private starting?: Promise<void>;
  private stopping?: Promise<void>;
  private closing?: Promise<void>;
  private stopRequested = false;
  private running = false;
  private paused = false;
  private wakers: Array<() => void> = [];
  private joined = false;
  private notReadyReason = 'connecting to Kafka';
  private assigned = new Set<number>();
  /**
   * Next offset to hand over per partition: records kafkajs delivers again below it (after a
   * rebalance that left the partition here) are skipped. Delivery only: which offsets are safe to
   * commit is the checkpoints' (src/runtime/checkpoint/inputPositions.ts).
   */
  private readonly handedOver = new Map<number, bigint>();
  /** Partitions whose `partitionReady` gate has opened since they were assigned. */
  private readonly opened = new Set<number>();
  /** Commits run one at a time, in call order. */
  private committing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: KafkaSourceOptions) {
    this.name = `kafka:${opts.topic}`;
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      // kafkajs requires heartbeatInterval < sessionTimeout; a third is Kafka's own advice.
      heartbeatInterval: opts.heartbeatIntervalMs ?? Math.min(3000, Math.floor((opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS) / 3)),
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
      // The broker's long-poll wait; stop() waits for the poll in progress, so keep it short.
      maxWaitTimeInMs: 1000,
      // Read only committed data: forecasts and inputs written by a transactional producer
      // appear once their transaction commits (exactly-once upstream stays exactly-once).
      readUncommitted: false,
      allowAutoTopicCreation: false,
      // kafkajs decides to restart after a retriable crash only once its own disconnect, which
      // our close() may share, has finished; without this it would then start a consumer that
      // nothing stops any more: it rejoins the group, holds partitions, processes nothing and
      // keeps the process alive.
      retry: { retries: 5, restartOnFailure: async () => !this.stopRequested },
    });
    const { GROUP_JOIN, CRASH, REBALANCING, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => this.onJoin(e.payload.memberAssignment[opts.topic] ?? []));
    this.consumer.on(REBALANCING, () => {
      this.joined = false;
      this.notReadyReason = 'consumer group rebalancing';
    });
    this.consumer.on(CRASH, (e) => {
      const { error, restart } = e.payload;
      this.joined = false;
      if (restart) {
        this.notReadyReason = 'Kafka consumer restarting after an error';
        opts.logger.warn({ err: error }, 'Kafka consumer failed; kafkajs restarts it (readiness false until it rejoins)');
      } else if (crashFromOutage(error) && !this.stopRequested) {
        // kafkajs gives up for good when, after a broker restart, the group coordinator is not
        // back within its own retries; a longer outage is still an outage: start over here.
        this.notReadyReason = 'Kafka unreachable; restarting the consumer';
        this.running = false;
        const delayMs = 1000;
        opts.logger.warn({ err: error }, `Kafka consumer gave up while the broker was away (${error.message}); restarting it in ${delayMs / 1000} s`);
        setTimeout(() => {
          if (this.stopRequested) return;
          this.starting = this.connectAndRun().catch((err: unknown) => this.crashed(err));
        }, delayMs);
      } else this.crashed(error);
    });
    this.consumer.on(STOP, () => {
      this.joined = false;
    });
  }

  private crashed(error: unknown): void {
    this.notReadyReason = 'Kafka consumer crashed';
    // The cause itself, not a guess at it: kafkajs stops for good only on errors it marks
    // non-retriable (an authorization or protocol error names itself in `type`).
    this.subject.error(new StreamcastError('fatal', `Kafka consumer of ${this.opts.topic} stopped for good: ${describeError(error)}`, { cause: error }));
  }

  records(): Observable<Ingested> {
    return this.subject.asObservable();
  }

  /** Partitions of the input topic this instance owns now. */
  assignment(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  readiness(): SourceReadiness {
    if (this.stopRequested) return { ready: false, reason: 'shutting down' };
    if (!this.joined) return { ready: false, reason: this.notReadyReason };
    if (this.assigned.size === 0) return { ready: true, reason: 'joined; no partitions assigned (more instances than partitions)' };
    return { ready: true };
  }

  start(): Promise<void> {
    this.starting ??= this.connectAndRun();
    return this.starting;
  }

  private async connectAndRun(): Promise<void> {
    const { logger, topic } = this.opts;
    const r = this.opts.connectRetry ?? { initialMs: 500, maxMs: 15_000, retries: Number.MAX_SAFE_INTEGER };
    try {
      await retry(
        async () => {
          await this.consumer.connect();
          await this.consumer.subscribe({ topics: [topic], fromBeginning: this.opts.fromBeginning });
        },
        {
          ...r,
          signal: this.abort.signal,
          isRetriable: isRetriableKafkaError,
          onRetry: ({ attempt, delayMs, error }) => {
            this.notReadyReason = 'Kafka unreachable; retrying';
            logger.warn(
              { attempt: attempt + 1, delayMs, err: error },
              `cannot reach Kafka (${(error as Error).message}); retrying in ${(delayMs / 1000).toFixed(1)} s`,
            );
          },
        },
      );
    } catch (err) {
      // stop() during start-up: not a failure, the records stream is already complete.
      if (this.abort.signal.aborted) return;
      throw err;
    }
    if (this.stopRequested) return;
    this.notReadyReason = 'joining consumer group';
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.running = true;
    if (this.paused) this.applyPause();
    logger.info({ topic, groupId: this.opts.groupId }, `consuming ${topic} as group ${this.opts.groupId}`);
  }

  private onJoin(partitions: readonly number[]): void {
    const now = new Set(partitions);
    const revoked = [...this.assigned].filter((p) => !now.has(p));
    const added = partitions.filter((p) => !this.assigned.has(p));
    for (const p of revoked) {
      // Someone else owns it now: their progress, not our memory, says where it resumes.
      this.opened.delete(p);
      this.handedOver.delete(p);
    }
    if (revoked.length > 0) this.opts.events({ type: 'partitions_revoked', topic: this.opts.topic, partitions: revoked });
    this.assigned = now;
    this.joined = true;
    this.opts.onAssignment?.(added, revoked);
    this.opts.logger.info({ topic: this.opts.topic, partitions: this.assignment() }, `assigned partitions [${this.assignment().join(', ')}] of ${this.opts.topic}`);
    if (this.paused) this.applyPause();
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const live = () => !this.stopRequested && isRunning() && !isStale();
    // Records are waiting from here on, even if this batch then waits (restore, pause): the
    // liveness check (stallDetector.ts) needs to know they are there before they are taken.
    const hw = BigInt(batch.highWatermark);
    const waitingFrom = this.handedOver.get(partition) ?? BigInt(batch.messages[0]?.offset ?? batch.highWatermark);
    this.opts.events({ type: 'consumer_lag', topic, partition, lag: Number(hw > waitingFrom ? hw - waitingFrom : 0n) });
    if (this.opts.partitionReady !== undefined && !this.opened.has(partition)) {
      const gate = this.opts.partitionReady(partition);
      let from: string | undefined;
      let settled = false;
      void gate.then(
        (v) => {
          from = v;
          settled = true;
          this.wake();
        },
        () => {
          settled = true;
          this.wake();
        },
      );
      while (!settled && live()) {
        await this.waitForResume(1000);
        await heartbeat();
      }
      if (!live()) return;
      from = await gate; // rethrows a failed restore: kafkajs retries the batch
      if (from !== undefined) {
        const mark = this.handedOver.get(partition);
        if (mark === undefined || BigInt(from) > mark) this.handedOver.set(partition, BigInt(from));
      }
      this.opened.add(partition);
    }
    // Offsets are resolved (kafkajs: where this partition's next fetch starts) before every return
    // and await rather than per record, and kafkajs' running/stale checks, which only change while
    // this loop awaits, are made after each await: per record, the two took about 5 % of this thread.
    let unresolved: string | undefined;
    const settle = (): void => {
      if (unresolved === undefined) return;
      resolveOffset(unresolved);
      unresolved = undefined;
    };
    if (!live()) return;
    for (const m of batch.messages) {
      if (this.paused) {
        settle();
        while (this.paused && live()) {
          await this.waitForResume(1000);
          await heartbeat();
        }
        if (!live()) return;
      }
      if (this.stopRequested) break;
      const next = BigInt(m.offset) + 1n;
      const mark = this.handedOver.get(partition);
      if (mark === undefined || next > mark) {
        this.handedOver.set(partition, next);
        // Synchronous: the pipeline has taken the record when next() returns.
        this.subject.next(this.ingest(topic, partition, m, next));
      }
      unresolved = m.offset;
    }
    settle();
    if (this.stopRequested) return;
    const next = BigInt(batch.lastOffset()) + 1n;
    this.opts.events({ type: 'consumer_lag', topic, partition, lag: Number(hw > next ? hw - next : 0n) });
    await heartbeat();
  }

  private ingest(topic: string, partition: number, m: KafkaMessage, next: bigint): Ingested {
    // The key decoded once: the decoder takes valid UTF-8 as text and decodes raw bytes itself.
    const position = { topic, partition, offset: next.toString() };
    if (m.value === null) {
      // A tombstone (null value): on a compacted input topic it deletes its key; either way it
      // carries no point and nothing to keep, so it is counted, not dead-lettered (a producer
      // deleting keys would otherwise flood the dead-letter topic with empty letters).
      this.opts.events({ type: 'tombstones', count: 1 });
      return { points: NONE, deadLetters: NONE, position };
    }
    const key = m.key === null || m.key === undefined ? null : (utf8OrUndefined(m.key) ?? m.key);
    const source: RecordSource = { topic, partition, offset: m.offset, key: keyText(key) };
    const ts = Number(m.timestamp);
    const decoded = this.opts.decoder.decode(m.value, key, source, Number.isFinite(ts) ? ts : undefined);
    return { points: decoded.points, deadLetters: decoded.deadLetters, position, source, payload: m.value };
  }

  private waitForResume(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.push(done);
    });
  }

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.applyPause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.running && this.joined && !this.stopRequested) this.withGroup(() => this.consumer.resume([{ topic: this.opts.topic }]));
    this.wake();
  }

  private applyPause(): void {
    // Before run() there is no consumer group to pause; run() applies it once started. While
    // kafkajs restarts the consumer after an error (not joined) it has no group either: the
    // pause is applied again when the group is rejoined (onJoin), and the batch loop holds anyway.
    if (this.running && this.joined) this.withGroup(() => this.consumer.pause([{ topic: this.opts.topic }]));
  }

  /** pause/resume throw while kafkajs replaces its consumer group (a restart racing our `joined` flag). */
  private withGroup(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.opts.logger.debug({ err }, 'consumer pause/resume skipped: the consumer group is being re-created (re-applied on rejoin)');
    }
  }

  /**
   * Commits these input positions for the consumer group, now (one commit at a time). Positions of
   * partitions no longer assigned here are left out: their new owner's progress counts. A commit
   * refused because the group moved on (a rebalance) is logged, not thrown: the partition's next
   * owner re-reads from the last commit that landed, which at-least-once allows.
   */
  commit(positions: readonly Position[]): Promise<void> {
    const due = positions.filter((p) => p.topic === this.opts.topic && this.assigned.has(p.partition));
    // A failed earlier commit was already reported to its own caller; this one starts afresh.
    const previous = this.committing.catch((err: unknown) => this.opts.logger.debug({ err }, 'earlier commit had failed'));
    this.committing = previous.then(() => this.commitOffsets(due));
    return this.committing;
  }

  private async commitOffsets(due: readonly Position[]): Promise<void> {
    if (due.length === 0 || !this.running) return;
    try {
      await retry(() => this.consumer.commitOffsets(due.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset }))), {
        retries: 3,
        initialMs: 200,
        maxMs: 2000,
        isRetriable: (err) => isRetriableKafkaError(err) && !GROUP_MOVED_ON.has(kafkaErrorType(err) ?? ''),
      });
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause ?? err;
      if (isRetriableKafkaError(cause) || GROUP_MOVED_ON.has(kafkaErrorType(cause) ?? '')) {
        // At-least-once: the next commit (or the partition's next owner) covers these records.
        this.opts.logger.warn({ err }, 'offset commit failed; records since the last commit will be re-read after a restart or rebalance');
        return;
      }
      throw err;
    }
  }

  /** Stops fetching and completes `records()`; the group is left by `close()`. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopRequested = true;
      this.abort.abort(new StreamcastError('retriable', 'Kafka source stopped'));
      if (this.running) this.withGroup(() => this.consumer.pause([{ topic: this.opts.topic }]));
      this.wake();
      this.subject.complete();
    })();
    return this.stopping;
  }

  /** After the runner's last checkpoint: let a commit in progress end, leave the group, disconnect. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.stop();
      await this.starting?.catch(() => undefined);
      try {
        // Its failure, if any, was reported to the committer that asked for it.
        await this.committing.catch((err: unknown) => this.opts.logger.debug({ err }, 'the last offset commit had failed'));
      } finally {
        // disconnect() stops the consumer (which leaves the group) and closes the connections.
        await this.consumer.disconnect();
        this.running = false;
        this.opts.logger.info({ topic: this.opts.topic, groupId: this.opts.groupId }, 'left consumer group');
      }
    })();
    return this.closing;
  }
}

const NONE: readonly never[] = Object.freeze([]);

/** The key as text for dead letters: as it is when already decoded (valid UTF-8), else base64 with a `base64:` prefix. */
function keyText(key: string | Buffer | null): string | null {
  if (key === null || typeof key === 'string') return key;
  return `base64:${key.toString('base64')}`;
}

/** A crash that a broker being away explains (see isBrokerOutage): the consumer is restarted, not the pipeline stopped. */
export function crashFromOutage(error: unknown): boolean {
  return isBrokerOutage(error);
}
