import { randomUUID } from 'node:crypto';
import type { Admin, ITopicConfig } from 'kafkajs';
import type { KafkaConfig } from '../../config/kafkaConfig.js';
import { StreamcastError } from '../../domain/errors.js';
import type { LogSink } from '../../observability/logger.js';
import { createKafka, kafkaErrorType } from './kafkaClient.js';

/**
 * The names streamcast gives things on Kafka, in one place: topics a pipeline creates, its
 * transactional ids and the consumer groups of its side readers. Taken from the spec's fields,
 * which are passed structurally so that this module depends on no spec type.
 */
interface NamedPipeline {
  readonly name: string;
  readonly input: { readonly topic: string };
  readonly output: { readonly topic: string };
  readonly deadLetter: { readonly topic: string };
}

/** The topics one pipeline reads and writes. */
export interface PipelineTopics {
  readonly input: string;
  readonly output: string;
  readonly deadLetter: string;
  /** Compacted, as many partitions as `input`: changelog partition p holds the series of input partition p. */
  readonly changelog: string;
}

export function pipelineTopics(spec: NamedPipeline): PipelineTopics {
  return { input: spec.input.topic, output: spec.output.topic, deadLetter: spec.deadLetter.topic, changelog: changelogTopic(spec) };
}

/** The compacted state changelog of a pipeline (co-partitioned with its input). */
export function changelogTopic(spec: Pick<NamedPipeline, 'name'>): string {
  return `${spec.name}.state`;
}

/** The compacted topic that carries a pipeline's promoted models (key = pipeline name). */
export function modelTopic(spec: Pick<NamedPipeline, 'name'>): string {
  return `${spec.name}.models`;
}

/**
 * Exactly-once: the transactional id of input partition p's producer. One per partition, not per
 * instance: kafkajs 2.2.4 has no KIP-447 group-metadata fencing, so whoever owns p fences the
 * previous owner by initialising this id.
 */
export function transactionalId(groupId: string, inputTopic: string, partition: number): string {
  return `${groupId}.${inputTopic}.${partition}`;
}

/** A group of its own for each reader of the model topic: it commits nothing, so it always starts from the oldest retained record. */
export function modelReaderGroupId(groupId: string): string {
  return `${groupId}.models.${randomUUID()}`;
}

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
 * Creates what a pipeline reads and writes where it is absent: input and output topics
 * (`cfg.topicPartitions` each), the dead-letter topic (one partition), the state changelog
 * (compacted, as many partitions as the input, which is checked: a mismatch is a config error) and
 * `extra` (the model topic). Returns the names it created.
 */
export async function ensurePipelineTopics(opts: {
  readonly spec: NamedPipeline;
  readonly cfg: KafkaConfig;
  readonly logger: LogSink;
  readonly extra?: readonly TopicSpec[];
}): Promise<string[]> {
  const { spec, cfg, logger } = opts;
  const admin = createKafka(cfg, logger, { clientIdSuffix: 'admin' }).admin();
  await admin.connect();
  try {
    const created = await ensureTopics(admin, [
      { topic: spec.input.topic, partitions: cfg.topicPartitions, replication: cfg.topicReplication },
      { topic: spec.output.topic, partitions: cfg.topicPartitions, replication: cfg.topicReplication },
      { topic: spec.deadLetter.topic, partitions: 1, replication: cfg.topicReplication },
    ]);
    const partitionsOf = async (topic: string) => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length ?? 0;
    const inputPartitions = await partitionsOf(spec.input.topic);
    const changelog = changelogTopic(spec);
    created.push(...(await ensureTopics(admin, [{ topic: changelog, partitions: inputPartitions, replication: cfg.topicReplication, compacted: true }])));
    const changelogPartitions = await partitionsOf(changelog);
    if (changelogPartitions !== inputPartitions) {
      throw new StreamcastError(
        'config',
        `state changelog ${changelog} has ${changelogPartitions} partitions but input ${spec.input.topic} has ${inputPartitions}; they must match ` +
          '(changelog partition p holds the series of input partition p). Operator action: add partitions to the changelog to match, ' +
          'or delete it (every series then starts afresh).',
      );
    }
    if (opts.extra !== undefined && opts.extra.length > 0) created.push(...(await ensureTopics(admin, opts.extra)));
    return created;
  } finally {
    await admin.disconnect();
  }
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
