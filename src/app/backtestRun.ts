import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import { formatDuration } from '../domain/duration.js';
import { ConfigError, StreamcastError } from '../domain/errors.js';
import type { NormalizedStep } from '../domain/step.js';
import type { ModelRuntime } from '../forecasting/modelRuntime.js';
import { DiscardSink } from '../connectors/memory/discardSink.js';
import { profileInput } from '../connectors/replay/profileInput.js';
import { createBaseline } from '../forecasting/baseline/createBaseline.js';
import type { Forecaster } from '../forecasting/forecaster.js';
import type { ModelInfo } from '../domain/forecast.js';
import { PrequentialScorer } from '../evaluation/prequentialScorer.js';
import { renderHtmlReport } from '../evaluation/htmlReport.js';
import { ReportTrace } from '../evaluation/reportTrace.js';
import type { BacktestSummary, InSample, ServedModel } from '../evaluation/backtestSummary.js';
import { baselineServedWarning, checkSpacing, checkWarmup, inSampleWarning, spanSteps } from '../evaluation/backtestChecks.js';
import { vegaScripts } from '../evaluation/vegaBundle.js';
import type { Logger } from '../observability/logger.js';
import type { RunStats } from '../observability/runStats.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { FileCommandBackends } from './computeBackends.js';
import { buildReplayRun, runReplay, type ReplayInput, type ReplayProgress } from './replayRun.js';

export interface BacktestOptions {
  /** The spec file, for the report (its text is shown there). */
  readonly specPath: string;
  /** Start from the current model in this models folder (default: the baseline until the first promotion). */
  readonly model?: string | undefined;
  /** Retrain as the spec says, blocking (default true); false scores the loaded model, or the baseline. */
  readonly retrain?: boolean | undefined;
  /** Steps per series before scoring starts (default: two of the longest baseline season). */
  readonly warmup?: number | undefined;
  /** Ablation: the GRU's hidden state is reset at every step. */
  readonly stateless?: boolean | undefined;
  /** false: promoted models serve their head's quantiles as trained. */
  readonly calibration?: boolean | undefined;
  /** Steps of history kept per series for retraining. */
  readonly history?: number | undefined;
  /** Folder for summary.json and index.html. */
  readonly report?: string | undefined;
  /** The command line as typed, for the report's metadata. */
  readonly commandLine: string;
  readonly progress: ReplayProgress;
  readonly logger: Logger;
}

