import { join } from 'node:path';
import { formatTable } from '../../evaluation/formatTable.js';
import { loadSpec } from '../../spec/loadSpec.js';
import { runBacktest } from '../../app/backtestRun.js';
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
    const backends = await fileCommandBackends(flags);
    const { summary, signal, elapsedMs, stats, trainingRuns, serving } = await runBacktest(loadSpec(specPath), replayInputFrom(flags), backends, {
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
