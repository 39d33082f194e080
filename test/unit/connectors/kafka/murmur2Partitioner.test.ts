import { createRequire } from 'node:module';
import fc from 'fast-check';
import type { PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { keyPartition, murmur2, murmur2Partitioner } from '../../../../src/connectors/kafka/murmur2Partitioner.js';

// kafkajs' own (Long-based) murmur2 is the reference: the partition of a key must not change.
const require = createRequire(import.meta.url);
const reference = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

const meta = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1], offlineReplicas: [], partitionErrorCode: 0 }));

describe('murmur2', () => {
  it('equals kafkajs (and Java) murmur2 on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(murmur2(bytes)).toBe(reference(Buffer.from(bytes)));
      }),
      { numRuns: 500 },
    );
  });

  it('matches Kafka’s published test vectors', () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
  });
});

describe('murmur2Partitioner', () => {
  it('puts a string or byte key where kafkajs’ default partitioner does', () => {
    const ours = murmur2Partitioner();
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.integer({ min: 1, max: 64 }), (key, n) => {
        const expected = (reference(key) & 0x7fffffff) % n;
        expect(keyPartition(key, n)).toBe(expected);
        expect(ours({ topic: 't', partitionMetadata: meta(n), message: { key, value: null } })).toBe(expected);
        expect(ours({ topic: 't', partitionMetadata: meta(n), message: { key: Buffer.from(key), value: null } })).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps an explicit partition and spreads keyless messages over partitions with a leader', () => {
    const ours = murmur2Partitioner();
    expect(ours({ topic: 't', partitionMetadata: meta(4), message: { key: 'k', value: null, partition: 3 } })).toBe(3);
    const partitions = meta(4).map((p) => (p.partitionId === 2 ? { ...p, leader: -1 } : p));
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++) seen.add(ours({ topic: 't', partitionMetadata: partitions, message: { value: 'v' } }));
    expect([...seen].sort()).toEqual([0, 1, 3]);
  });
});
