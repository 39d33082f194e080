import { kafkaConfigFrom } from '../../config/kafkaConfig.js';
import { ConfigError } from '../../domain/errors.js';
import { createKafka, isRetriableKafkaError } from '../../connectors/kafka/kafkaClient.js';
import { KafkaOutput, pointMessage, type KafkaMessage } from '../../connectors/kafka/kafkaSink.js';
import { ensureTopics } from '../../connectors/kafka/topics.js';
import { onlySeries } from '../../connectors/mapSource.js';
import { FileReplaySource } from '../../connectors/replay/fileReplaySource.js';
import { cliLogger, type LogFlags } from '../cliLogger.js';
import { retry } from '../../platform/retry.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { requireInputFiles } from '../options.js';
import { createProgress } from '../progress.js';

export interface ProduceFlags extends LogFlags {
  topic?: string;
  input?: string[];
  rate?: number;
  speed?: number;
  limit?: number;
  series?: string[];
  brokers?: string;
  partitions?: number;
  quiet?: boolean;
}

/**
 * `streamcast produce --topic <t> --input <file>`: replays a data set (CSV or JSONL, as replay
 * reads it) into a Kafka topic as input points, at full speed or paced by --rate/--speed.
 * The topic is created if absent. Progress on stderr; SIGINT stops after flushing what was read.
 */
export async function produceCommand(flags: ProduceFlags): Promise<number> {
  const topic = flags.topic;
  if (topic === undefined || !/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) {
    throw new ConfigError(`--topic ${JSON.stringify(topic ?? '')}: a Kafka topic name (1-249 characters of a-z A-Z 0-9 . _ -) is required`);
  }
  const paths = requireInputFiles(flags.input);
  const brokers = flags.brokers?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const cfg = kafkaConfigFrom(process.env, { pipeline: 'produce', ...(brokers !== undefined ? { brokers } : {}) });
  const logger = cliLogger(flags);
  const replay = new FileReplaySource({
    paths,
    ...(flags.speed !== undefined ? { speed: flags.speed } : {}),
    ...(flags.rate !== undefined ? { rate: flags.rate } : {}),
    ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
  });
  const source = flags.series?.length ? onlySeries(replay, flags.series) : replay;
  const kafka = createKafka(cfg, logger);
  const abort = new AbortController();

  await retry(
    async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const created = await ensureTopics(admin, [{ topic, partitions: flags.partitions ?? cfg.topicPartitions, replication: cfg.topicReplication }]);
        if (created.length > 0) logger.info(`created topic ${topic}`);
      } finally {
        await admin.disconnect();
      }
    },
    {
      retries: 10,
      initialMs: 500,
      maxMs: 5000,
      signal: abort.signal,
      isRetriable: isRetriableKafkaError,
      onRetry: ({ delayMs, error }) => logger.warn(`cannot reach Kafka at ${cfg.brokers.join(',')} (${(error as Error).message}); retrying in ${(delayMs / 1000).toFixed(1)} s`),
    },
  );
  const output = new KafkaOutput({ kafka, logger });
  await output.connect(abort.signal);
  const sink = output.sink<KafkaMessage>(topic, (m) => m);

  let points = 0;
  let invalid = 0;
  let buffered: KafkaMessage[] = [];
  let sending: Promise<void> = Promise.resolve();
  const progress = createProgress('produce', flags.quiet ? { quiet: true } : {});
  const t0 = performance.now();
  // Sends what was read; pauses reading while a large send is under way so memory stays flat.
  const send = (): Promise<void> => {
    if (buffered.length === 0) return sending;
    const chunk = buffered;
    buffered = [];
    sending = sending.then(async () => {
      await sink.write(chunk);
      await sink.flush();
    });
    return sending;
  };
  const timer = setInterval(() => {
    void send().catch(() => undefined); // a failure surfaces at the final await
    progress.update(source.progress?.() ?? 0, { points });
  }, 100);

  await source.start();
  const finished = new Promise<void>((resolve, reject) => {
    source.records().subscribe({
      next: (rec) => {
        invalid += rec.deadLetters.length;
        for (const p of rec.points) buffered.push(pointMessage(p));
        points += rec.points.length;
        if (buffered.length >= 2000) {
          source.pause();
          send().then(
            () => source.resume(),
            (err: unknown) => reject(err),
          );
        }
      },
      error: reject,
      complete: resolve,
    });
  });
  const dispose = onShutdown(
    async () => {
      await source.stop();
      await finished;
    },
    { timeoutMs: 30_000, logger },
  );
  try {
    await finished;
    await send();
    await output.close();
  } finally {
    clearInterval(timer);
    progress.stop();
    dispose();
  }
  const secs = (performance.now() - t0) / 1000;
  process.stderr.write(
    `produced ${points} points to ${topic} in ${secs.toFixed(2)} s (${Math.round(points / Math.max(secs, 1e-9))} points/s)` +
      `${invalid > 0 ? `; ${invalid} malformed input rows skipped` : ''}\n`,
  );
  return 0;
}
