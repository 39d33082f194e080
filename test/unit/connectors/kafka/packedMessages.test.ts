import fc from 'fast-check';
import type { Message, TopicMessages } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { PackedMessagesBuilder, packedTransferList, packTopicMessages, unpackTopicMessages } from '../../../../src/connectors/kafka/packedMessages.js';

const bytesOf = (v: Message['key'] | Message['value']): Buffer | null => (v === null || v === undefined ? null : Buffer.from(v));

const part = fc.oneof(fc.string({ unit: 'grapheme' }), fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), fc.constant(null));
const message = fc.record({ key: part, value: part, partition: fc.option(fc.nat(63), { nil: undefined }) }).map((m) => {
  const out: Message = { key: m.key, value: m.value };
  if (m.partition !== undefined) out.partition = m.partition;
  return out;
});
const topicMessages = fc.array(fc.record({ topic: fc.string({ minLength: 1, maxLength: 20 }), messages: fc.array(message, { maxLength: 30 }) }), { maxLength: 4 });

describe('packTopicMessages / unpackTopicMessages', () => {
  it('gives back every topic, key, value (as bytes) and explicit partition, in order', () => {
    fc.assert(
      fc.property(topicMessages, (tms: TopicMessages[]) => {
        const back = unpackTopicMessages(packTopicMessages(tms));
        expect(back.map((t) => t.topic)).toEqual(tms.map((t) => t.topic));
        tms.forEach((t, i) => {
          const got = back[i]!.messages;
          expect(got.length).toBe(t.messages.length);
          t.messages.forEach((m, k) => {
            expect(got[k]!.key).toEqual(bytesOf(m.key));
            expect(got[k]!.value).toEqual(bytesOf(m.value));
            expect(got[k]!.partition).toBe(m.partition);
          });
        });
      }),
    );
  });

  it('grows its buffer for multi-byte text beyond the first estimate', () => {
    const value = '€'.repeat(10_000); // 3 bytes per char, estimated at 1
    const [t] = unpackTopicMessages(packTopicMessages([{ topic: 'x', messages: [{ key: 'k', value }, { key: 'ü', value: 'ok' }] }]));
    expect(t!.messages[0]!.value!.toString('utf8')).toBe(value);
    expect(t!.messages[1]!.key!.toString('utf8')).toBe('ü');
    expect(t!.messages[1]!.value!.toString('utf8')).toBe('ok');
  });

  it('reads views of a buffer it can transfer (a Uint8Array value with an offset is copied in)', () => {
    const backing = Buffer.from('xxhelloxx');
    const packed = packTopicMessages([{ topic: 't', messages: [{ key: null, value: backing.subarray(2, 7) }] }]);
    expect(packedTransferList(packed)).toContain(packed.data);
    expect(packed.data).not.toBe(backing.buffer);
    expect(unpackTopicMessages(packed)[0]!.messages[0]!.value!.toString()).toBe('hello');
  });

  it('refuses headers and timestamps rather than dropping them', () => {
    expect(() => packTopicMessages([{ topic: 't', messages: [{ value: 'v', headers: { a: 'b' } }] }])).toThrow(/key, value and partition only/);
    expect(() => packTopicMessages([{ topic: 't', messages: [{ value: 'v', timestamp: '1' }] }])).toThrow(/key, value and partition only/);
  });
});

describe('PackedMessagesBuilder', () => {
  it('packs what is added into requests of at most maxBytes of keys and values, in order, each readable', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 200 })), { maxLength: 200 }),
        fc.integer({ min: 64, max: 2048 }),
        (messages, maxBytes) => {
          const b = new PackedMessagesBuilder('forecasts', maxBytes);
          for (const [k, v] of messages) b.add(k, v);
          expect(b.count).toBe(messages.length);
          const requests = b.take();
          expect(b.count).toBe(0);
          const back: Array<[string, string]> = [];
          for (const r of requests) {
            const [t] = unpackTopicMessages(r);
            expect(t!.topic).toBe('forecasts');
            const bytes = t!.messages.reduce((n, m) => n + m.key!.length + m.value!.length, 0);
            // Over the limit only as a request of one message.
            expect(bytes <= maxBytes || t!.messages.length === 1).toBe(true);
            for (const m of t!.messages) {
              expect(m.partition).toBeUndefined();
              back.push([m.key!.toString('utf8'), m.value!.toString('utf8')]);
            }
          }
          expect(back).toEqual(messages);
          expect(requests.length === 0).toBe(messages.length === 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('starts afresh after take, and its requests stay valid after later adds', () => {
    const b = new PackedMessagesBuilder('t', 1024);
    b.add('a', 'first');
    const [first] = b.take();
    b.add('b', 'second');
    const [second] = b.take();
    expect(unpackTopicMessages(first!)[0]!.messages.map((m) => m.value!.toString())).toEqual(['first']);
    expect(unpackTopicMessages(second!)[0]!.messages.map((m) => m.value!.toString())).toEqual(['second']);
    expect(b.take()).toEqual([]);
  });
});
