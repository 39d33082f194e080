import { Command, Option } from 'commander';
import { backtestCommand } from './commands/backtest.js';
import { demoCommand } from './commands/demo.js';
import { replayCommand } from './commands/replay.js';
import { collect, fraction, nonNegativeInt, nonNegativeNumber, port, positiveNumber } from './options.js';

/** Options shared by the commands that replay a file through a pipeline. */
function withReplayInput(cmd: Command): Command {
  return cmd
    .requiredOption('-i, --input <file>', 'CSV (wide: time + one column per series; long: series,ts,value) or JSONL points; repeat to merge files by time', collect)
    .option('--speed <factor>', 'replay at this multiple of event time (default: as fast as possible)', positiveNumber)
    .option('--rate <n>', 'at most n input records per second', positiveNumber)
    .option('--limit <n>', 'stop after n input records', nonNegativeInt)
    .option('--series <id>', 'only this series (repeat for several), e.g. --series OT', collect)
    .option('--drop <fraction>', 'fault injection: drop this fraction of points at random', fraction)
    .option('--hole <start/duration>', 'fault injection: drop every point in [start, start+duration), e.g. 2014-10-01T00:00:00Z/12h')
    .option('--seed <n>', 'seed of --drop', nonNegativeInt, 1)
    .option('-q, --quiet', 'no progress output');
}

/** The `streamcast` command line. Actions return the process exit code. */
export function buildProgram(onExitCode: (code: number) => void): Command {
  const program = new Command('streamcast')
    .description('Streaming probabilistic forecaster: Kafka → event-time pipeline → stateful GRU → forecasts')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('demo')
    .description('the embedded demo: replay a real data set (Seattle hourly weather) through the full pipeline; no server needed')
    .option('--rate <n>', 'input rows per second; 0 = as fast as possible', nonNegativeNumber, 100)
    .option('--limit <n>', 'stop after n input rows', nonNegativeInt)
    .option('--port <port>', 'HTTP port for /metrics, /healthz, /readyz, /series/:id (0 = any free port)', port, 9464)
    .option('--host <address>', 'address to serve HTTP on (0.0.0.0 in a container)', '127.0.0.1')
    .option('--no-http', 'do not serve HTTP')
    .action(async (flags) => onExitCode(await demoCommand(flags)));

  withReplayInput(
    program
      .command('replay')
      .description('run a pipeline over a file and write one forecast per closed step as JSON lines')
      .argument('<spec>', 'pipeline spec, e.g. pipelines/nyc-taxi.yaml'),
  )
    .option('-o, --out <file>', 'write forecasts to this JSONL file (default: stdout)')
    .option('--dead-letters <file>', 'write dead letters (malformed, late records) to this JSONL file')
    .action(async (spec, flags) => onExitCode(await replayCommand(spec, flags)));

  withReplayInput(
    program
      .command('backtest')
      .description('prequential evaluation of the pipeline model and the baselines on the same points')
      .argument('<spec>', 'pipeline spec, e.g. pipelines/nyc-taxi.yaml'),
  )
    .option('--json', 'print the summary as JSON (DESIGN.md shape) instead of a table')
    .option('--report <dir>', 'write summary.json into this directory')
    .addOption(new Option('--warmup <steps>', 'steps per series before scoring starts (default: two of the longest season)').argParser(nonNegativeInt))
    .action(async (spec, flags) => onExitCode(await backtestCommand(spec, flags)));

  return program;
}