export interface BacktestResult {
  readonly summary: BacktestSummary;
  readonly elapsedMs: number;
  /** The signal that stopped it early (the summary is then partial). */
  readonly signal?: string;
  readonly stats: RunStats;
  /** Retrains during the run, by outcome. */
  readonly trainingRuns: Readonly<{ promoted: number; rejected: number; failed: number }>;
  /** The model serving at the end. */
  readonly serving: ModelInfo;
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

/**
 * Prequential backtest: every model sees each step, forecasts from it, and is scored only on
 * later observed values; all models are scored on exactly the same cells.
 *
 * Before it starts it profiles the input: a warm-up that leaves nothing to score is refused
 * (ConfigError, with a --warmup that works), a step far from the data's spacing is warned about.
 * At the end it says what the `gru` column really was (`served`), and flags forecasts made inside
 * the served model's training range (`inSample`). A signal stops it early: the summary (and the
 * report) then covers the input up to there, marked partial.
 */
export async function runBacktest(spec: PipelineSpec, input: ReplayInput, backends: FileCommandBackends, opts: BacktestOptions): Promise<BacktestResult> {
  const { progress, logger, specPath } = opts;
  const warn = (message: string): void => logger.warn(message);
  let totalEpochs = opts.retrain === false ? 0 : Number.NaN;
  // Prequential with the production path: the pipeline's model runtime retrains as the spec says,
  // blocking, so every retrain sees only the steps before it and reruns give the same numbers.
  const run = buildReplayRun(
    spec,
    input,
    {
      models: opts.model,
      retrain: opts.retrain === false ? 'off' : 'blocking',
      logger,
      onTrainProgress: (p) => {
        progress.phase(`retrain ${p.run}: epoch ${p.epoch}/${Number.isNaN(totalEpochs) ? '?' : totalEpochs} ${Math.round(p.fraction * 100)}%`);
      },
      ...(opts.stateless === true ? { stateless: true } : {}),
      ...(opts.calibration === false ? { calibrate: false } : {}),
      ...(opts.history !== undefined ? { historySteps: opts.history } : {}),
      trainBackend: backends.config.train,
    },
  );
  await backends.started(run.retrainer, opts.retrain !== false && spec.model.type === 'gru');
  totalEpochs = spec.retrain.epochs;
  const { runtime, retrainer } = run;
  const models = baselineSet(spec);
  // The pipeline's own model (baseline until a GRU is promoted) is scored as "gru".
  const primaryName = spec.model.type === 'gru' ? 'gru' : undefined;
  const longestSeason = Math.max(...[...models.keys()].map((k) => (k.startsWith('seasonal-naive-') ? seasonSteps(k, spec) : 1)));
  const warmupSteps = opts.warmup ?? 2 * longestSeason;
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new ConfigError('--warmup must be a whole number of steps ≥ 0');

  progress.phase('checking the input');
  const inputs = input.paths;
  const profile = await profileInput(inputs, { ...(input.series?.length ? { series: [...input.series] } : {}), ...(input.limit !== undefined ? { limit: input.limit } : {}) });
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
      why: opts.warmup !== undefined ? '--warmup' : longestName !== undefined ? `2 × ${longestName.replace('seasonal-naive-', '')}, the longest baseline season` : 'the default',
      seasonSteps: longestSeason,
    }),
  );
  note(checkSpacing(profile.series, spec.window.step));

  // The pipeline's model as it was before online calibration, on the same cells (the ablation of
  // `--no-calibration` without a second run): what the runtime made, heard before it calibrated.
  const uncalibrated = primaryName !== undefined ? new UncalibratedForecasts(runtime) : undefined;
  const scorer = new PrequentialScorer({
    models: [...(primaryName ? [primaryName] : []), ...(uncalibrated ? [UNCALIBRATED] : []), ...models.keys()],
    horizon: spec.model.horizon,
    stepMs: spec.window.step,
    quantiles: [...spec.model.quantiles],
    warmupSteps,
  });
  const trace = opts.report
    ? new ReportTrace({ models: [...(primaryName ? [primaryName] : []), ...models.keys()], horizon: spec.model.horizon, quantiles: spec.model.quantiles, ...(spec.report?.target !== undefined ? { target: spec.report.target } : {}) })
    : undefined;
  const versions = new Set<number>();
  let gruFrom: number | null = null;
  let primaryForecasts = 0;
  let inSampleForecasts = 0;
  const inSampleVersions = new Map<number, { firstTs: number; lastTs: number }>();

  progress.phase('replay');
  const { elapsedMs, signal } = await runReplay(
    run,
    { forecasts: new DiscardSink<Forecast>(), deadLetters: new DiscardSink<DeadLetter>() },
    {
      progress,
      logger,
      onBatch: (steps, primary) => {
        progress.phase('replay');
        const outputs = [...models].map(([name, m]) => [name, m.step(steps)] as const);
        const raw = uncalibrated?.take(steps);
        steps.forEach((step, i) => {
          scorer.addActual(step);
          const byModel: Record<string, Forecast | undefined> = {};
          if (primaryName) {
            const f = primary[i]!;
            scorer.addForecasts(primaryName, [f]);
            if (raw !== undefined) scorer.addForecasts(UNCALIBRATED, [raw[i]!]);
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
    note(baselineServedWarning(served, { retrain: opts.retrain !== false, minHistory: spec.retrain.minHistory, longestSeriesSteps: profile.series.size > 0 ? longestSteps : undefined }));
  }
  uncalibrated?.close();
  const scored = scorer.summary({ input: inputs.map((p) => basename(p)).join(','), pipeline: spec.name });
  // Present only once a GRU served: before that it is the baseline, as `gru` is.
  const base = served.kind === 'gru' ? scored : { ...scored, models: Object.fromEntries(Object.entries(scored.models).filter(([name]) => name !== UNCALIBRATED)) };
  if (base.scoredCells === 0 && signal === undefined) note('no cell was scored: every series is shorter than the warm-up plus one step; lower --warmup or give more data.');
  const summary: BacktestSummary = { ...base, partial: signal !== undefined, ...(primaryName ? { served, inSample } : {}), warnings };

  if (opts.report) {
    progress.phase('writing the report');
    mkdirSync(opts.report, { recursive: true });
    writeFileSync(join(opts.report, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
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
          command: opts.commandLine,
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
    writeFileSync(join(opts.report, 'index.html'), html);
  }
  return {
    summary,
    elapsedMs,
    ...(signal !== undefined ? { signal } : {}),
    stats: run.stats,
    trainingRuns: retrainer.trainingRuns,
    serving: runtime.info,
  };
}

/** The `models` key of the pipeline's model scored before online calibration. */
export const UNCALIBRATED = 'gru-uncalibrated';

/**
 * Collects what the runtime made before online calibration, batch by batch, for the backtest's
 * onBatch to take in the same order (the runtime may be stepped in several segments per batch
 * when a retrain lands inside it: the queue joins them back).
 */
class UncalibratedForecasts {
  readonly #runtime: ModelRuntime;
  #queue: Forecast[] = [];

  constructor(runtime: ModelRuntime) {
    this.#runtime = runtime;
    runtime.observeBeforeCalibration((_batch, forecasts) => {
      for (const f of forecasts) this.#queue.push(f);
    });
  }

  /** The uncalibrated forecasts of `steps`, in order; throws if the runtime stepped something else (a wiring bug). */
  take(steps: readonly NormalizedStep[]): Forecast[] {
    if (this.#queue.length < steps.length) throw new StreamcastError('fatal', `backtest: ${steps.length} steps stepped but ${this.#queue.length} uncalibrated forecasts heard`);
    const out = this.#queue.splice(0, steps.length);
    out.forEach((f, i) => {
      const s = steps[i]!;
      if (f.series !== s.series || f.ts !== s.ts) throw new StreamcastError('fatal', `backtest: uncalibrated forecast for ${f.series}@${f.ts} where ${s.series}@${s.ts} was stepped`);
    });
    if (this.#queue.length === 0) this.#queue = [];
    return out;
  }

  close(): void {
    this.#runtime.observeBeforeCalibration(undefined);
  }
}

function seasonSteps(name: string, spec: PipelineSpec): number {
  return name.endsWith('1w') ? (7 * DAY) / spec.window.step : DAY / spec.window.step;
}
