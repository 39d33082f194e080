/**
 * What one retrain's read of the other instances' series costs (src/runtime/peerHistory.ts), on a
 * broker (KAFKA_BROKERS, required): BENCH_PEER_SERIES series' state frames (default 20,000, as a
 * pipeline with the demo spec's model writes them after 300 hourly steps: the same frame under
 * every key) in a 4-partition changelog; this instance owns partition 0, so about three quarters
 * are read. Timed: `PeerHistory.windows` with the default sample bound (2,000 series) and with no
 * bound (every series decoded), each BENCH_PEER_REPEAT times (default 3, median), with the heap
 * growth the windows held. The read runs on the serving thread, beside the stream.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npm run bench -- peer-read
 */
import { Kafka, logLevel } from 'kafkajs';
import { kafkaConfigFrom } from '../src/config/kafkaConfig.js';
import { changelogTopic } from '../src/connectors/kafka/topics.js';
import { ModelRuntime } from '../src/forecasting/modelRuntime.js';
import { createLogger } from '../src/observability/logger.js';
import { DEFAULT_PEER_SERIES, PeerHistory } from '../src/runtime/peerHistory.js';
import { parseSpec } from '../src/spec/loadSpec.js';
import { encodeSeriesState } from '../src/state/stateCodec.js';
import { stateShapeOf } from '../src/state/stateShape.js';

const SERIES = Number(process.env['BENCH_PEER_SERIES'] ?? 20_000);
const REPEAT = Number(process.env['BENCH_PEER_REPEAT'] ?? 3);
const PARTITIONS = 4;
const HOUR = 3_600_000;

export async function benchPeerRead(): Promise<Record<string, unknown>[]> {
  const brokers = process.env['KAFKA_BROKERS']?.split(',');
  if (brokers === undefined) {
    process.stderr.write('peer-read needs a broker: set KAFKA_BROKERS (npm run kafka:start starts one on 127.0.0.1:9092)\n');
    return [];
  }
  const id = Math.random().toString(16).slice(2, 10);
  const spec = parseSpec({
    name: `bench-peers-${id}`,
    input: { topic: `bench-peers.in.${id}` },
    output: { topic: `bench-peers.out.${id}` },
    window: { step: '1h' },
    model: { type: 'gru', hidden: 64, context: 96, horizon: 12, quantiles: [0.1, 0.5, 0.9] },
    baseline: { type: 'seasonal-naive', season: '1d' },
  });
  // One series' frame as a pipeline writes it (the default history tail: context + 1 before a model serves).
  const rt = new ModelRuntime({ spec });
  const T0 = Date.UTC(2024, 0, 1);
  for (let i = 0; i < 300; i++) {
    const v = 100 + 20 * Math.sin((2 * Math.PI * i) / 24);
    rt.step([{ series: 's', ts: T0 + i * HOUR, value: v, observed: true, imputed: false, sinceObserved: 0, reset: i === 0, z: (v - 100) / 14, scale: { mean: 100, std: 14 } }]);
  }
  const frame = Buffer.from(encodeSeriesState({ model: { kind: 'baseline', version: 0 }, forecaster: rt.snapshot('s')!, shape: stateShapeOf(spec) }));
  const kafka = new Kafka({ clientId: `bench-peers-${id}`, brokers, logLevel: logLevel.NOTHING });
  const topic = changelogTopic(spec);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  for (let k = 0; k < SERIES; k += 200) {
    const messages = [];
    for (let s = k; s < Math.min(SERIES, k + 200); s++) messages.push({ key: `series-${s}`, value: frame, partition: s % PARTITIONS });
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
  const cfg = kafkaConfigFrom({}, { pipeline: spec.name, brokers, groupId: `bench-peers-${id}` });
  const logger = createLogger({ level: 'warn' });
  const rows: Record<string, unknown>[] = [];
  for (const maxSeries of [DEFAULT_PEER_SERIES, Number.MAX_SAFE_INTEGER]) {
    const peers = PeerHistory.kafka({ spec, cfg, logger, owns: (p) => p === 0, maxSeries, timeoutMs: 600_000 });
    const runs: Array<{ ms: number; series: number; steps: number; heapMB: number }> = [];
    for (let r = 0; r < REPEAT; r++) {
      global.gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      const t0 = performance.now();
      const got = await peers.windows({ capacity: 1000, signal: new AbortController().signal });
      const ms = performance.now() - t0;
      const heapMB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
      runs.push({ ms, series: got.series, steps: got.windows.reduce((n, w) => n + w.length, 0), heapMB });
    }
    runs.sort((a, b) => a.ms - b.ms);
    const mid = runs[Math.floor(runs.length / 2)]!;
    rows.push({
      changelogSeries: SERIES,
      frameBytes: frame.byteLength,
      readPartitions: PARTITIONS - 1,
      bound: maxSeries === DEFAULT_PEER_SERIES ? maxSeries : 'none',
      series: mid.series,
      steps: mid.steps,
      medianMs: Math.round(mid.ms),
      minMs: Math.round(runs[0]!.ms),
      maxMs: Math.round(runs.at(-1)!.ms),
      heapMB: Number(mid.heapMB.toFixed(1)),
    });
  }
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  return rows;
}
