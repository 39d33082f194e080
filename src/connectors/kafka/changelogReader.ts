import { randomUUID } from 'node:crypto';
import { AssignerProtocol, type Kafka, type PartitionAssigner } from 'kafkajs';
import { StreamcastError } from '../../domain/errors.js';
import type { LogSink } from '../../observability/logger.js';

export interface ChangelogReadOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /**
   * The partitions to read: a list (each must exist), or a test over the topic's partitions (a
   * reader of the partitions some other instance owns does not know how many there are).
   */
  readonly partitions: readonly number[] | ((partition: number) => boolean);
  /** Prefix of the throw-away consumer group (kafkajs has no group-less assign()). */
  readonly groupPrefix: string;
  /** Called once per record in offset order per partition; a null value is a tombstone. */
  readonly onRecord: (key: string, value: Uint8Array | null, partition: number) => void;
  readonly logger: LogSink;
  /** Give up when no progress was made for this long (default 60 s). */
  readonly stallMs?: number;
  /** Stops the read: it rejects with the signal's reason once the consumer is connected (connecting finishes first). */
  readonly signal?: AbortSignal;
}

/**
 * Reads partitions of a (compacted) changelog topic from the beginning up to their end offsets
 * as of the call, reading committed data only. kafkajs 2 cannot assign partitions without a
 * consumer group, so this joins a group of its own whose assigner hands exactly `partitions`
 * to its one member; the group is never committed to and expires on its own.
 *
 * Completion is judged from kafkajs' END_BATCH_PROCESS events, which also report batches that
 * held only transaction markers or aborted records: a partition whose tail is a commit marker
 * still reaches its end offset.
 */
export async function readChangelog(opts: ChangelogReadOptions): Promise<number> {
  const { kafka, topic, logger } = opts;
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, { low: bigint; high: bigint }>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  } finally {
    await admin.disconnect();
  }
  const remaining = new Map<number, bigint>();
  const select = opts.partitions;
  const partitions = typeof select === 'function' ? [...ends.keys()].filter((p) => select(p)) : select;
  for (const p of partitions) {
    const e = ends.get(p);
    if (e === undefined) throw new StreamcastError('fatal', `changelog ${topic} has no partition ${p}; it must have as many partitions as the input topic (co-partitioned by series)`);
    if (e.high > e.low) remaining.set(p, e.high);
  }
  if (remaining.size === 0) return 0;

  const wanted = [...remaining.keys()];
  const consumer = kafka.consumer({
    groupId: `${opts.groupPrefix}.restore.${randomUUID()}`,
    partitionAssigners: [fixedAssigner(topic, wanted)],
    maxBytesPerPartition: 16 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
    maxWaitTimeInMs: 100,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });
  let records = 0;
  let lastProgress = Date.now();
  let settle!: (err?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err === undefined ? resolve() : reject(err));
  });
  // Settled early (stopped, crashed) while still connecting: awaited below, never unhandled.
  done.catch(() => undefined);
  const progressed = (partition: number, lastOffset: string) => {
    lastProgress = Date.now();
    const end = remaining.get(partition);
    if (end !== undefined && BigInt(lastOffset) + 1n >= end) remaining.delete(partition);
    if (remaining.size === 0) settle();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => progressed(e.payload.partition, e.payload.lastOffset));
  consumer.on(consumer.events.CRASH, (e) => settle(e.payload.error));
  const abort = (): void => settle(opts.signal?.reason ?? new StreamcastError('retriable', `reading ${topic} was stopped`));
  if (opts.signal?.aborted === true) abort();
  opts.signal?.addEventListener('abort', abort, { once: true });
  const stallMs = opts.stallMs ?? 60_000;
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress > stallMs) {
      settle(new StreamcastError('retriable', `restoring ${topic} partitions [${[...remaining.keys()].join(', ')}] made no progress for ${stallMs / 1000} s`));
    }
  }, 1000);
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: Math.max(1, wanted.length),
      eachBatch: async ({ batch }) => {
        if (!remaining.has(batch.partition)) return;
        for (const m of batch.messages) {
          if (m.key === null || m.key === undefined) continue;
          opts.onRecord(m.key.toString('utf8'), m.value ?? null, batch.partition);
          records++;
        }
      },
    });
    await done;
  } finally {
    clearInterval(watchdog);
    opts.signal?.removeEventListener('abort', abort);
    await consumer.disconnect().catch((err: unknown) => logger.debug({ err }, 'restore consumer disconnect failed'));
  }
  return records;
}

/** Assigns `partitions` of `topic` to the group's first member (the group has only one). */
function fixedAssigner(topic: string, partitions: readonly number[]): PartitionAssigner {
  const name = 'StreamcastFixedAssigner';
  return () => ({
    name,
    version: 1,
    async assign({ members }) {
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: i === 0 ? { [topic]: [...partitions] } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return { name, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}
