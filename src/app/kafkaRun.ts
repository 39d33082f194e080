import type { BackendFlags } from '../config/backendConfig.js';
import type { KafkaConfig } from '../config/kafkaConfig.js';
import { describeError } from '../domain/describeError.js';
import { ConfigError, exitCodeFor, isStreamcastError, StreamcastError } from '../domain/errors.js';
import type { BackendRequest } from '../forecasting/gru/backend.js';
import type { ModelRuntime } from '../forecasting/modelRuntime.js';
import type { EventListener } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import { exitGuard } from '../runtime/exitGuard.js';
import { KafkaPipeline } from '../runtime/kafkaPipeline.js';
import { SeriesRegistry } from '../state/seriesRegistry.js';
import { changelogTopic } from '../connectors/kafka/topics.js';
import { ModelDistribution } from '../runtime/modelDistribution.js';
import { PeerHistory } from '../runtime/peerHistory.js';
import { readinessReporter } from '../runtime/readinessReporter.js';
import { onShutdown } from '../runtime/shutdown.js';
import type { Liveness } from '../runtime/stallDetector.js';
import { AppObservability, type HttpFlags, type PipelineObservability } from './appObservability.js';
import { backendDetail, describeBackends, startComputeBackends } from './computeBackends.js';
import { createModel } from './createModel.js';
import type { Retrainer } from '../training/retrainer.js';

export interface KafkaRunOptions {
  /** Each pipeline with its Kafka configuration (names unique: they name groups and metrics). */
  readonly pipelines: ReadonlyArray<{ readonly spec: PipelineSpec; readonly cfg: KafkaConfig }>;
  readonly logger: Logger;
  readonly backends: BackendFlags;
  readonly http: HttpFlags;
  /** Graceful shutdown budget before exiting 1. */
  readonly shutdownTimeoutMs: number;
  /** InfluxDB 1.x history, e.g. http://127.0.0.1:8086/streamcast. */
  readonly influxUrl?: string | undefined;
  /**
   * Steps of history each series' changelog state carries (`--snapshot-history`; default
   * model.context + the residual base's lag + 1, what a re-warm needs): the other instances' series
   * reach the trainer through it (runtime/peerHistory.ts), so a longer tail trains on more of them.
   */
  readonly snapshotHistorySteps?: number;
}

/** How often readiness changes reach the streamcast_ready gauge. */
const READINESS_POLL_MS = 1000;

/**
 * The stream processor: each pipeline consumes its input topic as a consumer group member,
 * restores the state of the partitions it is assigned from the `<pipeline>.state` changelog,
 * forecasts, and checkpoints forecasts, dead letters, changed state and offsets in that order
 * (`guarantee: exactly-once`: one Kafka transaction per input partition; at-least-once: the
 * idempotent producer, then an offset commit). See src/runtime/kafkaPipeline.ts.
 * SIGTERM/SIGINT: stop fetching, finish in-flight work, checkpoint, leave the group, resolve; a
 * second signal exits at once. The first pipeline that fails stops the others and is thrown.
 */
