import { kafkaConfigFrom } from '../../config/kafkaConfig.js';
import type { BackendFlags } from '../../config/backendConfig.js';
import { ConfigError } from '../../domain/errors.js';
import { loadSpec } from '../../spec/loadSpec.js';
import { runKafkaPipelines } from '../../app/kafkaRun.js';
import { cliLogger, type LogFlags } from '../cliLogger.js';

export interface RunFlags extends BackendFlags, LogFlags {
  brokers?: string;
  group?: string;
  fromBeginning?: boolean;
  port?: number;
  host?: string;
  http?: boolean;
  shutdownTimeout?: number;
  /** InfluxDB 1.x history, e.g. http://127.0.0.1:8086/streamcast. */
  influx?: string;
  /** Steps of history in each series' changelog state (default: what a re-warm needs). */
  snapshotHistory?: number;
}

/**
 * `streamcast run <spec…>`: the stream processor against Kafka (src/app/kafkaRun.ts), one consumer
 * group member per pipeline. SIGTERM/SIGINT: stop fetching, finish in-flight work, checkpoint,
 * leave the group, exit 0; a second signal exits at once. A pipeline that fails is thrown (exit 1,
 * or 2 for a config error).
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
  const pipelines = specs.map((spec) => ({
    spec,
    cfg: kafkaConfigFrom(process.env, {
      pipeline: spec.name,
      ...(brokers !== undefined ? { brokers } : {}),
      ...(flags.group !== undefined ? { groupId: flags.group } : {}),
      ...(flags.fromBeginning !== undefined ? { fromBeginning: flags.fromBeginning } : {}),
    }),
  }));
  await runKafkaPipelines({
    pipelines,
    logger: cliLogger(flags),
    backends: flags,
    http: { port: flags.port, host: flags.host, http: flags.http },
    shutdownTimeoutMs: flags.shutdownTimeout ?? 30_000,
    influxUrl: flags.influx,
    ...(flags.snapshotHistory !== undefined ? { snapshotHistorySteps: flags.snapshotHistory } : {}),
  });
  return 0;
}
