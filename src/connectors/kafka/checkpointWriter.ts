import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka, Message } from 'kafkajs';
import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import type { LogSink } from '../../observability/logger.js';
import type { CheckpointWriter, PartitionCheckpoint } from '../../runtime/checkpoint.js';
import { backoffDelay, retry } from '../../platform/retry.js';
import type { EncodedState } from '../../state/seriesStateStore.js';
import type { Sink } from '../sink.js';
import { readChangelog } from './changelogReader.js';
import { type PackedMessages, PackedMessagesBuilder } from './packedMessages.js';
import { hasKafkaErrorType, isBrokerOutage, isRetriableKafkaError } from './kafkaClient.js';
import { deadLetterMessage, forecastMessage, type KafkaOutput } from './kafkaSink.js';
import type { KafkaSource } from './kafkaSource.js';
import { inProcessProducers, type OutputProducer, type ProducerFactory } from './outputProducer.js';
import { outgoing, produceRequests } from './produceRequests.js';

export interface KafkaCheckpointTopics {
  readonly input: string;
  readonly output: string;
  readonly deadLetter: string;
  /** Compacted, as many partitions as `input`: changelog partition p holds the series of input partition p. */
  readonly changelog: string;
}

interface CommonOptions {
  readonly kafka: Kafka;
  readonly logger: LogSink;
  readonly groupId: string;
  readonly topics: KafkaCheckpointTopics;
  /** Shutdown: stops retrying a broker that is away. */
  readonly signal: AbortSignal;
  /** Bytes of values per produce request (the broker refuses a record batch above message.max.bytes). */
  readonly maxRequestBytes?: number;
}

export interface ExactlyOnceOptions extends CommonOptions {
  readonly guarantee: 'exactly-once';
  /** Names this process in offset-commit metadata (tells a landed commit from a lost one after an outage). */
  readonly instanceId: string;
  /** Where the transactional producers run (default: this thread, producers of `kafka`). */
  readonly producers?: ProducerFactory;
  readonly transactionTimeoutMs?: number;
}

export interface AtLeastOnceOptions extends CommonOptions {
  readonly guarantee: 'at-least-once';
  /** The pipeline's idempotent producer (shared with its sinks) and the source that commits offsets. */
  readonly output: KafkaOutput;
  /**
   * A second idempotent producer for the state changelog (default: `output`). With its own
   * producer a checkpoint's state (megabytes, several requests with one in flight) does not queue
   * ahead of the forecasts made meanwhile, which would add its whole send time to their latency.
   * Order is kept all the same: a checkpoint flushes `output`, then writes and flushes the state,
   * then commits offsets.
   */
  readonly stateOutput?: KafkaOutput;
  readonly source: KafkaSource;
}

export type KafkaCheckpointWriterOptions = ExactlyOnceOptions | AtLeastOnceOptions;

// Broker error codes saying "another producer owns this transactional id now": an error is told
// by the data it carries (the broker's code), never by its message text.
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);

const OUTAGE_RETRY = { retries: Number.MAX_SAFE_INTEGER, initialMs: 300, maxMs: 10_000 };

/** The changelog record of one series: keyed by series, in the partition of its input partition; a null value (tombstone) for an evicted series. */
export function stateMessage(s: EncodedState): Message {
  const v = s.value;
  return { key: s.series, value: v === null ? null : Buffer.from(v.buffer, v.byteOffset, v.byteLength), partition: s.partition };
}

/**
 * Checkpoints on Kafka.
 *
 * exactly-once: one transactional producer per owned input partition, transactional.id
 * `<group>.<input topic>.<partition>`. Each checkpoint is, per partition, one transaction:
 * forecasts and dead letters, then the partition's changed state (to the same-numbered changelog
 * partition), then `sendOffsets` of the input offset for the consumer group, then commit.
 * Fencing: whoever is assigned partition p initialises that transactional id before restoring
 * p's state; the broker then aborts (or completes) the previous owner's open transaction and
 * refuses its later ones (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH), so a zombie that lost p can
 * never commit output or offsets for it, and the new owner restores exactly the last committed
 * state and offset. (kafkajs 2.2.4 has no KIP-447 group-metadata fencing, hence one id per
 * partition rather than one per instance.)
 *
 * at-least-once: forecasts go out through the pipeline's idempotent producer as soon as they are
 * made; a checkpoint flushes them, produces the changed state, flushes, then commits offsets.
 */
