import { describe, expect, it } from 'vitest';
import { outgoing, produceRequests } from '../../../../src/connectors/kafka/produceRequests.js';

const m = (topic: string, key: string, size: number) => outgoing(topic, { key, value: 'x'.repeat(size - key.length) });
const keys = (requests: ReturnType<typeof produceRequests>) => requests.map((r) => r.map((t) => `${t.topic}:${t.messages.map((x) => String(x.key)).join(',')}`));

describe('produceRequests', () => {
  it('fills requests up to the byte limit, in order, grouped by topic within a request', () => {
    const items = [m('a', 'k1', 40), m('b', 'k2', 40), m('a', 'k3', 20), m('a', 'k4', 50), m('b', 'k5', 60)];
    expect(items[0]!.bytes).toBe(40);
    expect(keys(produceRequests(items, 100))).toEqual([['a:k1,k3', 'b:k2'], ['a:k4'], ['b:k5']]);
  });

  it('puts a message above the limit in a request of its own rather than dropping it', () => {
    expect(keys(produceRequests([m('a', 'k1', 10), m('a', 'big', 500), m('a', 'k2', 10)], 100))).toEqual([['a:k1'], ['a:big'], ['a:k2']]);
    expect(produceRequests([], 100)).toEqual([]);
  });
});
