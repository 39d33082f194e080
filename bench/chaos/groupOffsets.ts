import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';

/** A consumer group's committed offsets on a topic and that topic's end offsets, per partition. */
export interface GroupOffsets {
  readonly committed: ReadonlyMap<number, bigint>;
  readonly end: ReadonlyMap<number, bigint>;
}

/**
 * Few, quick retries: kafkajs needs one to fill its broker pool from the first metadata response
 * (with none, a group lookup fails with "No brokers in the broker pool").
 */
export const QUICK_RETRY = { retries: 3, initialRetryTime: 100, maxRetryTime: 500 };

/**
 * Reads `groupId`'s committed offsets and `topic`'s end offsets with a fresh, short-lived admin
 * client (few quick retries, short timeouts), so that a broker that is down or restarting yields
 * undefined within `timeoutMs` instead of a probe that waits as long as kafkajs retries.
 */
export async function groupOffsets(brokers: string, groupId: string, topic: string, timeoutMs = 5000): Promise<GroupOffsets | undefined> {
  const kafka = new Kafka({ clientId: 'bench-chaos-probe', brokers: [brokers], logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 3000, retry: QUICK_RETRY });
  const admin = kafka.admin();
  const probe = (async () => {
    await admin.connect();
    const [c] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    return {
      // -1: nothing committed yet, i.e. offset 0 as far as progress goes.
      committed: new Map((c?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset === '-1' ? '0' : p.offset)])),
      end: new Map(ends.map((p) => [p.partition, BigInt(p.high)])),
    };
  })();
  try {
    return await Promise.race([probe, sleep(timeoutMs).then(() => undefined)]);
  } catch (err) {
    void err; // broker away or restarting: no answer this time
    return undefined;
  } finally {
    probe.catch(() => undefined);
    void admin.disconnect().catch(() => undefined);
  }
}

/** True when every partition of `target` has a committed offset at or past it. */
export function reached(committed: ReadonlyMap<number, bigint>, target: ReadonlyMap<number, bigint>): boolean {
  return [...target].every(([p, end]) => end === 0n || (committed.get(p) ?? 0n) >= end);
}

/** Total records between the committed offsets and `end` (the group's lag). */
export function lag(o: GroupOffsets): bigint {
  let sum = 0n;
  for (const [p, end] of o.end) {
    const c = o.committed.get(p) ?? 0n;
    if (end > c) sum += end - c;
  }
  return sum;
}

/** `committed/end` per partition, e.g. "0:120/120 1:97/130". */
export function describeOffsets(o: GroupOffsets | undefined): string {
  if (o === undefined) return 'unavailable';
  return [...o.end].sort(([a], [b]) => a - b).map(([p, end]) => `${p}:${String(o.committed.get(p) ?? 0n)}/${String(end)}`).join(' ');
}

/** True when `groupId` has committed every record now in `topic` (false while the broker does not answer). */
export async function committedToEnd(brokers: string, groupId: string, topic: string): Promise<boolean> {
  const o = await groupOffsets(brokers, groupId, topic);
  return o !== undefined && reached(o.committed, o.end);
}
