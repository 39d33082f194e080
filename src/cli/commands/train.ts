import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import { wallClock } from '../../domain/clock.js';
import { formatDuration } from '../../domain/duration.js';
import { ConfigError, isStreamcastError } from '../../domain/errors.js';
import { selectBackend } from '../../forecasting/gru/backend.js';
import { featureLayout } from '../../forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../forecasting/gru/gruWeights.js';
import type { GruModelWeights } from '../../forecasting/gru/gruWeights.js';
import type { PipelineSpec } from '../../pipeline/spec/pipelineSpec.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { ArtifactStore, specHash } from '../../training/artifactStore.js';
import { buildDatasets } from '../../training/datasetBuilder.js';
import { baselineLoss, promotionDecision } from '../../training/evaluateLoss.js';
import { SeriesHistory } from '../../training/seriesHistory.js';
import type { SeriesWindow } from '../../training/seriesHistory.js';
import { Trainer } from '../../training/trainer.js';
import { createProgress } from '../progress.js';
import { DiscardSink, describeRun, replayParts, runReplay } from './replay.js';

export interface TrainFlags {
  input: string[];
  epochs?: number;
  /** Models folder (default `models`). */
  out?: string;
  quiet?: boolean;
  /** Steps of history kept per series (default 20000: the newest ones train). */
  history?: number;
  seed?: number;
  /** Point `current` at the new model even when it does not beat the bar. */
  force?: boolean;
  /** Held-out newest fraction of each series (default 0.15). */
  valFraction?: number;
}

const DAY = 86_400_000;
const DEFAULT_HISTORY = 20_000;
const DEFAULT_VAL_FRACTION = 0.15;

/**
 * `streamcast train <spec> -i <file>…`: replays the files through the pipeline (resample,
 * impute, normalize exactly as serving does), keeps each series' newest steps, trains the GRU in
 * the trainer worker (progress bar; Ctrl-C cancels and writes nothing), and writes an artifact
 * under <out>/<pipeline>/<version>/. `current` moves to it only when it beats the spec's
 * retrain.promote.mustBeat bar on the held-out tail (or with --force). Prints the validation
 * losses (mean pinball per cell and level, normalized units) of the new model, the model in
 * service and the best baseline on the same cells.
 */