export class KafkaCheckpointWriter implements CheckpointWriter {
  readonly eager: boolean;
  private readonly producers = new Map<number, OutputProducer>();
  private readonly staged = new Map<number, PackedMessagesBuilder>();
  private readonly maxRequestBytes: number;
  private admin?: Promise<Admin>;
  private seq = 0;
  private closing?: Promise<void>;
  private readonly sinks?: { forecasts: Sink<Forecast>; deadLetters: Sink<DeadLetter>; state: Sink<EncodedState> };

  constructor(private readonly opts: KafkaCheckpointWriterOptions) {
    this.eager = opts.guarantee === 'at-least-once';
    this.maxRequestBytes = opts.maxRequestBytes ?? 512 * 1024;
    if (opts.guarantee === 'at-least-once') {
      this.sinks = {
        forecasts: opts.output.sink<Forecast>(opts.topics.output, forecastMessage),
        deadLetters: opts.output.sink<DeadLetter>(opts.topics.deadLetter, deadLetterMessage),
        state: (opts.stateOutput ?? opts.output).sink<EncodedState>(opts.topics.changelog, stateMessage),
      };
    }
  }

  async emit(forecasts: readonly Forecast[], deadLetters: readonly DeadLetter[]): Promise<void> {
    if (this.sinks === undefined) return;
    if (forecasts.length > 0) await this.sinks.forecasts.write(forecasts);
    if (deadLetters.length > 0) await this.sinks.deadLetters.write(deadLetters);
    await this.sinks.forecasts.flush();
  }

  /** Exactly-once: a partition's forecasts, packed as they come, wait here for its next transaction. */
  stage(partition: number, forecasts: readonly Forecast[]): void {
    let b = this.staged.get(partition);
    if (b === undefined) this.staged.set(partition, (b = new PackedMessagesBuilder(this.opts.topics.output, this.maxRequestBytes)));
    for (const f of forecasts) {
      const m = forecastMessage(f);
      b.add(m.key, m.value);
    }
  }

  async acquire(partition: number): Promise<void> {
    this.staged.delete(partition);
    if (this.opts.guarantee !== 'exactly-once') return;
    await this.replaceProducer(partition);
  }

