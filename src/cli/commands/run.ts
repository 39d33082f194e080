import { interval } from 'rxjs';
import { Registry } from 'prom-client';
import { kafkaConfigFrom, type KafkaConfig } from '../../config/kafkaConfig.js';
import { decoderFor } from '../../codecs/codec.js';
import { wallClock } from '../../domain/clock.js';
import { ConfigError } from '../../domain/errors.js';
import type { Forecast } from '../../domain/forecast.js';
import { createKafka, isRetriableKafkaError } from '../../connectors/kafka/kafkaClient.js';
import { KafkaOutput, kafkaSinks } from '../../connectors/kafka/kafkaSink.js';
import { KafkaSource } from '../../connectors/kafka/kafkaSource.js';
import { ensureTopics } from '../../connectors/kafka/topics.js';
import { createForecaster } from '../../forecasting/createForecaster.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { createMetrics, metricsListener } from '../../observability/metrics.js';
import { loadSpec } from '../../pipeline/spec/loadSpec.js';
import type { PipelineSpec } from '../../pipeline/spec/pipelineSpec.js';
import { HttpServer } from '../../runtime/httpServer.js';
import { PipelineRunner } from '../../runtime/pipelineRunner.js';
import { retry } from '../../runtime/retry.js';
import { onShutdown } from '../../runtime/shutdown.js';

export interface RunFlags {
  brokers?: string;
  group?: string;
  fromBeginning?: boolean;
  port?: number;
  host?: string;
  http?: boolean;
  shutdownTimeout?: number;
  logLevel?: string;
}

interface Running {
  readonly spec: PipelineSpec;
  readonly source: KafkaSource;
  readonly output: KafkaOutput;
  readonly runner: PipelineRunner;
  ready: boolean;
}

/**
 * `streamcast run <spec…>`: each pipeline consumes its input topic as a consumer group member,
 * forecasts, and produces forecasts and dead letters (at-least-once: outputs flushed, then
 * offsets committed). SIGTERM/SIGINT: stop fetching, finish in-flight work, commit, leave the
 * group, exit 0; a second signal exits at once.
 */
