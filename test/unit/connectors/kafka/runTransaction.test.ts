import type { Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { runTransaction } from '../../../../src/connectors/kafka/runTransaction.js';

/** A kafkajs producer whose one transaction logs its calls; `failAt` makes that call throw. */
function fakeProducer(failAt?: string) {
  const log: string[] = [];
  let active = true;
  const step = async (what: string) => {
    log.push(what);
    if (what === failAt) throw new Error(`${what} failed`);
  };
  const txn = {
    sendBatch: async (b: { topicMessages: Array<{ topic: string }> }) => step(`send ${b.topicMessages.map((t) => t.topic).join('+')}`),
    sendOffsets: async () => step('offsets'),
    commit: async () => {
      await step('commit');
      active = false;
    },
    abort: async () => {
      log.push('abort');
      active = false;
    },
    isActive: () => active,
  };
  return { producer: { transaction: async () => txn } as unknown as Producer, log };
}

const work = {
  requests: [[{ topic: 'out', messages: [{ key: 'a', value: '1' }] }], [{ topic: 'state', messages: [{ key: 'a', value: 'x' }] }]],
  offsets: { consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '5' }] }] },
};

describe('runTransaction', () => {
  it('sends outputs, then state, then the offsets, then commits: one transaction', async () => {
    const { producer, log } = fakeProducer();
    await runTransaction(producer, work);
    expect(log).toEqual(['send out', 'send state', 'offsets', 'commit']);
  });

  it.each(['send state', 'offsets', 'commit'])('aborts, commits nothing and rethrows when %s fails', async (failAt) => {
    const { producer, log } = fakeProducer(failAt);
    await expect(runTransaction(producer, work)).rejects.toThrow(`${failAt} failed`);
    expect(log.at(-1)).toBe('abort');
    expect(log.filter((l) => l === 'commit').length).toBe(failAt === 'commit' ? 1 : 0);
  });
});