  /** A fresh producer for the partition's transactional id, initialised (which fences every earlier one). */
  private async replaceProducer(partition: number): Promise<OutputProducer> {
    const o = this.opts as ExactlyOnceOptions;
    const old = this.producers.get(partition);
    this.producers.delete(partition);
    if (old !== undefined) await old.disconnect().catch((err: unknown) => o.logger.debug({ err }, 'old transactional producer disconnect failed'));
    return retry(
      async () => {
        const producer = (o.producers ?? inProcessProducers(o.kafka)).producer({
          idempotent: true,
          transactionalId: `${o.groupId}.${o.topics.input}.${partition}`,
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

  async release(partition: number): Promise<void> {
    this.staged.delete(partition);
    const p = this.producers.get(partition);
    this.producers.delete(partition);
    await p?.disconnect();
  }

  async readChangelog(partitions: readonly number[], onRecord: (series: string, value: Uint8Array | null, partition: number) => void): Promise<number> {
    const { kafka, topics, groupId, logger, signal } = this.opts;
    return retry(() => readChangelog({ kafka, topic: topics.changelog, partitions, groupPrefix: groupId, onRecord, logger }), {
      ...OUTAGE_RETRY,
      signal,
      isRetriable: (err) => isRetriableKafkaError(err) || (err as { kind?: unknown }).kind === 'retriable',
      onRetry: ({ delayMs, error }) => logger.warn({ err: error, delayMs }, `restoring state from ${topics.changelog} failed; retrying`),
    });
  }

  async committedOffset(partition: number): Promise<string | undefined> {
    const c = await this.committed(partition);
    return c?.offset;
  }

  private async committed(partition: number): Promise<{ offset: string; metadata: string | null } | undefined> {
    const { groupId, topics, signal } = this.opts;
    return retry(
      async () => {
        const admin = await this.adminClient();
        const [t] = await admin.fetchOffsets({ groupId, topics: [topics.input] });
        const p = t?.partitions.find((x) => x.partition === partition);
        if (p === undefined || p.offset === '-1') return undefined;
        return { offset: p.offset, metadata: p.metadata };
      },
      { ...OUTAGE_RETRY, signal, isRetriable: isRetriableKafkaError },
    );
  }

  private adminClient(): Promise<Admin> {
    this.admin ??= (async () => {
      const a = this.opts.kafka.admin();
      await a.connect();
      return a;
    })().catch((err: unknown) => {
      this.admin = undefined;
      throw err;
    });
    return this.admin;
  }

  async commit(parts: readonly PartitionCheckpoint[]): Promise<readonly number[]> {
    if (this.opts.guarantee === 'at-least-once') {
      await this.commitAtLeastOnce(this.opts, parts);
      return [];
    }
    const seq = ++this.seq;
    // Taken now: whatever a partition staged up to this call belongs to this checkpoint.
    const staged = parts.map((part) => this.staged.get(part.partition)?.take() ?? []);
    const outcomes = await Promise.all(parts.map((part, i) => this.commitPartition(part, staged[i]!, seq)));
    return parts.filter((_, i) => outcomes[i] === 'lost').map((p) => p.partition);
  }

  private async commitAtLeastOnce(o: AtLeastOnceOptions, parts: readonly PartitionCheckpoint[]): Promise<void> {
    const sinks = this.sinks!;
    const dead = parts.flatMap((p) => p.deadLetters);
    if (dead.length > 0) await sinks.deadLetters.write(dead);
    // 1. forecasts (sent per batch) and dead letters acknowledged; 2. state; 3. offsets.
    await o.output.flush();
    const state = parts.flatMap((p) => p.state);
    if (state.length > 0) {
      await sinks.state.write(state);
      await sinks.state.flush();
    }
    const positions = parts.flatMap((p) => (p.position === undefined ? [] : [p.position]));
    if (positions.length > 0) await o.source.commit(positions);
  }

  private async commitPartition(part: PartitionCheckpoint, staged: readonly PackedMessages[], seq: number): Promise<'ok' | 'lost'> {
    const o = this.opts as ExactlyOnceOptions;
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
        if (part.position !== undefined && (await this.committed(part.partition))?.metadata === marker) return 'ok';
      }
    }
  }

  private transact(producer: OutputProducer, part: PartitionCheckpoint, staged: readonly PackedMessages[], marker: string): Promise<void> {
    const o = this.opts as ExactlyOnceOptions;
    const outputs = [...part.forecasts.map((f) => outgoing(o.topics.output, forecastMessage(f))), ...part.deadLetters.map((d) => outgoing(o.topics.deadLetter, deadLetterMessage(d)))];
    const state = part.state.map((st) => outgoing(o.topics.changelog, stateMessage(st)));
    // Outputs and state in requests of their own, after what was staged.
    const requests = [...staged, ...produceRequests(outputs, this.maxRequestBytes), ...produceRequests(state, this.maxRequestBytes)];
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

  close(): Promise<void> {
    this.closing ??= (async () => {
      const all = [...this.producers.values()];
      this.producers.clear();
      await Promise.allSettled(all.map((p) => p.disconnect()));
      const admin = await this.admin?.catch(() => undefined);
      await admin?.disconnect();
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
