import { setTimeout as sleep } from 'node:timers/promises';
import type { Forecast } from '../../domain/forecast.js';
import type { SeriesId } from '../../domain/point.js';
import type { LogSink } from '../../observability/logger.js';
import { backoffDelay, retry } from '../../platform/retry.js';
import type { Checkpoint, Committer, PartitionCheckpoint, SealedOutputs } from '../committer.js';
import type { KafkaCheckpointReader } from './kafkaCheckpointReader.js';
import { OUTAGE_RETRY } from './kafkaCheckpointReader.js';
import { hasKafkaErrorType, isBrokerOutage, isRetriableKafkaError } from './kafkaClient.js';
import { deadLetterMessage, forecastMessage, stateMessage } from './kafkaSink.js';
import type { OutputProducer, ProducerFactory } from './outputProducer.js';
import { type PackedMessages, PackedMessagesBuilder } from './packedMessages.js';
import { outgoing, produceRequests } from './produceRequests.js';
import { type PipelineTopics, transactionalId } from './topics.js';

// Broker error codes saying "another producer owns this transactional id now" (errors as data).
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);

const NOTHING_SEALED: SealedOutputs = { partitions: new Set() };

export interface ExactlyOnceOptions {
  readonly producers: ProducerFactory;
  /** Reads the group's committed offsets: tells a commit that landed from one that was lost. */
  readonly reader: Pick<KafkaCheckpointReader, 'committed'>;
  readonly logger: LogSink;
  readonly groupId: string;
  readonly topics: PipelineTopics;
  /** Names this process in offset-commit metadata (tells a landed commit from a lost one after an outage). */
  readonly instanceId: string;
  /** Shutdown: stops retrying a broker that is away. */
  readonly signal: AbortSignal;
  /** Bytes of values per produce request (the broker refuses a record batch above message.max.bytes). */
  readonly maxRequestBytes?: number;
  readonly transactionTimeoutMs?: number;
}

/** Who waits for the commit of one checkpoint's forecasts. */
class Waiters {
  count = 0;
  readonly committed: Promise<void>;
  settle!: (err?: unknown) => void;

  constructor() {
    this.committed = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err === undefined ? resolve() : reject(err));
    });
    // A checkpoint whose writes nobody awaits must not report an unhandled rejection.
    this.committed.catch(() => undefined);
  }
}

/** A sealed checkpoint's forecasts: produce requests per input partition, and who waits for them. */
interface Sealed {
  readonly requests: Map<number, PackedMessages[]>;
  readonly waiters: Waiters;
}

/**
 * Exactly-once on Kafka: one transactional producer per owned input partition, transactional.id
 * from topics.ts. Each checkpoint is, per partition, one transaction: forecasts and dead letters,
 * then the partition's changed state (to the same-numbered changelog partition), then
 * `sendOffsets` of the input offset for the consumer group, then commit.
 *
 * Fencing: whoever is assigned partition p initialises that transactional id (`acquire`) before
 * restoring p's state; the broker then aborts (or completes) the previous owner's open transaction
 * and refuses its later ones (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH), so a zombie that lost p
 * can never commit output or offsets for it, and the new owner restores exactly the last
 * committed state and offset.
 *
 * Forecasts are packed as they are written and wait, per partition, for their checkpoint's
 * transaction (readers see them once it commits). A transaction that fails while the broker is
 * away is retried with a fresh producer for the same id, after checking, through the offset
 * commit's metadata, that it did not land after all.
 */
export class ExactlyOnceCommitter implements Committer {
  private readonly producers = new Map<number, OutputProducer>();
  private readonly maxRequestBytes: number;
  /** Forecasts written since the last seal, packed per partition (a builder's buffer is reused from one checkpoint to the next). */
  private readonly builders = new Map<number, PackedMessagesBuilder>();
  private open = new Waiters();
  /** Sealed and not yet committed, by what `seal` returned for them (a non-empty seal is always committed). */
  private readonly sealed = new Map<SealedOutputs, Sealed>();
  private seq = 0;
  private closing?: Promise<void>;

  constructor(private readonly opts: ExactlyOnceOptions) {
    this.maxRequestBytes = opts.maxRequestBytes ?? 512 * 1024;
  }

  get held(): number {
    return this.open.count;
  }

  write(forecasts: readonly Forecast[], partitionOf: (series: SeriesId) => number): Promise<void> {
    for (const f of forecasts) {
      const p = partitionOf(f.series);
      let b = this.builders.get(p);
      if (b === undefined) this.builders.set(p, (b = new PackedMessagesBuilder(this.opts.topics.output, this.maxRequestBytes)));
      const m = forecastMessage(f);
      b.add(m.key, m.value);
    }
    this.open.count += forecasts.length;
    return this.open.committed;
  }

  seal(): SealedOutputs {
    const waiters = this.open;
    this.open = new Waiters();
    const requests = new Map<number, PackedMessages[]>();
    for (const [p, b] of this.builders) if (b.count > 0) requests.set(p, b.take());
    if (requests.size === 0) {
      waiters.settle(); // nothing to wait for
      return NOTHING_SEALED;
    }
    const sealed: SealedOutputs = { partitions: new Set(requests.keys()) };
    this.sealed.set(sealed, { requests, waiters });
    return sealed;
  }

