import type { EachBatchPayload, Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { decoderFor } from '../../../../src/codecs/codec.js';
import { KafkaSource } from '../../../../src/connectors/kafka/kafkaSource.js';
import type { Ingested } from '../../../../src/domain/ingested.js';
import type { PipelineEvent } from '../../../../src/observability/events.js';
import { createLogger } from '../../../../src/observability/logger.js';

// What the Kafka source makes of each record, against a stand-in kafkajs consumer (pure logic;
// the real consumer is exercised by test/integration/kafka).

type Handler = (e: { payload: { memberAssignment: Record<string, number[]> } }) => void;

async function consume(values: ReadonlyArray<Buffer | null>): Promise<{ got: Ingested[]; events: PipelineEvent[] }> {
  const handlers = new Map<string, Handler>();
  let eachBatch: ((p: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = {
    events: { GROUP_JOIN: 'join', CRASH: 'crash', REBALANCING: 'rebalancing', STOP: 'stop' },
    on: (event: string, h: Handler) => void handlers.set(event, h),
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (o: { eachBatch: (p: EachBatchPayload) => Promise<void> }) => void (eachBatch = o.eachBatch),
    pause: () => undefined,
    resume: () => undefined,
  };
  const events: PipelineEvent[] = [];
  const source = new KafkaSource({
    kafka: { consumer: () => consumer } as unknown as Kafka,
    topic: 'in',
    groupId: 'g',
    decoder: decoderFor('json'),
    fromBeginning: true,
    logger: createLogger({ level: 'silent' }),
    events: (e) => events.push(e),
  });
  const got: Ingested[] = [];
  source.records().subscribe((r) => got.push(r));
  await source.start();
  handlers.get('join')!({ payload: { memberAssignment: { in: [0] } } });
  await eachBatch!({
    batch: {
      topic: 'in',
      partition: 0,
      highWatermark: String(values.length),
      lastOffset: () => String(values.length - 1),
      messages: values.map((value, o) => ({ offset: String(o), key: Buffer.from('s'), value, timestamp: '0', headers: {} })),
    },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload);
  return { got, events: events.filter((e) => e.type !== 'consumer_lag') };
}

describe('KafkaSource records', () => {
  it('counts a tombstone (null value) as a tombstone: no point, no dead letter, its offset still passed on', async () => {
    const { got, events } = await consume([null, Buffer.from('{"series":"s","ts":0,"value":1}'), Buffer.from('')]);
    expect(got.map((r) => r.position.offset)).toEqual(['1', '2', '3']);
    expect(got[0]).toMatchObject({ points: [], deadLetters: [] });
    expect(events).toEqual([{ type: 'tombstones', count: 1 }]);
    // An empty but present value is a malformed record, not a tombstone.
    expect(got[2]!.deadLetters.map((d) => [d.reason, d.message])).toEqual([['invalid_json', 'payload is empty']]);
  });

  it('hands over the provenance and original bytes, for a dead letter should the pipeline fail on the record', async () => {
    const value = Buffer.from('{"series":"s","ts":0,"value":1}');
    const { got } = await consume([value]);
    expect(got[0]!.source).toEqual({ topic: 'in', partition: 0, offset: '0', key: 's' });
    expect(got[0]!.payload).toBe(value);
  });

  it('dead-letters the 5,000-deep poison pill instead of throwing out of the batch', async () => {
    const pill = Buffer.from(`[${'['.repeat(5000)}${']'.repeat(5000)}]`);
    const { got } = await consume([pill, Buffer.from('{"series":"s","ts":0,"value":1}')]);
    expect(got.map((r) => r.deadLetters.map((d) => d.reason))).toEqual([['too_deep'], []]);
    expect(got[1]!.points).toHaveLength(1);
  });
});
