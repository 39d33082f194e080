/**
 * `npm run bench [-- <name>…]`: runs the benchmarks (all by default) and prints a table each.
 * Benchmarks measure; they do not pass or fail. Figures are recorded in docs/benchmarks.md.
 */
import { benchAccuracy } from './accuracy.js';
import { benchBaselines } from './baselineThroughput.js';
import { benchKafka } from './kafkaThroughput.js';
import { benchMemory } from './memory.js';
import { benchReplay } from './replayThroughput.js';
import { benchTrain } from './trainBackends.js';

const benches: Record<string, () => Promise<Record<string, unknown>[]>> = {
  replay: benchReplay,
  baseline: benchBaselines,
  memory: benchMemory,
  // Needs a broker: KAFKA_BROKERS, else starts one with deploy/kafka/kafka.sh (and stops it).
  kafka: benchKafka,
  // Prequential backtests with retraining on the shared data sets (minutes).
  accuracy: () => benchAccuracy(),
  // Per compute backend, side by side: `streamcast train` on nyc_taxi, one training chunk, serving.
  train: benchTrain,
  // Prints its own tables (kernels × batch sizes, stateful vs window re-run).
  gru: async () => {
    await import('./gruStep.bench.js');
    return [];
  },
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  const bench = benches[name];
  if (!bench) {
    process.stderr.write(`unknown benchmark "${name}"; choose from: ${Object.keys(benches).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`\n## ${name}  (node ${process.version}, ${new Date().toISOString()})\n`);
  const rows = await bench();
  if (rows.length) console.table(rows);
}