export async function runKafkaPipelines(opts: KafkaRunOptions): Promise<void> {
  const { logger, shutdownTimeoutMs } = opts;
  const specs = opts.pipelines.map((p) => p.spec);
  const configs = opts.pipelines.map((p) => p.cfg);
  const observability = new AppObservability();
  const abort = new AbortController();

  const backends = await startComputeBackends(opts.backends, logger);
  const built = opts.pipelines.map(({ spec, cfg }) => build(spec, cfg, observability, logger, opts.influxUrl, backends.config.train, opts.snapshotHistorySteps));
  // Trainers start now, so a training backend asked for by name but missing exits 2 at once.
  for (const b of built) {
    const trainOn = b.pipeline.spec.model.type === 'gru' ? await b.retrainer.startTrainer() : undefined;
    logger.child({ pipeline: b.pipeline.spec.name }).info(backendDetail(backends, b.runtime.trainBackend), `compute backends: ${describeBackends(backends, trainOn)}`);
  }
  const pipelines: KafkaPipeline[] = built.map((b) => b.pipeline);
  // streamcast_ready{pipeline} follows each pipeline's part of /readyz (0 until restored).
  const readinessChecks = built.map((b) => readinessReporter(() => b.pipeline.readiness(), b.observed.events));
  // streamcast_stalled{pipeline} and a log line follow each pipeline's part of /healthz.
  const livenessChecks = built.map((b) => livenessReporter(b.pipeline, b.observed.events, logger.child({ pipeline: b.pipeline.spec.name })));
  const checkReadiness = () => {
    for (const check of readinessChecks) check();
    for (const check of livenessChecks) check();
  };
  checkReadiness();
  const readinessTimer = setInterval(checkReadiness, READINESS_POLL_MS);
  readinessTimer.unref();

  await observability.serve(
    opts.http,
    {
      health: () => {
        for (const [i, check] of livenessChecks.entries()) {
          const l = check();
          if (!l.live) return { live: false, reason: `${pipelines[i]!.spec.name}: ${l.reason ?? 'stalled'}` };
        }
        return { live: true };
      },
      readiness: () => {
        for (const p of pipelines) {
          const r = p.readiness();
          if (!r.ready) return { ready: false, reason: `${p.spec.name}: ${r.reason ?? 'not ready'}` };
        }
        return { ready: true };
      },
      readyDetail: () => ({ backends: Object.fromEntries(built.map((b) => [b.pipeline.spec.name, backendDetail(backends, b.runtime.trainBackend)])) }),
    },
    logger,
  );

  const stopAll = async () => {
    abort.abort(new ConfigError('shutting down'));
    await Promise.all(pipelines.map((p) => p.stop()));
  };
  const dispose = onShutdown(
    async () => {
      await stopAll();
      await done;
    },
    { timeoutMs: shutdownTimeoutMs, logger },
  );

  // The first pipeline that fails stops the others at once (they would otherwise run on while the
  // process can only exit once all have ended), within the same bound as a SIGTERM.
  let failure: StreamcastError | undefined;
  let cancelBound = (): void => undefined;
  const failed = (p: KafkaPipeline, err: unknown): void => {
    if (failure !== undefined) return;
    failure = fatalFailure(p.spec.name, err);
    // During a shutdown the signal handler bounds the stop and exits 1 when it fails.
    if (abort.signal.aborted) return;
    logger.error(
      { pipeline: p.spec.name, err, exitCode: exitCodeFor(failure) },
      `${failure.message}. Stopping (at most ${shutdownTimeoutMs} ms), then exiting with ${exitCodeFor(failure)} so that the supervisor restarts streamcast`,
    );
    cancelBound = exitGuard({ code: exitCodeFor(failure), afterMs: shutdownTimeoutMs, ref: true, logger, what: 'stopping after the failure did not finish' });
    void stopAll();
  };

  const done = (async () => {
    try {
      await Promise.allSettled(
        pipelines.map((p, i) =>
          runOne(p, configs[i] as KafkaConfig, logger, abort.signal).catch((err: unknown) => {
            failed(p, err);
            throw err;
          }),
        ),
      );
      if (failure !== undefined) throw failure;
    } finally {
      clearInterval(readinessTimer);
      await Promise.allSettled(pipelines.map((p) => p.close()));
      // History still buffered goes out within the sink's bounded close.
      for (const [i, b] of built.entries()) {
        const history = await b.observed.close();
        if (history) logger.child({ pipeline: specs[i]?.name }).info(history, 'InfluxDB history: points written, dropped');
      }
      await observability.stop();
    }
  })();

  try {
    await done;
  } catch (err) {
    // Reported by the CLI (exit 1 or 2). Whatever is still alive then (a kafkajs reconnect timer,
    // a socket) must not keep a failed process running.
    cancelBound();
    exitGuard({ code: exitCodeFor(err), afterMs: LINGER_MS, ref: false, logger, what: 'the process was still running after the failure was reported' });
    throw err;
  } finally {
    dispose();
  }
}

/** How long a failed `run` may take to exit by itself once everything is closed. */
const LINGER_MS = 2000;

