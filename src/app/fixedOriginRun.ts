import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import { ConfigError } from '../domain/errors.js';
import { formatDuration } from '../domain/duration.js';
import { DiscardSink } from '../connectors/memory/discardSink.js';
import { profileInput } from '../connectors/replay/profileInput.js';
import { seasonalPeriod } from '../evaluation/fixedOriginMetrics.js';
import { FixedOriginScorer, type FixedOriginSummary, type FixedOriginTraining } from '../evaluation/fixedOriginScorer.js';
import type { ServedModel } from '../evaluation/backtestSummary.js';
import type { Logger } from '../observability/logger.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import { baselineName, baselineSet } from './backtestRun.js';
import type { FileCommandBackends } from './computeBackends.js';
import { buildReplayRun, runReplay, type ReplayInput, type ReplayProgress } from './replayRun.js';
import { runTraining, TRAIN_HISTORY_STEPS, TRAIN_VAL_FRACTION } from './trainRun.js';

export interface FixedOriginOptions {
  /** Steps held out at the end of each series (the spec's model.horizon already set to it). */
  readonly model?: string | undefined;
  /** Train on the histories first (default true); false scores `model`'s current, or the baseline. */
  readonly retrain?: boolean | undefined;
  /** false: the served model is the quantile head as trained (no online calibration). */
  readonly calibration?: boolean | undefined;
  /** Steps of history kept per series for training (default 20000, as `train`). */
  readonly history?: number | undefined;
  readonly progress: ReplayProgress;
  readonly logger: Logger;
}

export interface FixedOriginResult {
  readonly summary: FixedOriginSummary;
  readonly elapsedMs: number;
  readonly signal?: string;
}

/** Every held-out series needs this many seasons of history (MASE's scale, seasonal naive). */
const MIN_SEASONS = 2;

interface Held {
  readonly origin: number;
  readonly history: number[];
  readonly actuals: (number | null)[];
  forecasts?: Map<string, Forecast>;
}

/**
 * The fixed-origin protocol of forecasting competitions (M4) and batch users: each series' last
 * `horizon` steps are held out; the model is trained on the histories only (`runTraining`, as
 * `streamcast train`), then every series is replayed whole through the same pipeline and model
 * runtime as a backtest (so the combiner, the baselines and each series' state see it
 * prequentially, as in production), and the forecast made at each series' last history step is
 * scored on its held-out values with sMAPE, MASE and OWA against Naive2 (src/evaluation/).
 * The held-out steps pass through the replay only after that forecast is made, so the resampler
 * and imputer shape them as they shape everything else; nothing learns from them before scoring.
 * With calibration on and a trained GRU serving, a second replay scores it uncalibrated too.
 */
