import type { Message, TopicMessages } from 'kafkajs';

/** A message on its way out, with the bytes it counts against a request's limit. */
export interface Outgoing {
  readonly topic: string;
  readonly message: Message;
  readonly bytes: number;
}

export function outgoing(topic: string, message: Message): Outgoing {
  return { topic, message, bytes: byteLength(message.value) + byteLength(message.key) };
}

/**
 * Splits messages, in order, into produce requests of at most `maxBytes` of keys and values. A
 * request's records for one partition form one record batch, which the broker refuses above
 * `message.max.bytes`. Each request holds at least one message, even one above the limit (the
 * broker then says why).
 */
export function produceRequests(items: readonly Outgoing[], maxBytes: number): TopicMessages[][] {
  const out: TopicMessages[][] = [];
  let i = 0;
  while (i < items.length) {
    const byTopic = new Map<string, Message[]>();
    let bytes = 0;
    do {
      const item = items[i]!;
      let list = byTopic.get(item.topic);
      if (list === undefined) byTopic.set(item.topic, (list = []));
      list.push(item.message);
      bytes += item.bytes;
      i++;
    } while (i < items.length && bytes + items[i]!.bytes <= maxBytes);
    out.push([...byTopic].map(([topic, messages]) => ({ topic, messages })));
  }
  return out;
}

function byteLength(v: Message['value'] | Message['key']): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength;
}
