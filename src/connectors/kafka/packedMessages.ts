import type { Message, TopicMessages } from 'kafkajs';
import { StreamcastError } from '../../domain/errors.js';

/**
 * A produce request's messages packed for a worker thread: every key and value byte in one
 * ArrayBuffer plus typed arrays of lengths and partitions, all transferred (moved, not copied)
 * by postMessage. Structured cloning an array of message objects instead would cost the sending
 * thread about as much as the encoding it hands off. Carries key, value and partition: the only
 * message fields streamcast produces.
 */
export interface PackedMessages {
  readonly topics: readonly string[];
  /** Messages per topic, in `topics` order. */
  readonly counts: Int32Array;
  /** Per message: the explicit partition, or -1 for the producer's partitioner. */
  readonly partitions: Int32Array;
  /** Per message: key length then value length in bytes, -1 for null. */
  readonly lengths: Int32Array;
  readonly data: ArrayBuffer;
  /** Bytes of `data` in use. */
  readonly size: number;
}

const NULL = -1;

export function packTopicMessages(topicMessages: readonly TopicMessages[]): PackedMessages {
  let n = 0;
  let estimate = 0;
  for (const t of topicMessages) {
    n += t.messages.length;
    for (const m of t.messages) estimate += roughBytes(m.key) + roughBytes(m.value);
  }
  const counts = new Int32Array(topicMessages.length);
  const partitions = new Int32Array(n);
  const lengths = new Int32Array(2 * n);
  // ASCII-sized to start (forecast JSON is ASCII); grown when multi-byte text does not fit.
  let buf = Buffer.from(new ArrayBuffer(Math.max(64, estimate)));
  let at = 0;
  let i = 0;
  const put = (v: Message['key'] | Message['value'], slot: number): void => {
    if (v === null || v === undefined) {
      lengths[slot] = NULL;
      return;
    }
    const need = typeof v === 'string' ? v.length * 3 : v.byteLength;
    if (at + need > buf.byteLength) {
      const grown = Buffer.from(new ArrayBuffer(Math.max(2 * buf.byteLength, at + need)));
      buf.copy(grown, 0, 0, at);
      buf = grown;
    }
    const len = typeof v === 'string' ? buf.write(v, at, 'utf8') : (buf.set(v, at), v.byteLength);
    lengths[slot] = len;
    at += len;
  };
  topicMessages.forEach((t, ti) => {
    counts[ti] = t.messages.length;
    for (const m of t.messages) {
      if (m.headers !== undefined || m.timestamp !== undefined) {
        throw new StreamcastError('fatal', 'packTopicMessages carries key, value and partition only; this message has headers or a timestamp');
      }
      partitions[i] = m.partition ?? -1;
      put(m.key, 2 * i);
      put(m.value, 2 * i + 1);
      i++;
    }
  });
  return { topics: topicMessages.map((t) => t.topic), counts, partitions, lengths, data: buf.buffer as ArrayBuffer, size: at };
}

/** What postMessage must move rather than copy. */
export function packedTransferList(p: PackedMessages): ArrayBuffer[] {
  return [p.data, p.counts.buffer as ArrayBuffer, p.partitions.buffer as ArrayBuffer, p.lengths.buffer as ArrayBuffer];
}

/** The messages again; keys and values are Buffer views on `data` (no copies). */
export function unpackTopicMessages(p: PackedMessages): TopicMessages[] {
  const out: TopicMessages[] = [];
  let at = 0;
  let i = 0;
  const take = (slot: number): Buffer | null => {
    const len = p.lengths[slot]!;
    if (len === NULL) return null;
    const b = Buffer.from(p.data, at, len);
    at += len;
    return b;
  };
  p.topics.forEach((topic, ti) => {
    const messages: Message[] = new Array<Message>(p.counts[ti]!);
    for (let k = 0; k < messages.length; k++, i++) {
      const key = take(2 * i);
      const value = take(2 * i + 1);
      const partition = p.partitions[i]!;
      messages[k] = partition >= 0 ? { key, value, partition } : { key, value };
    }
    out.push({ topic, messages });
  });
  return out;
}

function roughBytes(v: Message['key'] | Message['value']): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? v.length : v.byteLength;
}
