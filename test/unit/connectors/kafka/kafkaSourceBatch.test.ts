import type { EachBatchPayload, Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { decoderFor } from '../../../../src/codecs/codec.js';
import { KafkaSource } from '../../../../src/connectors/kafka/kafkaSource.js';
import type { Ingested } from '../../../../src/domain/ingested.js';
import { createLogger } from '../../../../src/observability/logger.js';

// The batch loop against a stand-in kafkajs consumer (pure logic; the real consumer is exercised
// by test/integration/kafka): which offsets it resolves when it holds for a pause or stops.

type Handler = (e: { payload: { memberAssignment: Record<string, number[]> } }) => void;

function harness() {
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
  const source = new KafkaSource({
    kafka: { consumer: () => consumer } as unknown as Kafka,
    topic: 'in',
    groupId: 'g',
    decoder: decoderFor('json'),
    fromBeginning: true,
    logger: createLogger({ level: 'silent' }),
    events: () => undefined,
  });
  const resolved: string[] = [];
  const batch = (offsets: number[]) =>
    eachBatch!({
      batch: {
        topic: 'in',
        partition: 0,
        highWatermark: String(offsets.at(-1)! + 1),
        lastOffset: () => String(offsets.at(-1)!),
        messages: offsets.map((o) => ({ offset: String(o), key: Buffer.from('s'), value: Buffer.from(JSON.stringify({ series: 's', ts: 60_000 * o, value: o })), timestamp: '0', headers: {} })),
      },
      resolveOffset: (o: string) => void resolved.push(o),
      heartbeat: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
  const start = async () => {
    await source.start();
    handlers.get('join')!({ payload: { memberAssignment: { in: [0] } } });
  };
  return { source, resolved, batch, start };
}

describe('KafkaSource batch loop', () => {
  it('hands over every record in order and resolves the last offset once', async () => {
    const { source, resolved, batch, start } = harness();
    const got: string[] = [];
    source.records().subscribe((r: Ingested) => got.push(r.position.offset));
    await start();
    await batch([10, 11, 12, 13]);
    expect(got).toEqual(['11', '12', '13', '14']);
    expect(resolved).toEqual(['13']);
  });

  it('resolves what it handed over before holding for a pause, then the rest after resume', async () => {
    const { source, resolved, batch, start } = harness();
    const got: string[] = [];
    source.records().subscribe((r: Ingested) => {
      got.push(r.position.offset);
      if (got.length === 2) source.pause();
    });
    await start();
    const running = batch([0, 1, 2, 3]);
    await new Promise((r) => setTimeout(r, 20));
    // Held after two records: kafkajs knows where this partition's next fetch would start.
    expect(got).toEqual(['1', '2']);
    expect(resolved).toEqual(['1']);
    source.resume();
    await running;
    expect(got).toEqual(['1', '2', '3', '4']);
    expect(resolved).toEqual(['1', '3']);
  });

  it('on stop mid-batch, hands over nothing more and resolves only what it handed over', async () => {
    const { source, resolved, batch, start } = harness();
    const got: string[] = [];
    source.records().subscribe((r: Ingested) => {
      got.push(r.position.offset);
      if (got.length === 3) void source.stop();
    });
    await start();
    await batch([5, 6, 7, 8, 9]);
    expect(got).toEqual(['6', '7', '8']);
    expect(resolved).toEqual(['7']);
  });
});
