import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { LOG_FORMATS, LOG_LEVELS } from '../observability/logger.js';
import type { TrainFlags } from './commands/train.js';
import { collect, fraction, nonNegativeInt, nonNegativeNumber, port, positiveInt, positiveNumber } from './options.js';

/** Options of every command that reads a data file (replay, backtest, produce). */
function withFileInput(cmd: Command): Command {
  return cmd
    .requiredOption('-i, --input <file>', 'CSV (wide: time + one column per series; long: series,ts,value) or JSONL points; repeat to merge files by time', collect)
    .option('--speed <factor>', 'replay at this multiple of event time (default: as fast as possible)', positiveNumber)
    .option('--rate <n>', 'at most n input records per second', positiveNumber)
    .option('--limit <n>', 'stop after n input records', nonNegativeInt)
    .option('--series <id>', 'only this series (repeat for several), e.g. --series OT', collect)
    .option('-q, --quiet', 'no progress output');
}

/** Options shared by the commands that replay a file through a pipeline. */
function withReplayInput(cmd: Command): Command {
  return withFileInput(cmd)
    .option('--drop <fraction>', 'fault injection: drop this fraction of points at random', fraction)
    .option('--hole <start/duration>', 'fault injection: drop every point in [start, start+duration), e.g. 2014-10-01T00:00:00Z/12h; repeat for several', collect)
    .option('--jitter <duration>', 'fault injection: move each point\'s timestamp by a uniform offset in ±duration, e.g. 2m (an irregular sensor)')
    .option('--seed <n>', 'seed of --drop and --jitter', nonNegativeInt, 1);
}

// `--backend` and `--train-backend`, on every command that serves or trains the GRU (src/config/backendConfig.ts).
const backendOption = (): Option =>
  new Option('--backend <name>', 'compute backend for serving (and training, unless --train-backend): auto, wasm, tensorflow, tensorflow-gpu (default STREAMCAST_BACKEND, else auto: wasm serving, native training where installed)');
const trainBackendOption = (): Option =>
  new Option('--train-backend <name>', 'compute backend of the trainer worker: auto, wasm, tensorflow, tensorflow-gpu (default STREAMCAST_TRAIN_BACKEND, else as --backend)');

/** The package's version, from the package.json beside src/ (and dist/, whose layout is the same). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** The command's own options and the program-wide ones (`--log-level`, `--log-format`). */
function allOpts(cmd: Command): Record<string, unknown> {
  return cmd.optsWithGlobals();
}

/**
 * The `streamcast` command line. Actions return the process exit code. Each command's module is
 * imported when it runs: TensorFlow.js alone takes seconds to load, which `--help`, `--version`
 * and `produce` do not need.
 */
