import { mkdirSync, writeFileSync } from 'node:fs';
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
import type { PipelineSpec } from '../../pipeline/spec/pipelineSpec.js';
import { logFlags } from '../cliLogger.js';
import { DiscardSink, describeRun, replayParts, replayRuntime, runReplay, type ReplayFlags } from './replay.js';

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

/**
 * Prequential backtest: every model sees each step, forecasts from it, and is scored only on
 * later observed values; all models are scored on exactly the same cells.
 */
export async function backtestCommand(specPath: string, flags: BacktestFlags): Promise<number> {
  // Prequential with the production path: the pipeline's model runtime retrains as the spec says,
  // blocking, so every retrain sees only the steps before it and reruns give the same numbers.
  const parts = replayParts(
    specPath,
    flags,
    replayRuntime({
      models: flags.model,
      retrain: flags.retrain === false ? 'off' : 'blocking',
      ...logFlags(flags),
      ...(flags.stateless === true ? { stateless: true } : {}),
      ...(flags.calibration === false ? { calibrate: false } : {}),
      ...(flags.history !== undefined ? { historySteps: flags.history } : {}),
    }),
  );
  const { spec } = parts;
  const models = baselineSet(spec);
  // The pipeline's own model (baseline until a GRU is promoted) is scored as "gru".
  const primaryName = spec.model.type === 'gru' ? 'gru' : undefined;
  const longestSeason = Math.max(...[...models.keys()].map((k) => (k.startsWith('seasonal-naive-') ? seasonSteps(k, spec) : 1)));
  const warmupSteps = flags.warmup ?? 2 * longestSeason;
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new ConfigError('--warmup must be a whole number of steps ≥ 0');
  const scorer = new PrequentialScorer({
    models: [...(primaryName ? [primaryName] : []), ...models.keys()],
    horizon: spec.model.horizon,
    stepMs: spec.window.step,
    quantiles: [...spec.model.quantiles],
    warmupSteps,
  });

  const trace = flags.report ? new ReportTrace(1) : undefined;
  const { elapsedMs } = await runReplay(
    parts,
    { forecasts: new DiscardSink<Forecast>(), deadLetters: new DiscardSink<DeadLetter>() },
    {
      label: 'backtest',
      quiet: flags.quiet,
      onBatch: (steps, primary) => {
        const outputs = [...models].map(([name, m]) => [name, m.step(steps)] as const);
        steps.forEach((step, i) => {
          scorer.addActual(step);
          trace?.addActual(step);
          if (primaryName) {
            scorer.addForecasts(primaryName, [primary[i]!]);
            trace?.addForecast(primaryName, primary[i]!);
          }
          for (const [name, out] of outputs) {
            scorer.addForecasts(name, [out[i]!]);
            trace?.addForecast(name, out[i]!);
          }
        });
      },
    },
  );

  const summary = scorer.summary({ input: (flags.input ?? []).map((p) => basename(p)).join(','), pipeline: spec.name });
  if (flags.report) {
    mkdirSync(flags.report, { recursive: true });
    writeFileSync(join(flags.report, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const plotted = [...(primaryName ? [primaryName] : []), ...(summary.best_baseline ? [summary.best_baseline] : [])];
    const html = renderHtmlReport(summary, {
      ...(trace?.tracedSeries !== undefined ? { series: trace.tracedSeries } : {}),
      h: trace?.horizon ?? 1,
      points: trace?.toArray() ?? [],
      models: plotted,
    });
    writeFileSync(join(flags.report, 'index.html'), html);
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    process.stdout.write(`${formatTable(summary)}\n`);
  }
  if (!flags.quiet) {
    const runs = parts.runtime.trainingRuns;
    process.stderr.write(`training runs: ${runs.promoted} promoted, ${runs.rejected} rejected, ${runs.failed} failed; serving ${parts.runtime.info.kind} v${parts.runtime.info.version}\n`);
    process.stderr.write(`done: ${describeRun(parts.stats, elapsedMs)}\n`);
  }
  return 0;
}

function seasonSteps(name: string, spec: PipelineSpec): number {
  return name.endsWith('1w') ? (7 * DAY) / spec.window.step : DAY / spec.window.step;
}
