import type { Admin, ITopicConfig } from 'kafkajs';
import { kafkaErrorType } from './kafkaClient.js';

export interface TopicSpec {
  readonly topic: string;
  /** Default 1. */
  readonly partitions?: number;
  /** Default 1 (one local broker); production clusters want 3. */
  readonly replication?: number;
  /**
   * `cleanup.policy=compact`: Kafka keeps the latest record per key. For state changelog and
   * model topics, whose readers want the newest value of each key, not the history.
   */
  readonly compacted?: boolean;
  /** Extra topic configs, e.g. `{ 'max.message.bytes': '2097152' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/**
 * Creates the topics that do not exist yet and leaves existing ones untouched (their partition
 * count is the operator's choice once created). Returns the names it created. Safe when several
 * instances race: a TOPIC_ALREADY_EXISTS from the broker counts as success.
 */
export async function ensureTopics(admin: Admin, topics: readonly TopicSpec[]): Promise<string[]> {
  const unique = new Map<string, TopicSpec>();
  for (const t of topics) unique.set(t.topic, t);
  const existing = new Set(await admin.listTopics());
  const missing = [...unique.values()].filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return [];
  const configs: ITopicConfig[] = missing.map((t) => {
    const entries = { ...(t.compacted === true ? { 'cleanup.policy': 'compact' } : {}), ...(t.configs ?? {}) };
    return {
      topic: t.topic,
      numPartitions: t.partitions ?? 1,
      replicationFactor: t.replication ?? 1,
      configEntries: Object.entries(entries).map(([name, value]) => ({ name, value })),
    };
  });
  try {
    await admin.createTopics({ topics: configs, waitForLeaders: true });
  } catch (err) {
    // Another instance created them between listTopics and createTopics.
    if (!allAlreadyExist(err)) throw err;
  }
  return missing.map((t) => t.topic);
}

function allAlreadyExist(err: unknown): boolean {
  if (kafkaErrorType(err) === 'TOPIC_ALREADY_EXISTS') return true;
  // kafkajs' KafkaJSAggregateError from createTopics lists one error per topic.
  if (typeof err === 'object' && err !== null && 'errors' in err && Array.isArray((err as { errors: unknown }).errors)) {
    const errors = (err as { errors: unknown[] }).errors;
    return errors.length > 0 && errors.every((e) => kafkaErrorType(e) === 'TOPIC_ALREADY_EXISTS');
  }
  return false;
}
