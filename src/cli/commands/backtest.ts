import { join } from 'node:path';
import { ConfigError } from '../../domain/errors.js';
import { formatFixedOriginTable } from '../../evaluation/formatFixedOriginTable.js';
import { formatTable } from '../../evaluation/formatTable.js';
import { loadSpec } from '../../spec/loadSpec.js';
import { runBacktest } from '../../app/backtestRun.js';
import { runFixedOrigin } from '../../app/fixedOriginRun.js';
import { withHorizon } from '../../spec/withHorizon.js';
import { fileCommandBackends } from '../../app/computeBackends.js';
import { describeRun, signalExitCode } from '../../app/replayRun.js';
import { cliLogger } from '../cliLogger.js';
import { createProgress } from '../progress.js';
import { replayInputFrom, type ReplayFlags } from '../replayFlags.js';

export interface BacktestFlags extends ReplayFlags {
  json?: boolean;
  report?: string;
  warmup?: number;
  /** Ablation: the GRU's hidden state is reset at every step. */
  stateless?: boolean;
  /** `--no-calibration`: promoted models serve their head's quantiles as trained. */
  calibration?: boolean;
  /** Steps of history kept per series for retraining. */
  history?: number;
  /** `prequential` (default) or `end`: the fixed-origin protocol (src/app/fixedOriginRun.ts). */
  origin?: 'prequential' | 'end';
  /** Overrides the spec's model.horizon (and, with --origin end, the steps held out). */
  horizon?: number;
}

/** The command line as typed, for the report's metadata. */
function commandLine(): string {
  return ['streamcast', ...process.argv.slice(2)].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

/**
 * `streamcast backtest <spec> --input <file>…` (src/app/backtestRun.ts): the summary as a table or
 * JSON on stdout, summary.json and index.html with --report. A warm-up that leaves nothing to score
 * exits 2 with a --warmup that works. Ctrl-C writes the partial report, marked partial, and exits 130.
 */
export async function backtestCommand(specPath: string, flags: BacktestFlags): Promise<number> {
  const progress = createProgress('backtest', { quiet: flags.quiet });
  // Log lines go above the bar, never into it.
  const logger = cliLogger(flags, progress.logStream);
  try {
    const spec = withHorizon(loadSpec(specPath), flags.horizon);
    if (flags.origin === 'end') return await fixedOrigin(spec, flags, progress, logger);
    const backends = await fileCommandBackends(flags);
    const { summary, signal, elapsedMs, stats, trainingRuns, serving } = await runBacktest(spec, replayInputFrom(flags), backends, {
      specPath,
      model: flags.model,
      retrain: flags.retrain,
      warmup: flags.warmup,
      stateless: flags.stateless,
      calibration: flags.calibration,
      history: flags.history,
      report: flags.report,
      commandLine: commandLine(),
      progress,
      logger,
    });
    // A stopped run says where it stopped, not 100 %.
    if (signal === undefined) progress.update(1);
    progress.stop();
    process.stdout.write(`${flags.json ? JSON.stringify(summary) : formatTable(summary)}\n`);
    if (!flags.quiet) {
      process.stderr.write(`training runs: ${trainingRuns.promoted} promoted, ${trainingRuns.rejected} rejected, ${trainingRuns.failed} failed; serving ${serving.kind} v${serving.version}\n`);
      process.stderr.write(`${signal === undefined ? 'done' : 'stopped'}: ${describeRun(stats, elapsedMs)}\n`);
    }
    if (signal !== undefined) {
      const where = flags.report ? `; partial report in ${join(flags.report, 'index.html')} and ${join(flags.report, 'summary.json')}` : '';
      process.stderr.write(`backtest interrupted by ${signal}: the scores above cover the input up to where it stopped (partial)${where}\n`);
      return signalExitCode(signal);
    }
    return 0;
  } finally {
    progress.stop();
  }
}

/** `backtest --origin end`: the fixed-origin protocol's summary as a table or JSON. */
async function fixedOrigin(spec: ReturnType<typeof loadSpec>, flags: BacktestFlags, progress: ReturnType<typeof createProgress>, logger: ReturnType<typeof cliLogger>): Promise<number> {
  const unsupported = [
    flags.report !== undefined ? '--report' : undefined,
    flags.warmup !== undefined ? '--warmup' : undefined,
    flags.stateless === true ? '--stateless' : undefined,
  ].filter((f) => f !== undefined);
  if (unsupported.length > 0) {
    throw new ConfigError(`${unsupported.join(', ')} ${unsupported.length === 1 ? 'does' : 'do'} not apply to --origin end (one forecast per series, from the end of its history); leave ${unsupported.length === 1 ? 'it' : 'them'} out, or use the prequential backtest`);
  }
  const backends = await fileCommandBackends(flags);
  const { summary, signal, elapsedMs } = await runFixedOrigin(spec, replayInputFrom(flags), backends, {
    model: flags.model,
    retrain: flags.retrain,
    calibration: flags.calibration,
    history: flags.history,
    progress,
    logger,
  });
  if (signal === undefined) progress.update(1);
  progress.stop();
  process.stdout.write(`${flags.json ? JSON.stringify(summary) : formatFixedOriginTable(summary)}\n`);
  if (!flags.quiet) process.stderr.write(`${signal === undefined ? 'done' : 'stopped'} in ${(elapsedMs / 1000).toFixed(1)} s\n`);
  if (signal !== undefined) {
    process.stderr.write(`backtest interrupted by ${signal}: the scores above cover what was replayed (partial)\n`);
    return signalExitCode(signal);
  }
  return 0;
}
