import { StreamcastError, ConfigError } from '../domain/errors.js';
import type { Forecast } from '../domain/forecast.js';
import { quantileKey } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import type { BacktestSummary, ModelScores } from './backtestSummary.js';
import {
  CoverageAccumulator,
  MeanAccumulator,
  NaiveScaleAccumulator,
  PointErrorAccumulator,
  meanScaledError,
  symmetricPairs,
} from './metrics.js';
import type { IntervalPair } from './metrics.js';

export interface PrequentialScorerOptions {
  readonly models: readonly string[];
  readonly horizon: number;
  readonly stepMs: number;
  readonly quantiles: readonly number[];
  /** Cells whose origin is fewer steps than this after the series' first step are not scored. */
  readonly warmupSteps: number;
}

/** What the scorer needs of an actual: a NormalizedStep/ImputedStep fits. */
export interface ActualStep {
  readonly series: SeriesId;
  readonly ts: number;
  readonly value: number;
  readonly observed: boolean;
}

/** One series' scores (the report's per-series table). */
export interface SeriesScores {
  readonly series: SeriesId;
  readonly cells: number;
  /** Per model: MAE pooled over every horizon's scored cells of this series. */
  readonly mae: Record<string, number | null>;
  readonly mase: Record<string, number | null>;
}

/** The model named so is compared with the best baseline in `skill`. */
export const PRIMARY_MODEL = 'gru';
const BASELINE_PREFIXES = ['last-value', 'seasonal-naive'];

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

/**
 * One series' pending cells and error sums. Pending forecasts live in a ring of target slots
 * (slot = grid index of the target mod width); a slot is free again once its target has passed
 * (an actual at or after it arrived), so memory is about H + 1 targets, not the history. The
 * ring only grows when more targets are pending at once (forecasts added far ahead of actuals).
 */
class SeriesCells {
  firstTs: number;
  lastActualTs = Number.NEGATIVE_INFINITY;
  width: number;
  slotTs: Float64Array;
  /** Per (slot, h, model): mean, then lo/hi per interval pair. */
  vals: Float64Array;
  have: Uint8Array;
  readonly scale: NaiveScaleAccumulator;
  /** Per (model, h): absolute error sum on this series (for MASE). */
  readonly absSum: Float64Array;
  /** Per h: cells scored on this series. */
  readonly count: Float64Array;

  constructor(
    firstTs: number,
    private readonly H: number,
    private readonly M: number,
    private readonly B: number,
    private readonly stepMs: number,
  ) {
    this.firstTs = firstTs;
    this.width = H + 1;
    this.slotTs = new Float64Array(this.width).fill(Number.NaN);
    this.vals = new Float64Array(this.width * H * M * B);
    this.have = new Uint8Array(this.width * H * M);
    this.scale = new NaiveScaleAccumulator(stepMs);
    this.absSum = new Float64Array(M * H);
    this.count = new Float64Array(H);
  }

  pending(): number {
    let n = 0;
    for (const ts of this.slotTs) if (ts > this.lastActualTs) n++;
    return n;
  }

  /** The slot holding target `ts`, claiming (and clearing) a free one when needed. */
  claim(ts: number): number {
    const k = Math.round(ts / this.stepMs);
    for (;;) {
      const s = mod(k, this.width);
      const cur = this.slotTs[s]!;
      if (cur === ts) return s;
      if (Number.isNaN(cur) || cur <= this.lastActualTs) {
        this.slotTs[s] = ts;
        const per = this.H * this.M;
        this.have.fill(0, s * per, (s + 1) * per);
        return s;
      }
      if (Math.round(cur / this.stepMs) === k) {
        throw new StreamcastError('fatal', `forecast targets ${cur} and ${ts} are not on one ${this.stepMs} ms step grid`);
      }
      this.grow();
    }
  }

  /** The slot of target `ts` if it is pending, else -1. */
  find(ts: number): number {
    const s = mod(Math.round(ts / this.stepMs), this.width);
    return this.slotTs[s] === ts ? s : -1;
  }

  private grow(): void {
    const { H, M, B } = this;
    const per = H * M;
    const width = this.width * 2;
    const slotTs = new Float64Array(width).fill(Number.NaN);
    const vals = new Float64Array(width * per * B);
    const have = new Uint8Array(width * per);
    for (let s = 0; s < this.width; s++) {
      const ts = this.slotTs[s]!;
      if (!(ts > this.lastActualTs)) continue;
      // Targets that shared no slot mod w share none mod 2w.
      const d = mod(Math.round(ts / this.stepMs), width);
      slotTs[d] = ts;
      vals.set(this.vals.subarray(s * per * B, (s + 1) * per * B), d * per * B);
      have.set(this.have.subarray(s * per, (s + 1) * per), d * per);
    }
    this.width = width;
    this.slotTs = slotTs;
    this.vals = vals;
    this.have = have;
  }
}

