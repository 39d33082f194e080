import type { Offsets, Producer, TopicMessages } from 'kafkajs';
import { retry } from '../../platform/retry.js';
import { hasKafkaErrorType } from './kafkaClient.js';
import { type PackedMessages, unpackTopicMessages } from './packedMessages.js';

/** One checkpoint's transaction: produce requests in order, then (optionally) the consumer offsets, then commit. */
export interface TransactionWork {
  /** Produce requests, as messages or packed (PackedMessages: left intact, so a retry can send them again). */
  readonly requests: ReadonlyArray<TopicMessages[] | PackedMessages>;
  readonly offsets?: Offsets & { readonly consumerGroupId: string };
}

const CONCURRENT = new Set(['CONCURRENT_TRANSACTIONS']);

/**
 * Runs `work` as one Kafka transaction of `producer` (transactional): all of it becomes visible
 * to read_committed consumers, offsets included, or none of it. On failure the transaction is
 * aborted when still open and the error is rethrown as kafkajs raised it (fencing, retriable).
 * Runs where the producer lives: on the producer thread, one request of that thread per
 * checkpoint instead of one per step of the transaction.
 */
export async function runTransaction(producer: Producer, work: TransactionWork): Promise<void> {
  const txn = await producer.transaction();
  try {
    for (const r of work.requests) await txn.sendBatch({ acks: -1, topicMessages: Array.isArray(r) ? r : unpackTopicMessages(r) });
    const offsets = work.offsets;
    if (offsets !== undefined) {
      // kafkajs does not retry CONCURRENT_TRANSACTIONS here (the previous transaction's markers
      // are still being written); the broker clears it within milliseconds.
      await retry(() => txn.sendOffsets(offsets), { retries: 20, initialMs: 20, maxMs: 500, isRetriable: (err) => hasKafkaErrorType(err, CONCURRENT) });
    }
    await txn.commit();
  } catch (err) {
    // The original error matters, not a failed abort: the caller replaces the producer, which
    // aborts whatever is still open.
    if (txn.isActive()) await txn.abort().catch(() => undefined);
    throw err;
  }
}

/** kafkajs initialises a transactional id on its first transaction: do it now, empty (this fences older producers of the id). */
export async function initTransactions(producer: Producer): Promise<void> {
  await (await producer.transaction()).abort();
}