  async acquire(partition: number): Promise<void> {
    this.discard(partition);
    await this.replaceProducer(partition);
  }

  async release(partition: number): Promise<void> {
    this.discard(partition);
    const p = this.producers.get(partition);
    this.producers.delete(partition);
    await p?.disconnect();
  }

  /** Forgets what a partition has staged: its new owner redoes that work. */
  private discard(partition: number): void {
    this.builders.delete(partition);
    for (const s of this.sealed.values()) s.requests.delete(partition);
  }

  async commit({ outputs, parts }: Checkpoint): Promise<readonly number[]> {
    const sealed = this.sealed.get(outputs);
    this.sealed.delete(outputs);
    try {
      const seq = ++this.seq;
      const outcomes = await Promise.all(parts.map((part) => this.commitPartition(part, sealed?.requests.get(part.partition) ?? [], seq)));
      sealed?.waiters.settle();
      return parts.filter((_, i) => outcomes[i] === 'lost').map((p) => p.partition);
    } catch (err) {
      sealed?.waiters.settle(err);
      throw err;
    }
  }

  /** A fresh producer for the partition's transactional id, initialised (which fences every earlier one). */
  private async replaceProducer(partition: number): Promise<OutputProducer> {
    const o = this.opts;
    const old = this.producers.get(partition);
    this.producers.delete(partition);
    if (old !== undefined) await old.disconnect().catch((err: unknown) => o.logger.debug({ err }, 'old transactional producer disconnect failed'));
    return retry(
      async () => {
        const producer = o.producers.producer({
          idempotent: true,
          transactionalId: transactionalId(o.groupId, o.topics.input, partition),
          transactionTimeout: o.transactionTimeoutMs ?? 30_000,
        });
        try {
          await producer.connect();
          await producer.initTransactions();
        } catch (err) {
          await producer.disconnect().catch(() => undefined);
          throw err;
        }
        this.producers.set(partition, producer);
        return producer;
      },
      {
        ...OUTAGE_RETRY,
        signal: o.signal,
        isRetriable: isRetriableKafkaError,
        onRetry: ({ delayMs, error }) => o.logger.warn({ err: error, partition, delayMs }, `cannot initialise the transactional producer of partition ${partition}; retrying`),
      },
    );
  }

  private async commitPartition(part: PartitionCheckpoint, staged: readonly PackedMessages[], seq: number): Promise<'ok' | 'lost'> {
    const o = this.opts;
    const marker = `${o.instanceId}:${seq}`;
    for (let attempt = 0; ; attempt++) {
      const producer = this.producers.get(part.partition);
      if (producer === undefined) return 'lost'; // released (revoked) meanwhile
      try {
        await this.transact(producer, part, staged, marker);
        return 'ok';
      } catch (err) {
        if (hasKafkaErrorType(err, FENCED)) return 'lost';
        if (!retriableChain(err) || o.signal.aborted) throw err;
        const delayMs = backoffDelay(attempt, { initialMs: 300, maxMs: 10_000 }, Math.random);
        o.logger.warn({ err, partition: part.partition, attempt: attempt + 1, delayMs }, `checkpoint transaction of partition ${part.partition} failed; retrying in ${(delayMs / 1000).toFixed(1)} s`);
        await sleep(delayMs, undefined, { signal: o.signal });
        // A new producer for the id aborts our open transaction, or completes it if its commit
        // had reached the coordinator: then the group's offset metadata carries our marker.
        await this.replaceProducer(part.partition);
        if (part.position !== undefined && (await o.reader.committed(part.partition))?.metadata === marker) return 'ok';
      }
    }
  }

  private transact(producer: OutputProducer, part: PartitionCheckpoint, staged: readonly PackedMessages[], marker: string): Promise<void> {
    const o = this.opts;
    const letters = part.deadLetters.map((d) => outgoing(o.topics.deadLetter, deadLetterMessage(d)));
    const state = part.state.map((st) => outgoing(o.topics.changelog, stateMessage(st)));
    // Dead letters and state in requests of their own, after the staged forecasts.
    const requests = [...staged, ...produceRequests(letters, this.maxRequestBytes), ...produceRequests(state, this.maxRequestBytes)];
    const offsets =
      part.position === undefined
        ? undefined
        : {
            consumerGroupId: o.groupId,
            // kafkajs passes `metadata` through to TxnOffsetCommit although its types omit it.
            topics: [{ topic: part.position.topic, partitions: [{ partition: part.partition, offset: part.position.offset, metadata: marker }] }],
          };
    return producer.transact(offsets === undefined ? { requests } : { requests, offsets });
  }

  /** Disconnects every transactional producer; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const all = [...this.producers.values()];
      this.producers.clear();
      await Promise.allSettled(all.map((p) => p.disconnect()));
    })();
    return this.closing;
  }
}

/**
 * Retriable when the error or a cause is: kafkajs' transaction code bails out of its own retries
 * with a non-retriable wrapper around a (retriable) connection error when the broker goes away.
 * Retrying a checkpoint is safe whatever stage failed: the retry starts with a fresh producer for
 * the same id (aborting the open transaction) and first checks whether the commit landed.
 */
function retriableChain(err: unknown): boolean {
  return isBrokerOutage(err);
}