/**
 * Prequential (interleaved test-then-train) scoring of several models on the same cells.
 *
 * Feed, in stream order, each step's actual (`addActual`) and the forecasts every model made at
 * that step (`addForecasts`); forecasts must arrive before the actual at their targets (any
 * order around the actual at their origin is fine). A cell (series, target ts, h) is scored when
 * every model forecast it with a finite mean, the actual at the target is OBSERVED (an imputed
 * value is the pipeline's guess, not data), and its origin (target − h·step) lies at least
 * `warmupSteps` steps after the series' first step. Forecasts for targets whose actual has
 * already arrived are ignored.
 */
export class PrequentialScorer {
  private readonly H: number;
  private readonly M: number;
  private readonly B: number;
  private readonly stepMs: number;
  private readonly warmupMs: number;
  private readonly modelNames: readonly string[];
  private readonly modelIndex: Map<string, number>;
  private readonly pairs: readonly IntervalPair[];
  private readonly pairKeys: readonly (readonly [string, string])[];
  private readonly series = new Map<SeriesId, SeriesCells>();
  /** Per (model, h). */
  private readonly errors: PointErrorAccumulator[];
  /** Per (model, pair). */
  private readonly coverage: CoverageAccumulator[];
  /** Per (model, pair, h). */
  private readonly coverageByH: CoverageAccumulator[];
  private readonly cellsPerH: Float64Array;

  constructor(private readonly opts: PrequentialScorerOptions) {
    if (opts.models.length === 0) throw new ConfigError('PrequentialScorer needs at least one model');
    if (new Set(opts.models).size !== opts.models.length) throw new ConfigError(`model names must be distinct: ${opts.models.join(', ')}`);
    if (!Number.isInteger(opts.horizon) || opts.horizon < 1) throw new ConfigError(`horizon must be a positive integer, got ${opts.horizon}`);
    if (!Number.isFinite(opts.stepMs) || opts.stepMs <= 0) throw new ConfigError(`stepMs must be positive, got ${opts.stepMs}`);
    if (!Number.isInteger(opts.warmupSteps) || opts.warmupSteps < 0) {
      throw new ConfigError(`warmupSteps must be a whole number ≥ 0, got ${opts.warmupSteps}`);
    }
    this.H = opts.horizon;
    this.M = opts.models.length;
    this.stepMs = opts.stepMs;
    this.warmupMs = opts.warmupSteps * opts.stepMs;
    this.modelNames = [...opts.models];
    this.modelIndex = new Map(opts.models.map((m, i) => [m, i]));
    this.pairs = symmetricPairs(opts.quantiles);
    this.pairKeys = this.pairs.map((p) => [quantileKey(p.lo), quantileKey(p.hi)] as const);
    this.B = 1 + 2 * this.pairs.length;
    this.errors = Array.from({ length: this.M * this.H }, () => new PointErrorAccumulator());
    this.coverage = Array.from({ length: this.M * this.pairs.length }, () => new CoverageAccumulator());
    this.coverageByH = Array.from({ length: this.M * this.pairs.length * this.H }, () => new CoverageAccumulator());
    this.cellsPerH = new Float64Array(this.H);
  }

  private cells(series: SeriesId, ts: number): SeriesCells {
    let st = this.series.get(series);
    if (st === undefined) {
      st = new SeriesCells(ts, this.H, this.M, this.B, this.stepMs);
      this.series.set(series, st);
    } else if (ts < st.firstTs) {
      st.firstTs = ts;
    }
    return st;
  }

  addForecasts(model: string, forecasts: readonly Forecast[]): void {
    const m = this.modelIndex.get(model);
    if (m === undefined) {
      throw new StreamcastError('fatal', `forecasts from model "${model}", which the scorer was not told about (${this.modelNames.join(', ')})`);
    }
    const { H, M, B } = this;
    for (const f of forecasts) {
      const st = this.cells(f.series, f.ts);
      for (const hf of f.forecast) {
        const h = hf.h;
        if (!Number.isInteger(h) || h < 1 || h > H || !Number.isFinite(hf.mean)) continue;
        if (hf.ts <= st.lastActualTs) continue;
        const s = st.claim(hf.ts);
        const cell = (s * H + h - 1) * M + m;
        st.have[cell] = 1;
        const o = cell * B;
        st.vals[o] = hf.mean;
        for (let p = 0; p < this.pairKeys.length; p++) {
          const [lo, hi] = this.pairKeys[p]!;
          st.vals[o + 1 + 2 * p] = hf.q[lo] ?? Number.NaN;
          st.vals[o + 2 + 2 * p] = hf.q[hi] ?? Number.NaN;
        }
      }
    }
  }

  addActual(step: ActualStep): void {
    const st = this.cells(step.series, step.ts);
    const T = step.ts;
    // A repeated or out-of-order actual cannot be scored consistently; stream order is the contract.
    if (!(T > st.lastActualTs)) return;
    const y = step.value;
    const observed = step.observed && Number.isFinite(y);
    if (observed) st.scale.add(T, y);
    const s = st.find(T);
    if (s >= 0) {
      if (observed) this.score(st, s, T, y);
      st.slotTs[s] = Number.NaN;
    }
    st.lastActualTs = T;
  }

