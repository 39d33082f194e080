import type { KafkaMessage } from 'kafkajs';
import { afterAll, expect, it } from 'vitest';
import { kafkaConfigFrom } from '../../../src/config/kafkaConfig.js';
import { kafkaErrorType } from '../../../src/connectors/kafka/kafkaClient.js';
import { keyPartition } from '../../../src/connectors/kafka/murmur2Partitioner.js';
import { ProducerThread } from '../../../src/connectors/kafka/producerThread.js';
import { StreamcastError } from '../../../src/domain/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import { describeWithKafka, requireKafkaBrokers } from '../../helpers/services.js';
import { createTopic, testKafka, uniqueName, waitFor } from './harness.js';

const logger = createLogger({ level: 'silent' });

/** Every committed message of `topic` (read_committed), once `count` have arrived. */
async function readCommitted(brokers: string[], topic: string, count: number): Promise<Array<{ partition: number; message: KafkaMessage }>> {
  const consumer = testKafka(brokers).consumer({ groupId: uniqueName('read') });
  const got: Array<{ partition: number; message: KafkaMessage }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ partition, message }) => void got.push({ partition, message }) });
    await waitFor(() => got.length >= count, 20_000, `${count} messages in ${topic}`);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describeWithKafka('ProducerThread: kafkajs producers on a worker thread, on a real broker', () => {
  const threads: ProducerThread[] = [];
  const thread = (brokers: string[]) => {
    const t = new ProducerThread({ cfg: kafkaConfigFrom({}, { pipeline: uniqueName('pt'), brokers }), logger });
    threads.push(t);
    return t;
  };
  afterAll(async () => {
    await Promise.all(threads.map((t) => t.close()));
  });

  it('writes keyed messages whole, in order per key, to the partition Kafka’s default partitioner picks', async () => {
    const brokers = requireKafkaBrokers();
    const topic = uniqueName('pt.keys');
    await createTopic(testKafka(brokers), topic, 4);
    const producer = thread(brokers).producer({ idempotent: true });
    await producer.connect();
    const sent: Array<{ key: string; value: string }> = [];
    for (let i = 0; i < 600; i++) sent.push({ key: `series-${i % 37}-é`, value: JSON.stringify({ i, pad: 'x'.repeat(i % 300) }) });
    for (let i = 0; i < sent.length; i += 200) await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: sent.slice(i, i + 200) }] });
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: [{ key: 'pinned', value: 'p', partition: 2 }] }] });
    const got = await readCommitted(brokers, topic, sent.length + 1);
    expect(got.length).toBe(sent.length + 1);
    const byKey = new Map<string, number[]>();
    for (const { partition, message } of got) {
      const key = message.key!.toString('utf8');
      if (key === 'pinned') {
        expect(partition).toBe(2);
        continue;
      }
      expect(partition).toBe(keyPartition(key, 4));
      const list = byKey.get(key) ?? [];
      list.push((JSON.parse(message.value!.toString('utf8')) as { i: number }).i);
      byKey.set(key, list);
    }
    for (const [key, is] of byKey) {
      expect(is).toEqual(sent.flatMap((s, i) => (s.key === key ? [i] : [])));
    }
    await producer.disconnect();
  });

  it('a producer fenced by a newer one of its transactional id fails with the broker’s fencing error type and writes nothing', async () => {
    const brokers = requireKafkaBrokers();
    const topic = uniqueName('pt.txn');
    await createTopic(testKafka(brokers), topic, 1);
    const transactionalId = uniqueName('txn');
    const old = thread(brokers).producer({ idempotent: true, transactionalId });
    await old.connect();
    await old.initTransactions();
    await old.transact({ requests: [[{ topic, messages: [{ key: 'k', value: 'first' }] }]] });

    const fresh = thread(brokers).producer({ idempotent: true, transactionalId });
    await fresh.connect();
    await fresh.initTransactions(); // fences `old`
    await fresh.transact({ requests: [[{ topic, messages: [{ key: 'k', value: 'owner' }] }]] });

    const err = await old.transact({ requests: [[{ topic, messages: [{ key: 'k', value: 'zombie' }] }]] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const types: Array<string | undefined> = [];
    for (let e: unknown = err; e !== undefined; e = (e as { cause?: unknown }).cause) types.push(kafkaErrorType(e));
    expect(types.some((t) => t === 'PRODUCER_FENCED' || t === 'INVALID_PRODUCER_EPOCH' || t === 'INVALID_PRODUCER_ID_MAPPING')).toBe(true);
    const got = await readCommitted(brokers, topic, 2);
    expect(got.map((g) => g.message.value!.toString())).toEqual(['first', 'owner']);
  });

  it('after close, a send fails as fatal instead of hanging', async () => {
    const brokers = requireKafkaBrokers();
    const t = thread(brokers);
    const producer = t.producer({ idempotent: true });
    await producer.connect();
    await t.close();
    await t.close(); // idempotent
    const err = await producer.sendBatch({ acks: -1, topicMessages: [{ topic: 'never', messages: [{ value: 'v' }] }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StreamcastError);
    expect((err as StreamcastError).kind).toBe('fatal');
  });
});