export async function runFixedOrigin(spec: PipelineSpec, input: ReplayInput, backends: FileCommandBackends, opts: FixedOriginOptions): Promise<FixedOriginResult> {
  const { progress, logger } = opts;
  const stepMs = spec.window.step;
  const N = spec.model.horizon;
  const m = seasonalPeriod(stepMs);
  const minHistory = Math.max(MIN_SEASONS * m, 2);
  if (opts.model !== undefined && opts.retrain !== false) {
    throw new ConfigError('--origin end trains its own model on the histories; to score the model in --model instead, add --no-retrain');
  }
  const started = performance.now();
  const warnings: string[] = [];
  const note = (w: string): void => {
    warnings.push(w);
    logger.warn(w);
  };

  progress.phase('checking the input');
  const profile = await profileInput(input.paths, { ...(input.series?.length ? { series: [...input.series] } : {}), ...(input.limit !== undefined ? { limit: input.limit } : {}) });
  const held = new Map<string, Held>();
  const short: string[] = [];
  for (const [id, p] of profile.series) {
    const first = Math.floor(p.firstTs / stepMs) * stepMs;
    const last = Math.floor(p.lastTs / stepMs) * stepMs;
    const historySteps = (last - first) / stepMs + 1 - N;
    if (historySteps < minHistory) short.push(id);
    else held.set(id, { origin: last - N * stepMs, history: [], actuals: new Array<number | null>(N).fill(null) });
  }
  const why = `the horizon (${N} steps) plus ${minHistory} steps of history (${MIN_SEASONS} × ${m > 1 ? formatDuration(m * stepMs) : 'one step'})`;
  if (held.size === 0) {
    throw new ConfigError(
      profile.series.size === 0
        ? 'the input has no series to hold out (is it empty, or did --series/--limit leave nothing?)'
        : `every series is shorter than ${why}, so none has a history to forecast from; lower --horizon, or give longer series`,
    );
  }
  if (short.length > 0) {
    note(`${short.length} of ${profile.series.size} series are shorter than ${why} and are left out: ${short.slice(0, 5).join(', ')}${short.length > 5 ? ', …' : ''}; lower --horizon to keep them`);
  }
  const series = [...held.keys()];
  const cutoffs = new Map([...held].map(([id, h]) => [id, h.origin + stepMs]));

  const trainedDir = opts.retrain === false ? undefined : mkdtempSync(join(tmpdir(), 'streamcast-origin-'));
  try {
    let training: FixedOriginTraining | null = null;
    let cancelled: string | undefined;
    if (trainedDir !== undefined && spec.model.type === 'gru') {
      progress.phase('training on the histories: replay');
      const trained = await runTraining(spec, { ...input, series, until: cutoffs }, {
        models: trainedDir,
        valFraction: TRAIN_VAL_FRACTION,
        historySteps: opts.history ?? TRAIN_HISTORY_STEPS,
        trainBackend: backends.config.train,
        logger,
        replayProgress: progress,
        keepProgress: true,
        startTrainer: (r) => backends.started(r, true),
        onTrainProgress: (p) => {
          progress.phase(`training on the histories: ${Math.round(p.fraction * 100)}%`);
        },
      });
      if (trained.outcome === 'cancelled') {
        cancelled = trained.signal ?? 'SIGINT';
        training = { outcome: 'cancelled', reason: `stopped by ${cancelled} while ${trained.during === 'replay' ? 'reading the histories' : 'training'}`, version: null, epochs: null, durationMs: null, backend: null };
      } else {
        const r = trained.report;
        training = { outcome: r.outcome, reason: r.reason, version: r.version ?? null, epochs: r.epochs ?? null, durationMs: r.durationMs ?? null, backend: r.backend ?? null };
        if (r.outcome !== 'promoted') note(`the model trained on the histories was not used (${r.outcome}: ${r.reason}); the pipeline's baseline ${baselineName(spec)} served`);
      }
    }
    const models = trainedDir ?? opts.model;
    const scoreInput: ReplayInput = { ...input, series };
    // The backends were announced by the training pass when there was one.
    const served = cancelled !== undefined ? undefined : await scorePass(spec, scoreInput, held, { models, calibrate: opts.calibration !== false, progress, logger, ...(training === null ? { backends } : {}) });
    let signal = cancelled ?? served?.signal;
    // The same model without the online calibration, on the same series: worth one more replay.
    const uncalibrated =
      signal === undefined && opts.calibration !== false && served?.info.kind === 'gru'
        ? await scorePass(spec, scoreInput, new Map([...held].map(([id, h]) => [id, { origin: h.origin, history: [], actuals: new Array<number | null>(N).fill(null) }])), { models, calibrate: false, progress, logger })
        : undefined;
    signal ??= uncalibrated?.signal;

    progress.phase('scoring');
    const baselines = [...baselineSet(spec).keys()];
    const names = ['gru', ...(uncalibrated ? ['gru-uncalibrated'] : []), ...baselines];
    const scorer = new FixedOriginScorer({ models: names, horizon: N, seasonSteps: m, quantiles: spec.model.quantiles });
    let missing = 0;
    for (const [id, h] of held) {
      if (h.forecasts === undefined) {
        missing++;
        continue;
      }
      const forecasts = new Map(h.forecasts);
      const u = uncalibrated?.held.get(id)?.forecasts?.get('gru');
      if (u !== undefined) forecasts.set('gru-uncalibrated', u);
      scorer.addSeries(id, h.history, h.actuals, forecasts, h.origin);
    }
    if (missing > 0 && signal === undefined) note(`${missing} series made no forecast at their origin (their last history step never closed) and are not scored`);
    const summary = scorer.summary({
      input: input.paths.map((p) => basename(p)).join(','),
      pipeline: spec.name,
      step: stepMs,
      partial: signal !== undefined,
      ...(served !== undefined ? { served: served.info } : {}),
      training,
      warnings,
    });
    if (summary.scoredCells === 0 && signal === undefined) note('no held-out value was observed: nothing was scored');
    return { summary, elapsedMs: performance.now() - started, ...(signal !== undefined ? { signal } : {}) };
  } finally {
    if (trainedDir !== undefined) rmSync(trainedDir, { recursive: true, force: true });
  }
}

/**
 * One replay of every held-out series, whole, through the pipeline and its model runtime (no
 * retraining) and the baseline set: keeps each series' history values up to its origin, the
 * forecasts made at the origin, and the observed values after it.
 */
async function scorePass(
  spec: PipelineSpec,
  input: ReplayInput,
  held: Map<string, Held>,
  opts: { models: string | undefined; calibrate: boolean; progress: ReplayProgress; logger: Logger; backends?: FileCommandBackends },
): Promise<{ held: Map<string, Held>; info: ServedModel; signal?: string }> {
  const { progress, logger } = opts;
  const stepMs = spec.window.step;
  const N = spec.model.horizon;
  const run = buildReplayRun(spec, input, { models: opts.models, retrain: 'off', logger, ...(opts.calibrate ? {} : { calibrate: false }) });
  // Says on stderr what serving runs on (training, if any, was the training pass's).
  await opts.backends?.started(run.retrainer, false);
  const baselines = baselineSet(spec);
  const versions = new Set<number>();
  progress.phase(opts.calibrate ? 'replay' : 'replay (uncalibrated)');
  const { signal } = await runReplay(
    run,
    { forecasts: new DiscardSink<Forecast>(), deadLetters: new DiscardSink<DeadLetter>() },
    {
      progress,
      logger,
      onBatch: (steps, primary) => {
        const outputs = [...baselines].map(([name, b]) => [name, b.step(steps)] as const);
        steps.forEach((step, i) => {
          const h = held.get(step.series);
          if (h === undefined) return;
          if (step.ts <= h.origin) h.history.push(step.value);
          if (step.ts === h.origin) {
            const f = primary[i]!;
            if (f.model.kind === 'gru') versions.add(f.model.version);
            h.forecasts = new Map<string, Forecast>([['gru', f], ...outputs.map(([name, out]) => [name, out[i]!] as const)]);
          } else if (step.ts > h.origin && step.observed) {
            const k = Math.round((step.ts - h.origin) / stepMs);
            if (k >= 1 && k <= N) h.actuals[k - 1] = step.value;
          }
        });
      },
    },
  );
  const info: ServedModel = { kind: versions.size === 0 ? 'baseline' : 'gru', baseline: baselineName(spec), versions: [...versions].sort((a, b) => a - b), gruFrom: null };
  return { held, info, ...(signal !== undefined ? { signal } : {}) };
}