  private score(st: SeriesCells, s: number, T: number, y: number): void {
    const { H, M, B } = this;
    const P = this.pairs.length;
    for (let h = 1; h <= H; h++) {
      if (T - h * this.stepMs - st.firstTs < this.warmupMs) continue;
      const base = (s * H + h - 1) * M;
      let all = true;
      for (let m = 0; m < M; m++) if (st.have[base + m] !== 1) all = false;
      if (!all) continue;
      this.cellsPerH[h - 1]!++;
      st.count[h - 1]!++;
      for (let m = 0; m < M; m++) {
        const o = (base + m) * B;
        const f = st.vals[o]!;
        this.errors[m * H + h - 1]!.add(y, f);
        st.absSum[m * H + h - 1]! += Math.abs(y - f);
        for (let p = 0; p < P; p++) {
          const lo = st.vals[o + 1 + 2 * p]!;
          const hi = st.vals[o + 2 + 2 * p]!;
          if (Number.isFinite(lo) && Number.isFinite(hi)) {
            this.coverage[m * P + p]!.add(y, lo, hi);
            this.coverageByH[(m * P + p) * H + h - 1]!.add(y, lo, hi);
          }
        }
      }
    }
  }

  /** Targets of `series` still waiting for their actual (bounded by about H + 1 in stream order). */
  pending(series: SeriesId): number {
    return this.series.get(series)?.pending() ?? 0;
  }

  /**
   * Per series: cells scored, and each model's MAE pooled over horizons and its MASE (that MAE
   * over the series' mean absolute one-step change); null where nothing could be computed.
   */
  seriesScores(): SeriesScores[] {
    const { H } = this;
    const out: SeriesScores[] = [];
    for (const [series, st] of this.series) {
      let cells = 0;
      for (let h = 0; h < H; h++) cells += st.count[h]!;
      const mae: Record<string, number | null> = {};
      const mase: Record<string, number | null> = {};
      this.modelNames.forEach((name, m) => {
        let abs = 0;
        for (let h = 0; h < H; h++) abs += st.absSum[m * H + h]!;
        const v = cells > 0 ? abs / cells : null;
        const scale = st.scale.scale;
        mae[name] = v;
        mase[name] = v !== null && scale !== null && scale > 0 ? v / scale : null;
      });
      out.push({ series, cells, mae, mase });
    }
    return out;
  }

  get scoredCells(): number {
    let n = 0;
    for (const c of this.cellsPerH) n += c;
    return n;
  }

  summary(meta: { readonly input: string; readonly pipeline: string }): BacktestSummary {
    const { H } = this;
    const P = this.pairs.length;
    const models: Record<string, ModelScores> = {};
    this.modelNames.forEach((name, m) => {
      const mae: (number | null)[] = [];
      const smape: (number | null)[] = [];
      const mase: (number | null)[] = [];
      const maeMean = new MeanAccumulator();
      for (let hi = 0; hi < H; hi++) {
        const acc = this.errors[m * H + hi]!;
        mae.push(acc.mae);
        smape.push(acc.smape);
        if (acc.mae !== null) maeMean.add(acc.mae);
        const perSeries = [...this.series.values()].map((st) => ({
          mae: st.count[hi]! > 0 ? st.absSum[m * H + hi]! / st.count[hi]! : null,
          scale: st.scale.scale,
        }));
        mase.push(meanScaledError(perSeries));
      }
      const coverage: Record<string, number | null> = {};
      const coverageByHorizon: Record<string, (number | null)[]> = {};
      this.pairs.forEach((pair, p) => {
        coverage[pair.key] = this.coverage[m * P + p]!.coverage;
        coverageByHorizon[pair.key] = Array.from({ length: H }, (_, hi) => this.coverageByH[(m * P + p) * H + hi]!.coverage);
      });
      models[name] = { mae, maeMean: maeMean.mean, mase, smape, coverage, coverageByHorizon };
    });

    let best: string | null = null;
    for (const name of this.modelNames) {
      if (name === PRIMARY_MODEL || !BASELINE_PREFIXES.some((p) => name.startsWith(p))) continue;
      const v = models[name]!.maeMean;
      if (v === null) continue;
      if (best === null || v < models[best]!.maeMean!) best = name;
    }
    const primary = models[PRIMARY_MODEL]?.maeMean ?? null;
    const bestMae = best === null ? null : models[best]!.maeMean;
    const skill = primary !== null && bestMae !== null && bestMae > 0 ? 1 - primary / bestMae : null;

    return {
      input: meta.input,
      pipeline: meta.pipeline,
      step: this.stepMs,
      horizon: H,
      series: this.series.size,
      scoredCells: this.scoredCells,
      warmupSteps: this.opts.warmupSteps,
      models,
      best_baseline: best,
      skill,
    };
  }
}
