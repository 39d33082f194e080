import { formatDuration } from '../domain/duration.js';
import { ConfigError } from '../domain/errors.js';
import type { SeriesId } from '../domain/point.js';
import type { InSample, ServedModel } from './backtestSummary.js';

/** A series' span and spacing, as profileInput measures them. */
export interface ProfiledSeries {
  readonly firstTs: number;
  readonly lastTs: number;
  readonly medianSpacingMs: number | undefined;
}

/** A spec step this many times finer than the data's spacing leaves most steps imputed. */
export const FINER_FACTOR = 4;
/** A spec step this many times coarser than the data's spacing averages that many points per step. */
export const COARSER_FACTOR = 10;

/** Steps of the grid a series spans, first and last step included. */
export function spanSteps(s: ProfiledSeries, stepMs: number): number {
  return Math.floor((s.lastTs - s.firstTs) / stepMs) + 1;
}

/** A duration for humans, in its two largest units: `1h`, `5m`, `1h 30m`, `14d`, `45s`. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [u, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${u}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join(' ');
}

/**
 * Refuses a warm-up that leaves nothing to score: a cell is scored only from an origin at least
 * `warmupSteps` after its series' first step, with its target inside the data. Throws a
 * ConfigError (exit 2) naming a `--warmup` that leaves at least half of the longest series to
 * score; returns a warning when some series (not all) are too short to be scored at all.
 */
export function checkWarmup(series: ReadonlyMap<SeriesId, ProfiledSeries>, opts: { stepMs: number; warmupSteps: number; why: string; seasonSteps: number }): string | undefined {
  if (series.size === 0) return undefined;
  const spans = [...series].map(([id, s]) => ({ id, steps: spanSteps(s, opts.stepMs), s }));
  const longest = spans.reduce((a, b) => (b.steps > a.steps ? b : a));
  const scorable = spans.filter((x) => x.steps >= opts.warmupSteps + 2);
  const step = humanDuration(opts.stepMs);
  if (scorable.length === 0) {
    const half = Math.floor(longest.steps / 2);
    const suggested = opts.seasonSteps >= 1 && opts.seasonSteps <= half ? opts.seasonSteps : half;
    const seriesText = series.size === 1 ? `the series ${longest.id}` : `the longest of the ${series.size} series, ${longest.id},`;
    throw new ConfigError(
      `warm-up of ${opts.warmupSteps} steps (${opts.why}) covers all of the data: ${seriesText} spans ${longest.steps} steps of ${step} ` +
        `(${iso(longest.s.firstTs)} to ${iso(longest.s.lastTs)}), so no cell would be scored. ` +
        `Use --warmup ${suggested} (leaves ${longest.steps - suggested} steps to score), or give more data.`,
    );
  }
  if (scorable.length < spans.length) {
    return `${spans.length - scorable.length} of ${spans.length} series span fewer than the warm-up of ${opts.warmupSteps} steps + 2 and are not scored; lower --warmup to score them.`;
  }
  return undefined;
}

/**
 * Warns when the spec's step is far finer than the data's median spacing (most steps would be
 * imputed, not observed) or far coarser (each step averages many points), with the measured
 * spacing and the step that would fit.
 */
export function checkSpacing(series: ReadonlyMap<SeriesId, ProfiledSeries>, stepMs: number): string | undefined {
  const spacings = [...series.values()].map((s) => s.medianSpacingMs).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  if (spacings.length === 0) return undefined;
  const spacing = spacings[Math.floor(spacings.length / 2)]!;
  const which = series.size === 1 ? 'the data' : `the data (median over ${spacings.length} series)`;
  if (spacing >= FINER_FACTOR * stepMs) {
    const imputed = Math.round((1 - stepMs / spacing) * 100);
    return (
      `window.step is ${humanDuration(stepMs)} but ${which} has a median spacing of ${humanDuration(spacing)}: about ${imputed} % of the steps will be imputed, not observed, ` +
      `and only observed steps are scored. Use a pipeline with window.step: ${formatDuration(spacing)}.`
    );
  }
  if (stepMs >= COARSER_FACTOR * spacing) {
    return (
      `window.step is ${humanDuration(stepMs)} but ${which} has a median spacing of ${humanDuration(spacing)}: each step aggregates about ${Math.round(stepMs / spacing)} points. ` +
      `If you meant to forecast at the data's resolution, use a pipeline with window.step: ${formatDuration(spacing)}.`
    );
  }
  return undefined;
}

/** The warning for forecasts scored inside the serving model's training range, with the fix. */
export function inSampleWarning(inSample: InSample): string {
  const ranges = inSample.models.map((m) => `v${m.version} was trained on ${iso(m.firstTs)} to ${iso(m.lastTs)}`).join('; ');
  return (
    `in-sample: ${(inSample.fraction * 100).toFixed(0)} % of the gru column's forecasts were made inside its model's training range (${ranges}), so its scores flatter it. ` +
    'Backtest on data after that range, or drop --model to train prequentially (each retrain sees only the past).'
  );
}

/** The warning when the pipeline's model column holds its baseline because no GRU served. */
export function baselineServedWarning(served: ServedModel, opts: { retrain: boolean; minHistory: number; longestSeriesSteps: number | undefined }): string | undefined {
  if (served.kind !== 'baseline') return undefined;
  const why = !opts.retrain
    ? 'retraining was off (--no-retrain) and no model was loaded (--model)'
    : opts.longestSeriesSteps !== undefined && opts.longestSeriesSteps < opts.minHistory
      ? `no series reached retrain.minHistory (${opts.minHistory} steps; the longest has ${opts.longestSeriesSteps})`
      : 'no trained model beat the promotion bar (retrain.promote.mustBeat)';
  return `no GRU served: ${why}, so the gru column is the pipeline's baseline ${served.baseline}, labelled as such. Give more history per series, or score a trained model with --model models.`;
}

function iso(ts: number): string {
  return new Date(ts).toISOString().replace(':00.000Z', 'Z');
}