export function buildProgram(onExitCode: (code: number) => void): Command {
  const program = new Command('streamcast')
    .description('Streaming probabilistic forecaster: Kafka → event-time pipeline → stateful GRU → forecasts')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    // Program-wide, accepted before or after the command name (`streamcast run x.yaml --log-level debug`).
    .addOption(new Option('--log-level <level>', 'log level (default: info, warn with -q)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log lines on stderr: json (one object per line), pretty (human); default: pretty on a terminal, else json').choices(LOG_FORMATS))
    .showHelpAfterError('(run with --help for usage)')
    // Each command's --help lists the program-wide options too.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();

  program
    .command('demo')
    .description('the embedded demo: replay a real data set (Seattle hourly weather) through the full pipeline; no server needed')
    .option('--rate <n>', 'input rows per second; 0 = as fast as possible', nonNegativeNumber, 100)
    .option('--limit <n>', 'stop after n input rows', nonNegativeInt)
    .option('--port <port>', 'HTTP port for /metrics, /healthz, /readyz, /series/:id (0 = any free port)', port, 9464)
    .option('--host <address>', 'address to serve HTTP on (0.0.0.0 in a container)', '127.0.0.1')
    .option('--no-http', 'do not serve HTTP')
    .option('--influx <url>', 'also write actuals, forecasts and errors to InfluxDB 1.x, e.g. http://127.0.0.1:8086/streamcast (database created if absent)')
    .addOption(backendOption())
    .addOption(trainBackendOption())
    .action(async (_flags, cmd: Command) => onExitCode(await (await import('./commands/demo.js')).demoCommand(allOpts(cmd))));

  withReplayInput(
    program
      .command('replay')
      .description('run a pipeline over a file and write one forecast per closed step as JSON lines')
      .argument('<spec>', 'pipeline spec, e.g. pipelines/nyc-taxi.yaml'),
  )
    .option('-o, --out <file>', 'write forecasts to this JSONL file (default: stdout)')
    .option('--dead-letters <file>', 'write dead letters (malformed, late records) to this JSONL file')
    .option('--influx <url>', 'also write actuals, forecasts and errors to InfluxDB 1.x, e.g. http://127.0.0.1:8086/streamcast (database created if absent)')
    .addOption(backendOption())
    .addOption(trainBackendOption())
    .action(async (spec: string, _flags, cmd: Command) => onExitCode(await (await import('./commands/replay.js')).replayCommand(spec, allOpts(cmd))));

  withReplayInput(
    program
      .command('backtest')
      .description('prequential evaluation of the pipeline model and the baselines on the same points')
      .argument('<spec>', 'pipeline spec, e.g. pipelines/nyc-taxi.yaml'),
  )
    .option('--json', 'print the summary as JSON (DESIGN.md shape) instead of a table')
    .addOption(new Option('--origin <where>', 'prequential: forecast from every step (default); end: hold out each series\' last --horizon steps, train on the histories, score the forecast from each history\'s end (sMAPE, MASE, OWA vs Naive2)').choices(['prequential', 'end']))
    .addOption(new Option('--horizon <steps>', 'steps ahead to forecast (and, with --origin end, to hold out); overrides the spec\'s model.horizon').argParser(positiveInt))
    .option('--report <dir>', 'write summary.json into this directory')
    .addOption(new Option('--warmup <steps>', 'steps per series before scoring starts (default: two of the longest season)').argParser(nonNegativeInt))
    .option('--model <dir>', 'start from the current model in this models folder (default: the baseline until the first promotion)')
    .option('--no-retrain', 'do not retrain (score the loaded model, or the baseline, as "gru")')
    .option('--stateless', 'ablation: reset the GRU hidden state at every step')
    .option('--no-calibration', 'ablation: serve the quantile head as trained (no held-out blend with the baselines, no conformal interval scaling)')
    .option('--history <steps>', 'steps of history kept per series for retraining', positiveInt)
    .addOption(backendOption())
    .addOption(trainBackendOption())
    .action(async (spec: string, _flags, cmd: Command) => onExitCode(await (await import('./commands/backtest.js')).backtestCommand(spec, allOpts(cmd))));

  program
    .command('run')
    .description('the stream processor: consume each pipeline\'s input topic, forecast, produce forecasts and dead letters (Kafka: KAFKA_BROKERS, KAFKA_GROUP_ID, KAFKA_SSL*, KAFKA_SASL_*)')
    .argument('<spec...>', 'pipeline specs, e.g. pipelines/demo.yaml')
    .option('--brokers <list>', 'host:port[,host:port…] (default: KAFKA_BROKERS or 127.0.0.1:9092)')
    .option('--group <id>', 'consumer group (default: KAFKA_GROUP_ID or streamcast-<pipeline>)')
    .addOption(new Option('--from-beginning', 'a new group starts at the earliest offset (default; KAFKA_FROM_BEGINNING)'))
    .addOption(new Option('--from-latest', 'a new group starts at the latest offset').conflicts('fromBeginning'))
    .option('--port <port>', 'HTTP port for /metrics, /healthz, /readyz, /series/:id (0 = any free port)', port, 9464)
    .option('--host <address>', 'address to serve HTTP on (0.0.0.0 in a container)', '127.0.0.1')
    .option('--no-http', 'do not serve HTTP')
    .option('--shutdown-timeout <ms>', 'graceful shutdown budget before exiting 1', positiveInt, 30_000)
    .option('--influx <url>', 'also write actuals, forecasts and errors to InfluxDB 1.x, e.g. http://127.0.0.1:8086/streamcast (database created if absent)')
    .option(
      '--snapshot-history <steps>',
      "steps of each series' history written with its state to the changelog (default: model.context + the residual base's lag + 1): the trainer learns that much of the other instances' series, and a restart restores that much; ~5 bytes a step per changed series per checkpoint",
      positiveInt,
    )
    .addOption(backendOption())
    .addOption(trainBackendOption())
    .action(async (specs: string[], _flags, cmd: Command) => {
      const { fromLatest, fromBeginning, ...rest } = allOpts(cmd) as { fromLatest?: boolean; fromBeginning?: boolean } & Record<string, unknown>;
      const from = fromLatest === true ? { fromBeginning: false } : fromBeginning === true ? { fromBeginning: true } : {};
      onExitCode(await (await import('./commands/run.js')).runCommand(specs, { ...rest, ...from }));
    });

  withFileInput(
    program
      .command('produce')
      .description('load a data set into a Kafka topic as input points keyed by series (demo producer)')
      .requiredOption('-t, --topic <topic>', 'topic to write to (created if absent)'),
  )
    .option('--partitions <n>', 'partitions of the topic if it is created (default KAFKA_TOPIC_PARTITIONS or 1)', positiveInt)
    .option('--brokers <list>', 'host:port[,host:port…] (default: KAFKA_BROKERS or 127.0.0.1:9092)')
    .action(async (_flags, cmd: Command) => onExitCode(await (await import('./commands/produce.js')).produceCommand(allOpts(cmd))));

  program
    .command('train')
    .description('replay files through the pipeline, train the GRU in a worker thread, write models/<pipeline>/<version>/; current moves only if it beats retrain.promote.mustBeat')
    .argument('<spec>', 'pipeline spec, e.g. pipelines/nyc-taxi.yaml')
    .requiredOption('-i, --input <file>', 'CSV or JSONL input; repeat to merge files by time', collect)
    .option('--epochs <n>', 'epochs (default retrain.epochs)', nonNegativeInt)
    .option('-o, --out <dir>', 'models folder', 'models')
    .option('--history <steps>', 'steps kept per series (default 20000)', nonNegativeInt)
    .option('--seed <n>', 'seed', nonNegativeInt)
    .option('--force', 'point current at the new model even if it does not beat the bar')
    .option('-q, --quiet', 'no progress output')
    .addOption(backendOption())
    .addOption(trainBackendOption())
    .action(async (spec: string, _flags, cmd: Command) => onExitCode(await (await import('./commands/train.js')).trainCommand(spec, allOpts(cmd) as unknown as TrainFlags)));

  return program;
}