export async function trainCommand(specPath: string, flags: TrainFlags): Promise<number> {
  const backend = await selectBackend();
  const parts = replayParts(specPath, { input: flags.input, quiet: flags.quiet });
  const { spec } = parts;
  const stepMs = spec.window.step;
  const layout = featureLayout(spec.model.timeFeatures, spec.impute.maxGap / stepMs);
  const history = new SeriesHistory({ stepMs, capacity: flags.history ?? Math.max(DEFAULT_HISTORY, spec.retrain.minHistory) });
  const { elapsedMs } = await runReplay(
    parts,
    { forecasts: new DiscardSink<Forecast>(), deadLetters: new DiscardSink<DeadLetter>() },
    { label: 'replay', quiet: flags.quiet, onBatch: (steps) => steps.forEach((s) => history.append(s)) },
  );
  if (!flags.quiet) process.stderr.write(`replayed: ${describeRun(parts.stats, elapsedMs)}\n`);

  const windows = [...history.series()].map((s) => history.windowOf(s)!);
  const valFraction = flags.valFraction ?? DEFAULT_VAL_FRACTION;
  const { horizon, quantiles, hidden, context } = spec.model;
  const { train, validation, info } = buildDatasets(windows, { layout, horizon, context, valFraction });
  if (train.cells === 0) {
    throw new ConfigError(`no training cells: the input gave ${info.steps} steps over ${info.series} series; train needs more than ${horizon + 1} consecutive steps per series (retrain.minHistory is ${spec.retrain.minHistory})`);
  }
  const baselines = baselineLosses(windows, spec, valFraction);
  const bestBaseline = [...baselines.values()].reduce<number | undefined>((m, v) => (v !== undefined && (m === undefined || v < m) ? v : m), undefined);

  const store = new ArtifactStore(flags.out ?? 'models', wallClock);
  const expected = { layout, hidden, horizon, quantiles };
  let current: GruModelWeights | undefined;
  try {
    current = (await store.loadCurrent(spec.name, expected))?.weights;
  } catch (err) {
    // The new model is judged against the baseline alone; the bad artifact stays on disk for inspection.
    if (!isStreamcastError(err)) throw err;
    process.stderr.write(`warning: ignoring the current model: ${err.message}\n`);
  }

  const seed = flags.seed ?? 1;
  const init = initGruModelWeights({ layout, units: hidden, horizon, quantiles }, seed);
  const epochs = flags.epochs ?? spec.retrain.epochs;
  const trainer = new Trainer();
  const progress = createProgress('train', { quiet: flags.quiet });
  let lastDetail: Record<string, string | number> = {};
  const job = trainer.train({ train, validation, init, ...(current ? { current } : {}), options: { epochs, seed } }, (p) => {
    if (p.report) lastDetail = { epoch: `${p.report.epoch}/${p.report.epochs}`, train: p.report.trainLoss.toFixed(4), val: p.report.valLoss?.toFixed(4) ?? '-' };
    progress.update(p.fraction, lastDetail);
  });
  const disposeSignals = onShutdown(
    async () => {
      trainer.cancel();
      await job.catch(() => undefined);
      await trainer.close();
    },
    { timeoutMs: 30_000 },
  );
  let out;
  try {
    out = await job;
  } finally {
    progress.stop();
    disposeSignals();
    await trainer.close();
  }
  if (out.status === 'cancelled') {
    process.stderr.write(`train: cancelled after ${out.epochs} epoch(s); nothing written\n`);
    return 130;
  }

  const decision = promotionDecision({ candidate: out.valLoss, current: out.currentValLoss, baseline: bestBaseline, mustBeat: spec.retrain.promote.mustBeat });
  const makeCurrent = decision.promote || flags.force === true;
  const version = await store.save(
    spec.name,
    out.weights,
    {
      specHash: specHash(spec),
      training: { firstTs: info.firstTs ?? null, lastTs: info.lastTs ?? null, series: info.series, steps: info.steps, epochs: out.epochs, durationMs: Math.round(out.durationMs) },
      validation: { loss: out.valLoss ?? null, baselineLoss: bestBaseline ?? null, currentLoss: out.currentValLoss ?? null },
      backend: backend.name,
    },
    { makeCurrent },
  );
  const f = (x: number | undefined): string => (x === undefined ? 'n/a' : x.toFixed(4));
  const lines = [
    `model ${spec.name} v${version} written to ${store.root}/${spec.name}/${version} (${out.epochs} epochs, best ${out.bestEpoch}, ${(out.durationMs / 1000).toFixed(1)} s on ${out.backend})`,
    `validation loss (mean pinball, normalized units, ${validation.cells} held-out cells): model ${f(out.valLoss)}, untrained ${f(out.initialValLoss)}, current ${current ? f(out.currentValLoss) : 'none'}`,
    `baselines: ${[...baselines].map(([k, v]) => `${k} ${f(v)}`).join(', ')}`,
    `${makeCurrent ? 'promoted' : 'not promoted'}: ${decision.reason}${!decision.promote && makeCurrent ? ' (forced)' : ''}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** Validation losses of the baselines `backtest` compares with: last value and seasonal naive (1d, 1w). */
export function baselineLosses(windows: readonly SeriesWindow[], spec: PipelineSpec, valFraction: number): Map<string, number | undefined> {
  const common = { horizon: spec.model.horizon, quantiles: spec.model.quantiles, valFraction };
  const out = new Map<string, number | undefined>([['last-value', baselineLoss(windows, { ...common, seasonSteps: 1 })]]);
  for (const season of [DAY, 7 * DAY]) {
    const steps = season / spec.window.step;
    if (Number.isInteger(steps) && steps >= 2 && steps <= 20_000) out.set(`seasonal-naive-${formatDuration(season)}`, baselineLoss(windows, { ...common, seasonSteps: steps }));
  }
  return out;
}
