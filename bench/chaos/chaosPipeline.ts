import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { inCauseChain, isRetriableKafkaError } from '../../src/connectors/kafka/kafkaClient.js';
import { retry } from '../../src/platform/retry.js';

export type Guarantee = 'at-least-once' | 'exactly-once';

/** One pipeline of a scenario: its spec file and the topics and group `streamcast run` uses for it. */
export interface ChaosPipeline {
  readonly name: string;
  readonly guarantee: Guarantee;
  readonly input: string;
  readonly output: string;
  readonly dlq: string;
  /** `streamcast run`'s default group for the pipeline (KAFKA_GROUP_ID is not set for children). */
  readonly groupId: string;
  readonly specPath: string;
}

/**
 * A pipeline spec (1-minute steps, 2 s idle close so that a series' last step closes soon after
 * its input stops; GRU spec serving its seasonal-naive baseline, as before any promotion) named
 * `<prefix>-<alo|eos>-<random>`; `input` reuses another pipeline's input topic (reference runs).
 */
export function chaosPipeline(prefix: string, guarantee: Guarantee, input?: string): ChaosPipeline {
  const id = randomBytes(3).toString('hex');
  const name = `${prefix}-${guarantee === 'exactly-once' ? 'eos' : 'alo'}-${id}`;
  const p = { name, guarantee, input: input ?? `${name}.in`, output: `${name}.out`, dlq: `${name}.dlq`, groupId: `streamcast-${name}` };
  const specPath = join(mkdtempSync(join(tmpdir(), 'streamcast-chaos-')), `${name}.yaml`);
  writeFileSync(
    specPath,
    [
      `name: ${p.name}`,
      `input: { topic: ${p.input}, codec: json }`,
      `output: { topic: ${p.output} }`,
      `deadLetter: { topic: ${p.dlq} }`,
      'window: { step: 1m, aggregate: mean, lateness: 2m, idleClose: 2s }',
      'impute: { strategy: ffill, maxGap: 30m }',
      'normalize: { method: zscore, halfLife: 1d }',
      'model: { type: gru, hidden: 8, context: 16, horizon: 3, quantiles: [0.1, 0.5, 0.9] }',
      'baseline: { type: seasonal-naive, season: 1h }',
      `guarantee: ${guarantee}`,
      '',
    ].join('\n'),
  );
  return { ...p, specPath };
}

export async function createTopic(brokers: string, topic: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  // Right after a broker restart its metadata can still lag (UNKNOWN_TOPIC_OR_PARTITION while
  // waiting for the new topic's leaders): retriable, and creating an existing topic is a no-op.
  await retry(
    async () => {
      const admin = new Kafka({ clientId: 'bench-chaos-admin', brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        await admin.createTopics({
          topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
          waitForLeaders: true,
        });
      } finally {
        await admin.disconnect();
      }
    },
    { retries: 10, initialMs: 500, maxMs: 5000, isRetriable: (err) => inCauseChain(err, isRetriableKafkaError) },
  );
}