export async function runCommand(specPaths: readonly string[], flags: RunFlags): Promise<number> {
  if (specPaths.length === 0) throw new ConfigError('run needs at least one pipeline spec, e.g. streamcast run pipelines/demo.yaml');
  const specs = specPaths.map((p) => loadSpec(p));
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new ConfigError(`two specs are both named "${s.name}"; pipeline names must be unique (they name consumer groups and metrics)`);
    names.add(s.name);
  }
  if (flags.group !== undefined && specs.length > 1) {
    throw new ConfigError('--group applies to one pipeline; with several specs each uses streamcast-<name> (or KAFKA_GROUP_ID when one spec)');
  }
  const brokers = flags.brokers?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const configs = specs.map((spec) =>
    kafkaConfigFrom(process.env, {
      pipeline: spec.name,
      ...(brokers !== undefined ? { brokers } : {}),
      ...(flags.group !== undefined ? { groupId: flags.group } : {}),
      ...(flags.fromBeginning !== undefined ? { fromBeginning: flags.fromBeginning } : {}),
    }),
  );
  const logger = createLogger({ level: flags.logLevel ?? 'info', pretty: Boolean(process.stderr.isTTY) });
  const registry = new Registry();
  const latest = new Map<string, Forecast>();
  const abort = new AbortController();

  const pipelines: Running[] = specs.map((spec, i) => build(spec, configs[i] as KafkaConfig, registry, logger, latest));

  let http: HttpServer | undefined;
  if (flags.http !== false) {
    http = new HttpServer({
      port: flags.port ?? 9464,
      host: flags.host ?? '127.0.0.1',
      registry,
      logger,
      health: () => ({ live: true }),
      readiness: () => {
        for (const p of pipelines) {
          if (!p.ready) return { ready: false, reason: `${p.spec.name}: creating topics / connecting to Kafka` };
          const r = p.source.readiness();
          if (!r.ready) return { ready: false, reason: `${p.spec.name}: ${r.reason ?? 'not ready'}` };
        }
        return { ready: true };
      },
      seriesLookup: (id) => latest.get(id),
    });
    await http.start();
  }

  const stopAll = async () => {
    abort.abort(new ConfigError('shutting down'));
    await Promise.all(pipelines.map((p) => p.runner.stop()));
  };
  const dispose = onShutdown(
    async () => {
      await stopAll();
      await done;
    },
    { timeoutMs: flags.shutdownTimeout ?? 30_000, logger },
  );

  const done = (async () => {
    try {
      const results = await Promise.allSettled(pipelines.map((p) => runOne(p, configs[pipelines.indexOf(p)] as KafkaConfig, logger, abort.signal)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    } finally {
      await Promise.allSettled(pipelines.map((p) => p.output.close()));
      await http?.stop();
    }
  })();

  try {
    await done;
  } catch (err) {
    // One pipeline failed: stop the others cleanly before reporting it (exit 1 or 2).
    await stopAll();
    throw err;
  } finally {
    dispose();
  }
  return 0;
}

function build(spec: PipelineSpec, cfg: KafkaConfig, registry: Registry, logger: Logger, latest: Map<string, Forecast>): Running {
  const log = logger.child({ pipeline: spec.name });
  const metrics = createMetrics(registry, { pipeline: spec.name });
  const events = metricsListener(metrics, { onInvalid: (e, problem) => log.warn({ event: e.type }, `metric event skipped: ${problem}`) });
  const kafka = createKafka(cfg, log);
  const source = new KafkaSource({
    kafka,
    topic: spec.input.topic,
    groupId: cfg.groupId,
    decoder: decoderFor(spec.input.codec),
    fromBeginning: cfg.fromBeginning,
    sessionTimeoutMs: cfg.sessionTimeoutMs,
    logger: log,
    events,
  });
  const output = new KafkaOutput({ kafka, logger: log });
  const sinks = kafkaSinks(output, { forecasts: spec.output.topic, deadLetters: spec.deadLetter.topic });
  if (spec.guarantee === 'exactly-once') {
    log.warn('guarantee: exactly-once is not implemented yet; running at-least-once (duplicate forecasts are possible after a crash)');
  }
  // Idle close runs on the wall clock in live mode: a series that stops reporting still gets its
  // last steps closed and forecast.
  const idleEveryMs = Math.max(1000, Math.min(60_000, Math.floor(spec.window.idleClose / 4)));
  const runner = new PipelineRunner({
    spec,
    source,
    forecaster: createForecaster(spec),
    forecastSink: sinks.forecasts,
    deadLetterSink: sinks.deadLetters,
    clock: wallClock,
    events,
    flushBeforeCommit: true,
    pipeline: { flushOnComplete: false, commitPositions: 'forecast', idleTicks: interval(idleEveryMs) },
    onBatch: (_steps, forecasts) => {
      for (const f of forecasts) latest.set(f.series, f);
    },
  });
  return { spec, source, output, runner, ready: false };
}

async function runOne(p: Running, cfg: KafkaConfig, logger: Logger, signal: AbortSignal): Promise<void> {
  const log = logger.child({ pipeline: p.spec.name });
  const { spec } = p;
  log.info({ brokers: cfg.brokers, groupId: cfg.groupId, input: spec.input.topic, output: spec.output.topic }, `starting pipeline ${spec.name}`);
  try {
    await retry(
      async () => {
        const admin = createKafka(cfg, log, { clientIdSuffix: 'admin' }).admin();
        await admin.connect();
        try {
          const created = await ensureTopics(admin, [
            { topic: spec.input.topic, partitions: cfg.topicPartitions, replication: cfg.topicReplication },
            { topic: spec.output.topic, partitions: cfg.topicPartitions, replication: cfg.topicReplication },
            { topic: spec.deadLetter.topic, partitions: 1, replication: cfg.topicReplication },
          ]);
          if (created.length > 0) log.info({ topics: created }, `created topics ${created.join(', ')}`);
        } finally {
          await admin.disconnect();
        }
        await p.output.connect(signal);
      },
      {
        retries: Number.MAX_SAFE_INTEGER,
        initialMs: 500,
        maxMs: 15_000,
        signal,
        isRetriable: isRetriableKafkaError,
        onRetry: ({ attempt, delayMs, error }) =>
          log.warn({ attempt: attempt + 1, delayMs, err: error }, `cannot reach Kafka at ${cfg.brokers.join(',')} (${(error as Error).message}); retrying in ${(delayMs / 1000).toFixed(1)} s`),
      },
    );
  } catch (err) {
    if (signal.aborted) return; // shut down before Kafka was reachable
    throw err;
  }
  p.ready = true;
  const summary = await p.runner.run();
  log.info(summary, `pipeline ${spec.name} stopped: ${summary.forecasts} forecasts, ${summary.deadLetters} dead letters; committed offsets ${JSON.stringify(Object.fromEntries(p.source.committedOffsets()))}`);
}
