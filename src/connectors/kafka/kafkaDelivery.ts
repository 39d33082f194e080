import type { Kafka } from 'kafkajs';
import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import type { LogSink } from '../../observability/logger.js';
import type { EncodedState } from '../../state/seriesStateStore.js';
import { AtLeastOnceCommitter } from '../atLeastOnceCommitter.js';
import type { Committer, Guarantee } from '../committer.js';
import type { Source } from '../source.js';
import { ExactlyOnceCommitter } from './exactlyOnceCommitter.js';
import { KafkaCheckpointReader } from './kafkaCheckpointReader.js';
import { deadLetterMessage, forecastMessage, KafkaOutput, stateMessage } from './kafkaSink.js';
import type { ProducerFactory } from './outputProducer.js';
import type { PipelineTopics } from './topics.js';

/**
 * A checkpoint's state goes out in requests this small (a dozen series each) rather than the
 * forecasts' 512 KB: the producer thread encodes one request at a time, and a forecast send that
 * lands behind a half-megabyte state request waits for all of it. Measured at 15k points/s
 * (bench/kafkaThroughput.ts): p99 latency 103–125 ms with 512 KB, 73–99 ms with 32 KB, for 2–10 %
 * less throughput from a backlog (the state of a checkpoint then takes more round trips).
 */
const STATE_REQUEST_BYTES = 32 * 1024;

/**
 * The request size for one checkpoint's state: 32 KB, unless that makes more than 256 requests
 * (a checkpoint of over 8 MiB), up to 512 KB. Requests go one at a time (an idempotent producer in kafkajs has one in flight), a
 * few milliseconds each; the state of an idle close of 200k series (~130 MB) took ~4,000 of them,
 * tens of seconds, during which the pipeline waits for that checkpoint anyway (one in flight)
 * and a shutdown overran its budget. Forecasts made meanwhile wait behind larger requests.
 */
export function stateRequestBytes(flushBytes: number): number {
  return Math.min(512 * 1024, Math.max(STATE_REQUEST_BYTES, Math.ceil(flushBytes / 256)));
}

export interface KafkaDeliveryOptions {
  readonly guarantee: Guarantee;
  readonly kafka: Kafka;
  /** Where the pipeline's producers run (this thread or a producer thread). */
  readonly producers: ProducerFactory;
  readonly logger: LogSink;
  readonly groupId: string;
  readonly topics: PipelineTopics;
  /** The consumer group member: at-least-once commits the input offsets through it. */
  readonly source: Pick<Source, 'commit'>;
  /** Names this process in exactly-once offset-commit metadata. */
  readonly instanceId: string;
  /** Shutdown: stops retrying a broker that is away. */
  readonly signal: AbortSignal;
}

/** How a pipeline's checkpoints reach Kafka under its guarantee, and how they are read back. */
export interface KafkaDelivery {
  readonly committer: Committer;
  readonly reader: KafkaCheckpointReader;
  /** The checkpoint interval this guarantee calls for unless one is configured. */
  readonly checkpointIntervalMs: number;
  /** Connects what must be up before the first record (retrying a broker that is away). */
  connect(): Promise<void>;
  /** Flushes and disconnects every client it made; idempotent, never rejects. */
  close(): Promise<void>;
}

/** The one place that chooses by guarantee: the committer of each, and what it needs on Kafka. */
export function kafkaDelivery(opts: KafkaDeliveryOptions): KafkaDelivery {
  const { kafka, producers, logger, groupId, topics, signal } = opts;
  const reader = new KafkaCheckpointReader({ kafka, logger, groupId, topics, signal });
  if (opts.guarantee === 'exactly-once') {
    const committer = new ExactlyOnceCommitter({ producers, reader, logger, groupId, topics, instanceId: opts.instanceId, signal });
    return {
      committer,
      reader,
      // Exactly-once forecasts become visible when their checkpoint commits: 100 ms (Kafka Streams'
      // exactly-once commit interval) halves their p99 latency against 200 ms for ~3 % less
      // throughput (docs/benchmarks.md, session 5).
      checkpointIntervalMs: 100,
      connect: async () => undefined, // each partition's producer connects when it is acquired
      close: async () => {
        await Promise.allSettled([committer.close(), reader.close()]);
      },
    };
  }
  // Forecasts and dead letters share one idempotent producer (one ordered stream of requests);
  // the state has its own, so that a checkpoint's state (megabytes, several requests with one in
  // flight) does not queue ahead of the forecasts made meanwhile.
  const output = new KafkaOutput({ kafka, producers, logger });
  const stateOutput = new KafkaOutput({ kafka, producers, logger, maxRequestBytes: stateRequestBytes });
  const committer = new AtLeastOnceCommitter({
    sinks: {
      forecasts: output.sink<Forecast>(topics.output, forecastMessage),
      deadLetters: output.sink<DeadLetter>(topics.deadLetter, deadLetterMessage),
      state: stateOutput.sink<EncodedState>(topics.changelog, stateMessage),
    },
    offsets: opts.source,
  });
  return {
    committer,
    reader,
    checkpointIntervalMs: 1000,
    connect: async () => {
      await Promise.all([output.connect(signal), stateOutput.connect(signal)]);
    },
    close: async () => {
      await Promise.allSettled([output.close(), stateOutput.close(), reader.close()]);
    },
  };
}
