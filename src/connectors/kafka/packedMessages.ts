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
  /** Keys and values back to back, in message order (it may be longer than they are). */
  readonly data: ArrayBuffer;
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
    buf = withRoom(buf, at, need);
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
  return { topics: topicMessages.map((t) => t.topic), counts, partitions, lengths, data: buf.buffer as ArrayBuffer };
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

/** `buf`, or a copy of its first `used` bytes in one of at least twice the size, with room for `need` more. */
function withRoom(buf: Buffer<ArrayBuffer>, used: number, need: number): Buffer<ArrayBuffer> {
  if (used + need <= buf.byteLength) return buf;
  // Its own ArrayBuffer (not Node's shared pool): the packed data is transferred whole.
  const grown = Buffer.from(new ArrayBuffer(Math.max(2 * buf.byteLength, used + need)));
  buf.copy(grown, 0, 0, used);
  return grown;
}

function roughBytes(v: Message['key'] | Message['value']): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? v.length : v.byteLength;
}

/**
 * Packs messages of one topic as they come, into produce requests of at most `maxBytes` of keys
 * and values each (at least one message per request). Messages kept this way between checkpoints
 * are a few large buffers rather than many small objects, which the garbage collector would
 * otherwise copy on every young-generation collection while they wait.
 */
export class PackedMessagesBuilder {
  private readonly done: PackedMessages[] = [];
  private buf = Buffer.from(new ArrayBuffer(16 * 1024));
  private at = 0;
  private lengths = new Int32Array(256);
  private n = 0;
  private total = 0;

  constructor(
    private readonly topic: string,
    private readonly maxBytes: number,
  ) {}

  /** Messages added since the last `take`. */
  get count(): number {
    return this.total;
  }

  add(key: string, value: string): void {
    const need = 3 * (key.length + value.length);
    if (this.n > 0 && this.at + need > this.maxBytes) {
      // Exact sizes only when close to the limit: most messages are far below it.
      const exact = Buffer.byteLength(key) + Buffer.byteLength(value);
      if (this.at + exact > this.maxBytes) this.cut();
    }
    this.buf = withRoom(this.buf, this.at, need);
    if (2 * this.n + 2 > this.lengths.length) {
      const grown = new Int32Array(2 * this.lengths.length);
      grown.set(this.lengths);
      this.lengths = grown;
    }
    const k = this.buf.write(key, this.at, 'utf8');
    const v = this.buf.write(value, this.at + k, 'utf8');
    this.lengths[2 * this.n] = k;
    this.lengths[2 * this.n + 1] = v;
    this.at += k + v;
    this.n++;
    this.total++;
  }

  /** The requests packed so far; the builder starts afresh. */
  take(): PackedMessages[] {
    if (this.n > 0) this.cut();
    const out = this.done.splice(0);
    this.total = 0;
    return out;
  }

  private cut(): void {
    // Copied out at its used size: the working buffer is reused, and a transfer must not take it.
    const data = new ArrayBuffer(this.at);
    new Uint8Array(data).set(this.buf.subarray(0, this.at));
    this.done.push({
      topics: [this.topic],
      counts: Int32Array.of(this.n),
      partitions: new Int32Array(this.n).fill(-1),
      lengths: this.lengths.slice(0, 2 * this.n),
      data,
    });
    this.at = 0;
    this.n = 0;
  }
}