/**
 * The failure of pipeline `name` as it leaves the command: its own class when it is a
 * config error (exit 2; its message says how to fix it), else fatal, with a message that names the
 * pipeline and the whole cause chain (describeError), so the operator sees what failed, not a guess.
 */
export function fatalFailure(name: string, err: unknown): StreamcastError {
  if (isStreamcastError(err) && err.kind === 'config') return err; // its message says how to fix it
  return new StreamcastError('fatal', `pipeline ${name} failed: ${describeError(err)}`, { cause: err });
}

/** The pipeline's liveness, with a `liveness` event and a log line on every change. */
function livenessReporter(p: KafkaPipeline, events: EventListener, log: Logger): () => Liveness {
  let last: boolean | undefined;
  return () => {
    const l = p.liveness();
    if (l.live !== last) {
      if (!l.live) log.error({ reason: l.reason }, `pipeline ${p.spec.name} is stalled: ${l.reason ?? ''}; /healthz answers 503`);
      else if (last === false) log.info(`pipeline ${p.spec.name} is making progress again; /healthz answers 200`);
      last = l.live;
      events({ type: 'liveness', live: l.live });
    }
    return l;
  };
}

interface Built {
  readonly pipeline: KafkaPipeline;
  readonly runtime: ModelRuntime;
  readonly retrainer: Retrainer;
  readonly observed: PipelineObservability;
}

function build(
  spec: PipelineSpec,
  cfg: KafkaConfig,
  observability: AppObservability,
  logger: Logger,
  influxUrl: string | undefined,
  trainBackend: BackendRequest,
  snapshotHistorySteps: number | undefined,
  modelsDir = 'models',
): Built {
  const log = logger.child({ pipeline: spec.name });
  // Live accuracy (metrics) and, with --influx, history: in memory / in the background, never blocking a batch.
  const observed = observability.pipeline(spec, log, { influxUrl });
  const { events } = observed;
  const models = new ModelDistribution({ spec, cfg, logger: log });
  // One series index for the pipeline's cores, its state store and the model's per-series parts.
  const registry = new SeriesRegistry();
  // The trainer learns across all series: each retrain adds those of the partitions other
  // instances own, read from the state changelog (peerHistory.ts).
  const peers = PeerHistory.kafka({ spec, cfg, logger: log, owns: (p) => registry.owns(p) });
  const { runtime, retrainer } = createModel(spec, {
    registry,
    peerWindows: (request) => peers.windows(request),
    ...(snapshotHistorySteps !== undefined ? { snapshotHistorySteps } : {}),
    retrain: 'off',
    models: modelsDir,
    persist: true,
    onPromoted: (weights, info) => models.publish(weights, info),
    events,
    logger: log,
    trainBackend,
  });
  models.attach({ adopt: (weights) => runtime.adopt(weights), setRetrain: (mode) => retrainer.setRetrain(mode) });
  const pipeline = new KafkaPipeline({
    spec,
    cfg,
    logger: log,
    events,
    // Live: the promoted model from models/ serves (else the baseline), then the newest one
    // published to <pipeline>.models; only the owner of input partition 0 retrains (background,
    // in the worker thread), persisting and publishing its promotions (modelDistribution.ts).
    forecaster: observed.instrument(runtime),
    models,
    onBatch: observed.onBatch,
    onSeriesDropped: observed.drop,
    registry,
  });
  return { pipeline, runtime, retrainer, observed };
}

async function runOne(p: KafkaPipeline, cfg: KafkaConfig, logger: Logger, signal: AbortSignal): Promise<void> {
  const log = logger.child({ pipeline: p.spec.name });
  const { spec } = p;
  log.info(
    { brokers: cfg.brokers, groupId: cfg.groupId, input: spec.input.topic, output: spec.output.topic, changelog: changelogTopic(spec), guarantee: spec.guarantee },
    `starting pipeline ${spec.name} (${spec.guarantee})`,
  );
  const summary = await p.run(signal);
  if (summary === undefined) return; // shut down before Kafka was reachable
  log.info(summary, `pipeline ${spec.name} stopped: ${summary.forecasts} forecasts, ${summary.deadLetters} dead letters`);
}
