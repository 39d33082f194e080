import type { Admin, Kafka } from 'kafkajs';
import type { LogSink } from '../../observability/logger.js';
import { retry } from '../../platform/retry.js';
import type { CheckpointReader } from '../checkpointReader.js';
import { readChangelog } from './changelogReader.js';
import { isRetriableKafkaError } from './kafkaClient.js';
import type { PipelineTopics } from './topics.js';

/** Retries for a broker that is away: until it is back or shutdown aborts them. */
export const OUTAGE_RETRY = { retries: Number.MAX_SAFE_INTEGER, initialMs: 300, maxMs: 10_000 };

/** A partition's committed input offset and the metadata its commit carried. */
export interface CommittedOffset {
  readonly offset: string;
  readonly metadata: string | null;
}

/**
 * Reads a partition's checkpoint back from Kafka: the state changelog partitions from their
 * beginning (committed data only) and the consumer group's committed input offset, retrying
 * while the broker is away.
 */
export class KafkaCheckpointReader implements CheckpointReader {
  private admin?: Promise<Admin>;
  private closing?: Promise<void>;

  constructor(
    private readonly opts: {
      readonly kafka: Kafka;
      readonly logger: LogSink;
      readonly groupId: string;
      readonly topics: Pick<PipelineTopics, 'input' | 'changelog'>;
      /** Shutdown: stops retrying a broker that is away. */
      readonly signal: AbortSignal;
    },
  ) {}

  readChangelog(partitions: readonly number[], onRecord: (series: string, value: Uint8Array | null, partition: number) => void): Promise<number> {
    const { kafka, topics, groupId, logger, signal } = this.opts;
    return retry(() => readChangelog({ kafka, topic: topics.changelog, partitions, groupPrefix: groupId, onRecord, logger }), {
      ...OUTAGE_RETRY,
      signal,
      isRetriable: (err) => isRetriableKafkaError(err) || (err as { kind?: unknown }).kind === 'retriable',
      onRetry: ({ delayMs, error }) => logger.warn({ err: error, delayMs }, `restoring state from ${topics.changelog} failed; retrying`),
    });
  }

  async committedOffset(partition: number): Promise<string | undefined> {
    return (await this.committed(partition))?.offset;
  }

  /** The group's committed offset of an input partition with its metadata (exactly-once names its commits there). */
  committed(partition: number): Promise<CommittedOffset | undefined> {
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

  close(): Promise<void> {
    this.closing ??= (async () => {
      const admin = await this.admin?.catch(() => undefined);
      await admin?.disconnect();
    })();
    return this.closing;
  }
}
