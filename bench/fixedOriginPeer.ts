/**
 * The statsforecast peer of the fixed-origin bench: MSTL (one day and one week, AutoETS trend),
 * AutoTheta and SeasonalNaive, each fitted once per series on its history and forecasting the
 * held-out horizon (bench/peers/statsforecast_origin.py), scored by streamcast's own
 * FixedOriginScorer so that sMAPE, MASE and OWA mean the same as the backtest's.
 *
 * The Python side reads the raw CSV, not the pipeline's steps: on complete series (the
 * hourly-short set's) they are the same values. That is checked, not assumed: the peer scorer's
 * Naive2 (computed from the history the peer saw) and the peer's SeasonalNaive must equal the
 * backtest's Naive2 and seasonal-naive-1d series by series (`check`); a series whose history or
 * held-out values differ shows there.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Forecast } from '../src/domain/forecast.js';
import { FixedOriginScorer, NAIVE2, type FixedOriginModelScores } from '../src/evaluation/fixedOriginScorer.js';
import { runPython } from './accuracyPeer.js';

const root = resolve(import.meta.dirname, '..');
const script = join(root, 'bench', 'peers', 'statsforecast_origin.py');
/** The peer's models as the tables name them, in the Python script's names. */
const MODELS = { 'sf-mstl': 'mstl', 'sf-theta': 'theta', 'sf-seasonal-naive': 'seasonal-naive' } as const;
export const ORIGIN_PEER_MODELS = Object.keys(MODELS) as (keyof typeof MODELS)[];

/** What the peer needs of the backtest's summary. */
export interface OriginSummary {
  readonly step: number;
  readonly horizon: number;
  readonly seasonSteps: number;
  readonly perSeries: readonly { readonly series: string; readonly origin: number; readonly models: Record<string, { smape: number | null; mase: number | null }> }[];
}

export interface OriginPeerResult {
  /** Per series, each peer model's sMAPE and MASE (the backtest's perSeries shape). */
  readonly perSeries: ReadonlyMap<string, Record<string, { smape: number | null; mase: number | null }>>;
  readonly models: Record<string, FixedOriginModelScores>;
  /** Largest per-series difference from the backtest in Naive2's and seasonal naive's sMAPE and MASE (0 when the cells agree). */
  readonly check: number;
  readonly python: Record<string, unknown>;
  readonly seconds: number;
}

interface PeerSeries {
  readonly history: (number | null)[];
  readonly actuals: (number | null)[];
  readonly models: Record<string, { mean: (number | null)[]; lo: (number | null)[]; hi: (number | null)[] }>;
}

export async function runOriginPeer(summary: OriginSummary, inputs: readonly string[]): Promise<OriginPeerResult> {
  const started = performance.now();
  const H = summary.horizon;
  const dir = join(root, '.cache', 'peers');
  mkdirSync(dir, { recursive: true });
  const originsFile = join(dir, 'fixed-origin.origins.json');
  const outFile = join(dir, 'fixed-origin.peer.json');
  writeFileSync(originsFile, JSON.stringify({ horizon: H, season: summary.seasonSteps, stepMs: summary.step, origins: Object.fromEntries(summary.perSeries.map((p) => [p.series, p.origin])) }));
  const stdout = await runPython([...inputs.flatMap((i) => ['--input', i]), '--origins', originsFile, '--out', outFile], script, /^statsforecast origin peer:/);
  const python = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  const peer = (JSON.parse(readFileSync(outFile, 'utf8')) as { series: Record<string, PeerSeries> }).series;

  const scorer = new FixedOriginScorer({ models: ORIGIN_PEER_MODELS, horizon: H, seasonSteps: summary.seasonSteps, quantiles: [0.1, 0.5, 0.9] });
  for (const p of summary.perSeries) {
    const s = peer[p.series];
    if (s === undefined || s.history.some((v) => v === null)) continue;
    const forecasts = new Map<string, Forecast>();
    for (const [name, py] of Object.entries(MODELS)) {
      const f = s.models[py];
      if (f === undefined) continue;
      forecasts.set(name, {
        series: p.series,
        ts: p.origin,
        step: summary.step,
        imputed: false,
        model: { kind: 'baseline', name, version: 0 },
        forecast: f.mean.map((mean, i) => ({ h: i + 1, ts: p.origin + (i + 1) * summary.step, mean: mean ?? Number.NaN, q: { '0.1': f.lo[i] ?? Number.NaN, '0.5': mean ?? Number.NaN, '0.9': f.hi[i] ?? Number.NaN } })),
      });
    }
    scorer.addSeries(p.series, s.history as number[], s.actuals, forecasts, p.origin);
  }
  const scored = scorer.summary({ input: inputs.join(','), pipeline: 'statsforecast', step: summary.step, partial: false, training: null, warnings: [] });
  const perSeries = new Map(scored.perSeries.map((p) => [p.series, p.models]));
  let check = summary.perSeries.length === perSeries.size ? 0 : Number.POSITIVE_INFINITY;
  for (const p of summary.perSeries) {
    const mine = perSeries.get(p.series);
    if (mine === undefined) continue;
    for (const [ours, theirs] of [[NAIVE2, NAIVE2], ['seasonal-naive-1d', 'sf-seasonal-naive']] as const) {
      for (const k of ['smape', 'mase'] as const) {
        const a = p.models[ours]?.[k];
        const b = mine[theirs]?.[k];
        if (a === null || a === undefined || b === null || b === undefined) continue;
        check = Math.max(check, Math.abs(a - b));
      }
    }
  }
  return { perSeries, models: scored.models, check, python, seconds: (performance.now() - started) / 1000 };
}
