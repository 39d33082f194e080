/**
 * `npm run bench [-- <name>…]`: runs the benchmarks (all by default) and prints a table each.
 * The chaos benchmark takes arguments of its own after its name (`npm run bench -- chaos kill9
 * --out x.json`). Benchmarks measure; they do not pass or fail.
 * Figures are recorded in docs/benchmarks.md.
 */
import { benchAccuracy } from './accuracy.js';
import { benchBaselines } from './baselineThroughput.js';
import { benchChaos } from './chaos.js';
import { benchCombiner } from './combinerStep.js';
import { benchKafka } from './kafkaThroughput.js';
import { benchLiveMemory } from './liveMemory.js';
import { benchMemory } from './memory.js';
import { benchPeerRead } from './peerRead.js';
import { benchMembers } from './membersServing.js';
import { benchReplay } from './replayThroughput.js';
import { benchResampler } from './resamplerPush.js';
import { benchTrain } from './trainBackends.js';
import { benchTrainKernel } from './trainKernel.js';

const benches: Record<string, (args: readonly string[]) => Promise<Record<string, unknown>[]>> = {
  replay: benchReplay,
  // The per-point core alone: Resampler.push.
  resampler: benchResampler,
  baseline: benchBaselines,
  // The served forecast's combiner: model runtime steps with it on and off, same run.
  combiner: benchCombiner,
  // model.members: the runtime serving one member vs two, same batches, same run.
  members: benchMembers,
  memory: benchMemory,
  // The whole live path at 200k series: live vs checkpointed vs restored bytes per series (minutes).
  'live-memory': benchLiveMemory,
  // Needs a broker: KAFKA_BROKERS, else starts one with deploy/kafka/kafka.sh (and stops it).
  kafka: benchKafka,
  // Needs KAFKA_BROKERS: one retrain's read of the other instances' series (runtime/peerHistory.ts).
  'peer-read': () => benchPeerRead(),
  // Prequential backtests with retraining on the shared data sets (minutes).
  accuracy: () => benchAccuracy(),
  // Per compute backend, side by side: `streamcast train` on nyc_taxi, one training chunk, serving.
  train: benchTrain,
  // One TBPTT step: tf ops on each tfjs backend vs the hand-written kernel, same chunks, same run.
  'train-kernel': benchTrainKernel,
  // Prints its own tables (kernels × batch sizes, stateful vs window re-run).
  gru: async () => {
    await import('./gruStep.bench.js');
    return [];
  },
  // Its own broker, killed and restarted; streamcast children killed (about 15 minutes; prints its own table).
  chaos: (args) => benchChaos(args),
};

const wanted: Array<{ name: string; args: string[] }> = [];
/** Benchmarks that take arguments of their own; any other name must be a benchmark's. */
const takesArgs = new Set(['chaos']);
for (const a of process.argv.slice(2)) {
  const last = wanted.at(-1);
  if (Object.hasOwn(benches, a)) wanted.push({ name: a, args: [] });
  else if (last !== undefined && takesArgs.has(last.name)) last.args.push(a);
  else if (!a.startsWith('-')) {
    process.stderr.write(`unknown benchmark "${a}"; choose from: ${Object.keys(benches).join(', ')}\n`);
    process.exit(2);
  }
}
for (const { name, args } of wanted.length ? wanted : Object.keys(benches).map((n) => ({ name: n, args: [] }))) {
  const bench = benches[name]!;
  process.stdout.write(`\n## ${name}  (node ${process.version}, ${new Date().toISOString()})\n`);
  const rows = await bench(args);
  if (rows.length) console.table(rows);
}
