import { describe, expect, it } from 'vitest';
import { countedProducers } from '../../../../src/connectors/kafka/countedProducers.js';
import { serialSends, type OutputProducer, type ProducerFactory } from '../../../../src/connectors/kafka/outputProducer.js';
import type { PipelineEvent } from '../../../../src/observability/events.js';

/** A producer whose sends fail from the `failFrom`-th on, as kafkajs' would after its own retries. */
function fakeFactory(failFrom: number): ProducerFactory {
  return {
    producer: (): OutputProducer => {
      let n = 0;
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        initTransactions: async () => undefined,
        sendBatch: serialSends(async () => {
          if (++n >= failFrom) throw Object.assign(new Error('NOT_LEADER_FOR_PARTITION'), { retriable: true });
          return [];
        }),
        transact: async () => {
          throw new Error('fenced');
        },
      };
    },
    close: async () => undefined,
  };
}

describe('countedProducers', () => {
  it('counts each failed write once as a kafka sink error, and passes the error on', async () => {
    const events: PipelineEvent[] = [];
    const p = countedProducers(fakeFactory(2), (e) => events.push(e)).producer({ idempotent: true });
    const batch = { acks: -1 as const, topicMessages: [] };
    await expect(p.sendBatch(batch)).resolves.toEqual([]);
    // The second send fails; the producer then fails every later one with that same error.
    const results = await Promise.allSettled([p.sendBatch(batch), p.sendBatch(batch), p.sendBatch(batch)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await expect(p.transact({ requests: [] })).rejects.toThrow('fenced');
    expect(events).toEqual([
      { type: 'sink_error', sink: 'kafka', count: 1 },
      { type: 'sink_error', sink: 'kafka', count: 1 },
    ]);
  });
});
