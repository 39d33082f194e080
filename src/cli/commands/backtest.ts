import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import { formatDuration } from '../../domain/duration.js';
import { ConfigError } from '../../domain/errors.js';
import { createBaseline } from '../../forecasting/baseline/createBaseline.js';
import type { Forecaster } from '../../forecasting/forecaster.js';
import { PrequentialScorer } from '../../evaluation/prequentialScorer.js';
import { formatTable } from '../../evaluation/formatTable.js';
import { renderHtmlReport } from '../../evaluation/htmlReport.js';
import { ReportTrace } from '../../evaluation/reportTrace.js';
import type { BacktestSummary, InSample, ServedModel } from '../../evaluation/backtestSummary.js';
import { baselineServedWarning, checkSpacing, checkWarmup, inSampleWarning, spanSteps } from '../../evaluation/backtestChecks.js';
import { vegaScripts } from '../../evaluation/vegaBundle.js';
import { profileInput } from '../../connectors/replay/profileInput.js';
import type { LogSink } from '../../observability/logger.js';
import type { PipelineSpec } from '../../pipeline/spec/pipelineSpec.js';
import { cliLogger } from '../cliLogger.js';
import { fileCommandBackends } from '../computeBackends.js';
import { createProgress, type Progress } from '../progress.js';
import { DiscardSink, describeRun, replayParts, replayRuntime, runReplay, signalExitCode, type ReplayFlags } from './replay.js';

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

const DAY = 86_400_000;

/**
 * The baselines every model is judged against, on the same cells: last value, and seasonal
 * naive at one day and one week wherever the step divides the season.
 */
export function baselineSet(spec: PipelineSpec): Map<string, Forecaster> {
  const opts = { name: spec.name, stepMs: spec.window.step, horizon: spec.model.horizon, quantiles: spec.model.quantiles };
  const set = new Map<string, Forecaster>([['last-value', createBaseline({ type: 'last-value', seasonMs: spec.window.step }, opts)]]);
  for (const season of [DAY, 7 * DAY]) {
    const steps = season / spec.window.step;
    if (Number.isInteger(steps) && steps >= 2 && steps <= 20_000) {
      set.set(`seasonal-naive-${formatDuration(season)}`, createBaseline({ type: 'seasonal-naive', seasonMs: season }, opts));
    }
  }
  return set;
}

/** The spec's baseline as the baseline set names it (e.g. `seasonal-naive-1d`). */
export function baselineName(spec: PipelineSpec): string {
  return spec.baseline.type === 'last-value' ? 'last-value' : `seasonal-naive-${formatDuration(spec.baseline.season)}`;
}

/** The command line as typed, for the report's metadata. */
function commandLine(): string {
  return ['streamcast', ...process.argv.slice(2)].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

/**
 * Prequential backtest: every model sees each step, forecasts from it, and is scored only on
 * later observed values; all models are scored on exactly the same cells.
 *
 * Before it starts it profiles the input: a warm-up that leaves nothing to score is refused
 * (exit 2, with a --warmup that works), a step far from the data's spacing is warned about. At the
 * end it says what the `gru` column really was (`served`), and flags forecasts made inside the
 * served model's training range (`inSample`). Ctrl-C writes the partial report, marked partial,
 * and exits 130.
 */
export async function backtestCommand(specPath: string, flags: BacktestFlags): Promise<number> {
  const progress = createProgress('backtest', { quiet: flags.quiet });
  // Log lines go above the bar, never into it.
  const logger = cliLogger(flags, progress.logStream);
  const warn = (message: string): void => logger.warn(message);
  try {
    return await backtest(specPath, flags, progress, logger, warn);
  } finally {
    progress.stop();
  }
}

async function backtest(specPath: string, flags: BacktestFlags, progress: Progress, logger: LogSink, warn: (m: string) => void): Promise<number> {
  let totalEpochs = flags.retrain === false ? 0 : Number.NaN;
  // Prequential with the production path: the pipeline's model runtime retrains as the spec says,
  // blocking, so every retrain sees only the steps before it and reruns give the same numbers.
  const backends = await fileCommandBackends(flags);
  const parts = replayParts(
    specPath,
    flags,
    replayRuntime({
      models: flags.model,
      retrain: flags.retrain === false ? 'off' : 'blocking',
      quiet: flags.quiet,
      logger,
      onTrainProgress: (p) => {
        progress.phase(`retrain ${p.run}: epoch ${p.epoch}/${Number.isNaN(totalEpochs) ? '?' : totalEpochs} ${Math.round(p.fraction * 100)}%`);
      },
      ...(flags.stateless === true ? { stateless: true } : {}),
      ...(flags.calibration === false ? { calibrate: false } : {}),
      ...(flags.history !== undefined ? { historySteps: flags.history } : {}),
      trainBackend: backends.config.train,
    }),
  );
  const { spec } = parts;
  await backends.started(parts.retrainer, flags.retrain !== false && spec.model.type === 'gru');
  totalEpochs = spec.retrain.epochs;
  const { runtime, retrainer } = parts;
  const models = baselineSet(spec);
  // The pipeline's own model (baseline until a GRU is promoted) is scored as "gru".
  const primaryName = spec.model.type === 'gru' ? 'gru' : undefined;
  const longestSeason = Math.max(...[...models.keys()].map((k) => (k.startsWith('seasonal-naive-') ? seasonSteps(k, spec) : 1)));
  const warmupSteps = flags.warmup ?? 2 * longestSeason;
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new ConfigError('--warmup must be a whole number of steps ≥ 0');

  progress.phase('checking the input');
  const inputs = flags.input ?? [];
  const profile = await profileInput(inputs, { ...(flags.series?.length ? { series: flags.series } : {}), ...(flags.limit !== undefined ? { limit: flags.limit } : {}) });
  const longestName = [...models.keys()].find((k) => k.startsWith('seasonal-naive-') && seasonSteps(k, spec) === longestSeason);
  const warnings: string[] = [];
  const note = (w: string | undefined): void => {
    if (w === undefined) return;
    warnings.push(w);
    warn(w);
  };
  note(
    checkWarmup(profile.series, {
      stepMs: spec.window.step,
      warmupSteps,
      why: flags.warmup !== undefined ? '--warmup' : longestName !== undefined ? `2 × ${longestName.replace('seasonal-naive-', '')}, the longest baseline season` : 'the default',
      seasonSteps: longestSeason,
    }),
  );
  note(checkSpacing(profile.series, spec.window.step));

  const scorer = new PrequentialScorer({
    models: [...(primaryName ? [primaryName] : []), ...models.keys()],
    horizon: spec.model.horizon,
    stepMs: spec.window.step,
    quantiles: [...spec.model.quantiles],
    warmupSteps,
  });
  const trace = flags.report
    ? new ReportTrace({ models: [...(primaryName ? [primaryName] : []), ...models.keys()], horizon: spec.model.horizon, quantiles: spec.model.quantiles, ...(spec.report?.target !== undefined ? { target: spec.report.target } : {}) })
    : undefined;
  const versions = new Set<number>();
  let gruFrom: number | null = null;
  let primaryForecasts = 0;
  let inSampleForecasts = 0;
  const inSampleVersions = new Map<number, { firstTs: number; lastTs: number }>();

  progress.phase('replay');
  const { elapsedMs, signal } = await runReplay(
    parts,
    { forecasts: new DiscardSink<Forecast>(), deadLetters: new DiscardSink<DeadLetter>() },
    {
      label: 'backtest',
      quiet: flags.quiet,
      progress,
      logger,
      onBatch: (steps, primary) => {
        progress.phase('replay');
        const outputs = [...models].map(([name, m]) => [name, m.step(steps)] as const);
        steps.forEach((step, i) => {
          scorer.addActual(step);
          const byModel: Record<string, Forecast | undefined> = {};
          if (primaryName) {
            const f = primary[i]!;
            scorer.addForecasts(primaryName, [f]);
            byModel[primaryName] = f;
            primaryForecasts++;
            if (f.model.kind === 'gru') {
              versions.add(f.model.version);
              gruFrom ??= f.ts;
              const range = retrainer.trainedRange(f.model.version);
              // Made inside the data its model was trained on: at least its first target was seen in training.
              if (range !== undefined && f.ts >= range.firstTs && f.ts < range.lastTs) {
                inSampleForecasts++;
                inSampleVersions.set(f.model.version, range);
              }
            }
          }
          for (const [name, out] of outputs) {
            scorer.addForecasts(name, [out[i]!]);
            byModel[name] = out[i]!;
          }
          trace?.add(step, byModel);
        });
      },
    },
  );

  progress.phase('scoring');
  const served: ServedModel = { kind: versions.size === 0 ? 'baseline' : 'gru', baseline: baselineName(spec), versions: [...versions].sort((a, b) => a - b), gruFrom };
  const inSample: InSample | null =
    inSampleForecasts === 0
      ? null
      : { forecasts: inSampleForecasts, fraction: inSampleForecasts / Math.max(1, primaryForecasts), models: [...inSampleVersions].map(([version, r]) => ({ version, ...r })) };
  if (primaryName) {
    if (inSample !== null) note(inSampleWarning(inSample));
    const longestSteps = Math.max(0, ...[...profile.series.values()].map((s) => spanSteps(s, spec.window.step)));
    note(baselineServedWarning(served, { retrain: flags.retrain !== false, minHistory: spec.retrain.minHistory, longestSeriesSteps: profile.series.size > 0 ? longestSteps : undefined }));
  }
  const base = scorer.summary({ input: inputs.map((p) => basename(p)).join(','), pipeline: spec.name });
  if (base.scoredCells === 0 && signal === undefined) note('no cell was scored: every series is shorter than the warm-up plus one step; lower --warmup or give more data.');
  const summary: BacktestSummary = { ...base, partial: signal !== undefined, ...(primaryName ? { served, inSample } : {}), warnings };

  if (flags.report) {
    progress.phase('writing the report');
    mkdirSync(flags.report, { recursive: true });
    writeFileSync(join(flags.report, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const traced = [...(primaryName ? [primaryName] : []), ...(summary.best_baseline ? [summary.best_baseline] : [])];
    const html = renderHtmlReport(
      {
        summary,
        traces: trace?.toArray() ?? [],
        traced,
        centre: trace?.centre ?? 'median',
        pairs: trace?.pairs ?? [],
        stride: trace?.stride ?? 1,
        seriesScores: scorer.seriesScores(),
        seriesSeen: summary.series,
        meta: {
          command: commandLine(),
          specPath,
          specText: readFileSync(specPath, 'utf8'),
          dataRange: profile.firstTs !== undefined && profile.lastTs !== undefined ? { firstTs: profile.firstTs, lastTs: profile.lastTs } : null,
          model: runtime.info.kind === 'gru' ? `gru v${runtime.info.version}` : `baseline ${baselineName(spec)}`,
          training: served.versions.map((v) => ({ version: v, firstTs: retrainer.trainedRange(v)?.firstTs ?? null, lastTs: retrainer.trainedRange(v)?.lastTs ?? null })),
          createdAt: new Date().toISOString(),
        },
      },
      vegaScripts(),
    );
    writeFileSync(join(flags.report, 'index.html'), html);
  }
  // A stopped run says where it stopped, not 100 %.
  if (signal === undefined) progress.update(1);
  progress.stop();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    process.stdout.write(`${formatTable(summary)}\n`);
  }
  if (!flags.quiet) {
    const runs = retrainer.trainingRuns;
    process.stderr.write(`training runs: ${runs.promoted} promoted, ${runs.rejected} rejected, ${runs.failed} failed; serving ${runtime.info.kind} v${runtime.info.version}\n`);
    process.stderr.write(`${signal === undefined ? 'done' : 'stopped'}: ${describeRun(parts.stats, elapsedMs)}\n`);
  }
  if (signal !== undefined) {
    const where = flags.report ? `; partial report in ${join(flags.report, 'index.html')} and ${join(flags.report, 'summary.json')}` : '';
    process.stderr.write(`backtest interrupted by ${signal}: the scores above cover the input up to where it stopped (partial)${where}\n`);
    return signalExitCode(signal);
  }
  return 0;
}

function seasonSteps(name: string, spec: PipelineSpec): number {
  return name.endsWith('1w') ? (7 * DAY) / spec.window.step : DAY / spec.window.step;
}
