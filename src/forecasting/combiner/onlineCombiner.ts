import type { Forecast, HorizonForecast, QuantileKey } from '../../domain/forecast.js';
import { quantileKey } from '../../domain/forecast.js';
import type { SeriesId } from '../../domain/point.js';
import type { ImputedStep } from '../../domain/step.js';
import { SlotPages } from '../../domain/seriesSlots.js';
import { SeriesRegistry } from '../../state/seriesRegistry.js';
import type { HeldSlots } from '../../state/seriesRegistry.js';
import type { Calibration } from '../gru/calibration.js';
import { anchorIndex } from '../gru/quantileHead.js';
import { candidateSet, groupEnd, horizonGroup, horizonGroups } from './candidates.js';
import type { CandidateSet, SeasonalMean } from './candidates.js';
import { ChangeAr } from './changeAr.js';
import { LagValues } from './lagValues.js';

export interface OnlineCombinerOptions {
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly stepMs: number;
  /** Lags in steps of the lag experts (1: the last value; a season: seasonal naive). */
  readonly lags: readonly number[];
  /** Windows in steps of the moving-mean experts (lagExperts.ts' meanExperts; default none). */
  readonly means?: readonly number[];
  /** Seasons (steps) and counts of the seasonal-mean experts (lagExperts.ts' seasonalMeanExperts; default none). */
  readonly seasonalMeans?: readonly SeasonalMean[];
  /** Order of the pooled autoregressive expert on one-step changes (changeAr.ts; default 0: none). */
  readonly ar?: number;
  /** The pipeline baseline's season in steps (1: last value): it is not an expert before one season since a reset. */
  readonly baselineSeason?: number;
  /** Series whose served quantiles are followed up for the interval scales (the first this many seen). */
  readonly sampleSeries?: number;
  /** Steps over which errors (and each series' scale) decay by half. */
  readonly halfLifeSteps?: number;
  /** Pipeline-wide cells a candidate needs at a horizon before it can be chosen. */
  readonly minCells?: number;
  /** Steps of a series' own evidence that weigh as much as the pipeline-wide errors. */
  readonly priorSteps?: number;
  /** Step of the adaptive-conformal update of each log-scale. */
  readonly gamma?: number;
  readonly registry?: SeriesRegistry;
  /** Steps of the convex grid over the GRU, the baseline and the first lag expert (default 5: 0.2). */
  readonly grid?: number;
  /** Horizons sharing a choice: log₂ buckets (default) or each its own (H² pending centres per series). */
  readonly groups?: 'log2' | 'each';
  /** Errors over each series' scale (default); false: in the series' units (for comparison only). */
  readonly scaleFree?: boolean;
  /** Base options are chosen on errors with this many times the half-life (default 10). */
  readonly baseMemory?: number;
}

export const DEFAULT_SAMPLE_SERIES = 256;
const DEFAULT_HALF_LIFE_STEPS = 1000;
const DEFAULT_MIN_CELLS = 100;
const DEFAULT_PRIOR_STEPS = 100;
const DEFAULT_BASE_MEMORY = 10;
const DEFAULT_GAMMA = 0.01;
const LOG_SCALE_MIN = Math.log(0.01);
const LOG_SCALE_MAX = Math.log(100);
/** Cell counts saturate here (two bytes). */
const MAX_CELL_COUNT = 65_535;
/** One cell's scaled error counts at most this much: an outlier (or a scale near 0) cannot decide alone. */
const SCALED_ERROR_CAP = 100;

// Per-series Float64 record, paged by registry slot (no object for a series of one point).
const LAST_TS = 0; // ts of the newest step learned (NaN: none)
const LAST_VALUE = 1; // its value (NaN: none since the last clear)
const SCALE = 2; // decaying mean |y_t − y_{t−1}| over consecutive observed steps
const SCALE_N = 3;
const PREV_OBS = 4; // the last observed value and its ts
const PREV_OBS_TS = 5;
const SAMPLED = 6; // index in the interval follow-up sample, or −1
const RECORD = 7;

/** `hf` when all its numbers are finite, else the baseline's (never NaN out). */
function finiteOr(hf: HorizonForecast, bf: HorizonForecast): HorizonForecast {
  if (!Number.isFinite(hf.mean)) return bf;
  for (const v of Object.values(hf.q)) if (!Number.isFinite(v)) return bf;
  return hf;
}

/** What a series keeps from its second step on: pending forecasts, its errors, its lag values. */
interface SeriesCells {
  /** Origin ts of the pending forecasts, a ring by step index. */
  readonly origins: Float64Array;
  /** H origins × G scored horizons × [model centre, baseline centre], then G × C errors, then G × B long-memory errors of the base options. */
  readonly f32: Float32Array;
  /**
   * Cells scored: G × C, then G × B for the long-memory errors. Counting stops at 65,535: a count
   * only matters up to its errors' effective window (1/α cells: 1,443 at the default half-life,
   * 14,427 for the base options), so two bytes do what four did (~1 KB per series at H = 12).
   */
  readonly n16: Uint16Array;
  readonly lags: LagValues;
}

/**
 * The served forecast, chosen or blended among the GRU and every cheap baseline, learnt
 * prequentially from the stream (forecast, then score, then learn), on a scale-free error.
 *
 * Centre. Every served forecast is remembered until its targets arrive; each realized cell is
 * scored for every candidate blend (candidates.ts: the GRU, the pipeline's baseline, the last
 * value and seasonal naive at each season, the moving and seasonal means, an autoregressive fit of
 * the changes pooled over series (changeAr.ts), and blends of them) by |y − ŷ| / scale, where scale is
 * the series' own mean absolute one-step change (MASE's), so no series decides for the others by
 * its units. Errors are plain means over the first cells, then decay with a half-life in steps;
 * they are kept per horizon group (h = 1, 2, 3–4, 5–8, then four wide, each scored at its last
 * horizon, so a series keeps H × groups pending centres, not H²), pipeline-wide and per series. A
 * series is served the candidate with the lowest error shrunk toward the pipeline's —
 * (n·e_series + k·e_pipeline)/(n + k), n the series' cells (up to the errors' effective window),
 * k = priorSteps — so a new series gets the pipeline-wide choice and a series with a history of
 * its own gets its own; the GRU is used only where it has earned it. Which seasonal expert (or
 * the pipeline's baseline) is blended is chosen the same way on a memory ten times longer, so
 * the choice between one day and one week ago does not chase a few days' noise; a seasonal
 * expert counts only once a season was seen since the series' last reset. Until the
 * pipeline-wide errors have minCells cells, the GRU's offline calibration (or the baseline alone
 * while no GRU serves) is served.
 *
 * Spread. While a GRU serves, each quantile's distance from the GRU's centre is scaled per horizon
 * and level by adaptive conformal inference (Gibbs & Candès 2021, on a sample of series), so
 * realized coverage tracks the nominal level under drift; a baseline's band is moved with its
 * centre. The centre is the anchor quantile and the quantiles are kept ascending, so the mean lies
 * within its own band.
 *
 * Deterministic: the same stream in the same order gives the same output. Nothing here is
 * checkpointed; after a restart it is relearnt, starting from the model's offline calibration.
 */
export class OnlineCombiner {
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly #stepMs: number;
  readonly #Q: number;
  readonly #anchor: number;
  readonly #keys: readonly QuantileKey[];
  readonly #set: CandidateSet;
  readonly #G: number;
  /** Per horizon (1-based), its group; the horizon a group is scored at is the group's last. */
  readonly #groupOf: Int32Array;
  readonly #scoredAt: Int32Array;
  readonly #ringCapacity: number;
  readonly #baselineSeason: number;
  readonly #sample: number;
  readonly #halfLife: number;
  readonly #alphaScale: number;
  /** Decay of a series' errors per cell (one cell per step and group), and of the base options' errors. */
  readonly #alphaSeries: number;
  readonly #alphaLong: number;
  /** Base options, and per candidate the option it is alone (−1: none). */
  readonly #B: number;
  readonly #aloneOption: Int8Array;
  /** Per candidate, its (at most three) non-zero weights and their experts (weight 0 on the constant slot when fewer), and the experts it uses as a bit mask. */
  readonly #termW: Float64Array;
  readonly #termE: Int32Array;
  readonly #usedMask: Int32Array;
  /** Pipeline-wide: group × base options, long-memory error and cells. */
  readonly #errLong: Float64Array;
  readonly #seenLong: Float64Array;
  readonly #minCells: number;
  readonly #prior: number;
  readonly #gamma: number;
  readonly #scaleFree: boolean;
  readonly #slots: HeldSlots;
  readonly #rec = new SlotPages<Float64Array>(RECORD, (n) => new Float64Array(n));
  #cells: (SeriesCells | undefined)[] = [];
  /** Pipeline-wide: horizon group × candidates decaying mean scaled error and cells seen. */
  readonly #err: Float64Array;
  readonly #seen: Float64Array;
  #alphaGlobal = 0;
  #alphaFor = -1;
  #alphaLongGlobal = 0;
  #longFor = -1;
  /** horizon × 3: the offline calibration's weights of [model, last value, baseline], until enough cells. */
  #initial: Float32Array | undefined;
  /** horizon × Q: log of each quantile distance's multiplier. */
  readonly #logScale: Float64Array;
  readonly #scale: Float64Array;
  /** Sampled series: per origin ring slot, whether the GRU served, then H × Q served quantiles. */
  #served: Float64Array = new Float64Array(0);
  #sampled = 0;
  readonly #x: Float64Array;
  /** The moving means of the last (ring, fill, age) asked for. */
  readonly #meanMemo: { ring: LagValues | undefined; pushes: number; filled: number; age: number; values: Float64Array };
  /** The autoregressive expert (pooled over series), its path memo (ring, pushes, filled, age, scale) and its expert index. */
  readonly #ar: ChangeAr | undefined;
  readonly #arMemo: { ring: LagValues | undefined; pushes: number; filled: number; age: number; scale: number; updates: number; path: Float64Array };
  readonly #arExpert: number;
  /** Per group, the candidate chosen for the forecast being served (−1: not yet). */
  readonly #chosen: Int32Array;
  readonly #vals: Float64Array;
  readonly #pendingLength: number;

  constructor(opts: OnlineCombinerOptions, initial?: Calibration) {
    const H = (this.horizon = opts.horizon);
    this.quantiles = Object.freeze([...opts.quantiles]);
    this.#stepMs = opts.stepMs;
    this.#Q = opts.quantiles.length;
    this.#anchor = anchorIndex(opts.quantiles);
    this.#keys = this.quantiles.map(quantileKey);
    this.#set = candidateSet(opts.lags, opts.grid, opts.means ?? [], opts.seasonalMeans ?? [], opts.ar ?? 0);
    this.#ar = (opts.ar ?? 0) > 0 ? new ChangeAr(opts.ar!) : undefined;
    this.#arExpert = this.#ar === undefined ? -1 : this.#set.experts - 1;
    this.#arMemo = { ring: undefined, pushes: -1, filled: -1, age: -1, scale: Number.NaN, updates: -1, path: new Float64Array(H) };
    this.#B = this.#set.bases.length;
    this.#aloneOption = new Int8Array(this.#set.size).fill(-1);
    this.#set.baseAlone.forEach((c, i) => (this.#aloneOption[c] = i));
    const C = this.#set.size;
    const E = this.#set.experts;
    this.#termW = new Float64Array(3 * C);
    // An unused term reads the constant slot after the experts (0), never a NaN expert.
    this.#termE = new Int32Array(3 * C).fill(E);
    this.#usedMask = new Int32Array(C);
    for (let c = 0; c < C; c++) {
      let t = 0;
      for (let e = 0; e < E; e++) {
        const w = this.#set.weights[c * E + e]!;
        if (w === 0) continue;
        if (t === 3) throw new Error('a candidate blends at most three experts');
        this.#termW[c * 3 + t] = w;
        this.#termE[c * 3 + t] = e;
        this.#usedMask[c]! |= 1 << e;
        t++;
      }
    }
    const each = opts.groups === 'each';
    this.#G = each ? H : horizonGroups(H);
    this.#groupOf = Int32Array.from({ length: H + 1 }, (_, h) => (h === 0 ? -1 : each ? h - 1 : horizonGroup(h)));
    this.#scoredAt = Int32Array.from({ length: this.#G }, (_, g) => (each ? g + 1 : groupEnd(g, H)));
    // A mean is scored h − 1 steps after its origin: its window then ends that far back.
    // A seasonal mean reaches count − 1 seasons past its seasonal-naive value.
    this.#ringCapacity = Math.max(
      H,
      ...opts.lags.map((s) => s * Math.ceil(H / s)),
      ...(opts.means ?? []).map((w) => H - 1 + w),
      ...(opts.seasonalMeans ?? []).map((m) => H + Math.max(m.season * (Math.ceil(H / m.season) + m.count - 1), (m.level ?? 0) + m.season * m.count)),
      // Its p changes end h − 1 steps back at scoring.
      H + (opts.ar ?? 0),
    );
    this.#baselineSeason = opts.baselineSeason ?? 1;
    this.#sample = opts.sampleSeries ?? DEFAULT_SAMPLE_SERIES;
    this.#halfLife = opts.halfLifeSteps ?? DEFAULT_HALF_LIFE_STEPS;
    this.#alphaScale = 1 - 2 ** (-1 / this.#halfLife);
    this.#alphaSeries = 1 - 2 ** (-1 / this.#halfLife);
    this.#alphaLong = 1 - 2 ** (-1 / (this.#halfLife * (opts.baseMemory ?? DEFAULT_BASE_MEMORY)));
    // Cell counts are two bytes: every count must matter only below 65,535 (SeriesCells.n16).
    if (!(1 / this.#alphaLong <= MAX_CELL_COUNT)) throw new RangeError(`halfLifeSteps × baseMemory is ${this.#halfLife * (opts.baseMemory ?? DEFAULT_BASE_MEMORY)}; use at most 45,000 (cell counts are kept in two bytes)`);
    this.#minCells = opts.minCells ?? DEFAULT_MIN_CELLS;
    this.#prior = opts.priorSteps ?? DEFAULT_PRIOR_STEPS;
    this.#gamma = opts.gamma ?? DEFAULT_GAMMA;
    this.#scaleFree = opts.scaleFree !== false;
    this.#slots = (opts.registry ?? new SeriesRegistry()).hold();
    this.#errLong = new Float64Array(this.#G * this.#B);
    this.#seenLong = new Float64Array(this.#G * this.#B);
    this.#err = new Float64Array(this.#G * this.#set.size);
    this.#seen = new Float64Array(this.#G * this.#set.size);
    this.#logScale = new Float64Array(H * this.#Q);
    this.#scale = new Float64Array(H * this.#Q).fill(1);
    // Experts, then a constant 0 that unused candidate terms read.
    this.#x = new Float64Array(this.#set.experts + 1);
    this.#meanMemo = { ring: undefined, pushes: -1, filled: -1, age: -1, values: new Float64Array(this.#set.means.length) };
    this.#chosen = new Int32Array(this.#G);
    this.#vals = new Float64Array(this.#Q);
    this.#pendingLength = H * this.#G * 2;
    this.setInitial(initial);
  }

  /** Candidate blends scored per cell (for tests and logs). */
  get candidates(): CandidateSet {
    return this.#set;
  }

  /** horizon × Q multipliers of each quantile's distance from the GRU's centre (a copy). */
  get scales(): Float64Array {
    return this.#scale.slice();
  }

  /** Series followed. */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * A model's offline calibration: served (its blend; its scales start the conformal ones) until
   * the pipeline-wide errors are learnt. Ignored when it does not fit.
   */
  setInitial(initial: Calibration | undefined): void {
    const fits = initial !== undefined && initial.horizon === this.horizon && initial.quantiles.length === this.#Q;
    this.#initial = fits ? initial.blend.slice() : undefined;
    if (fits) {
      for (let i = 0; i < this.#scale.length; i++) {
        this.#scale[i] = initial.scale[i]!;
        this.#logScale[i] = Math.log(initial.scale[i]!);
      }
    }
  }

  /**
   * One step of a series, in stream order, before `serve` of the same step: scores the cells
   * whose target it is (when observed), then learns its value.
   */
  observe(step: Pick<ImputedStep, 'series' | 'ts' | 'value' | 'observed' | 'reset'>): void {
    const slot = this.#slotOf(step.series);
    const R = this.#rec.page(slot);
    const o = this.#rec.offset(slot);
    let cells = this.#cells[slot];
    const last = R[o + LAST_TS]!;
    if (step.reset || (!Number.isNaN(last) && step.ts !== last + this.#stepMs)) {
      // A reset or a hole in the series' steps: pending forecasts and lag values no longer line up.
      R[o + LAST_VALUE] = Number.NaN;
      R[o + PREV_OBS] = Number.NaN;
      R[o + PREV_OBS_TS] = Number.NaN;
      if (cells !== undefined) {
        cells.origins.fill(Number.NaN);
        cells.lags.clear();
      }
    }
    const y = step.value;
    // A change between two observed steps one step apart, in the scale before it: the AR learns it.
    let arScale = Number.NaN;
    if (step.observed && Number.isFinite(y)) {
      if (cells !== undefined) this.#score(cells, R[o + SCALE]!, R[o + SAMPLED]!, step.ts, y);
      if (R[o + PREV_OBS_TS] === step.ts - this.#stepMs) {
        arScale = R[o + SCALE]!;
        const n = ++R[o + SCALE_N]!;
        R[o + SCALE] = R[o + SCALE]! + Math.max(this.#alphaScale, 1 / n) * (Math.abs(y - R[o + PREV_OBS]!) - R[o + SCALE]!);
      }
      R[o + PREV_OBS] = y;
      R[o + PREV_OBS_TS] = step.ts;
    }
    if (Number.isFinite(y)) {
      if (cells === undefined && Number.isFinite(R[o + LAST_VALUE]!)) {
        cells = this.#cells[slot] = this.#newCells();
        cells.lags.push(R[o + LAST_VALUE]!);
      }
      cells?.lags.push(y);
      R[o + LAST_VALUE] = y;
      // Forgotten as the base options' errors are: by half over their memory of steps, per series followed.
      if (this.#ar !== undefined && cells !== undefined && arScale > 0) this.#ar.learn(cells.lags, arScale, 1 - this.#globalLongAlpha());
    }
    R[o + LAST_TS] = step.ts;
  }

  /**
   * The forecast served for `served`'s origin: `served` is the GRU's forecast when `model`, else
   * the baseline's (then equal to `baseline`). Remembered for scoring.
   */
  serve(served: Forecast, baseline: Forecast, model: boolean): Forecast {
    const slot = this.#slotOf(served.series);
    const R = this.#rec.page(slot);
    const o = this.#rec.offset(slot);
    const cells = this.#cells[slot];
    const lastValue = R[o + LAST_VALUE]!;
    const H = this.horizon;
    const Q = this.#Q;
    const keys = this.#keys;
    const anchorKey = keys[this.#anchor]!;
    const p32 = cells?.f32;
    const k = Math.abs(Math.round(served.ts / this.#stepMs)) % H;
    if (cells !== undefined) cells.origins[k] = served.ts;
    const sampled = R[o + SAMPLED]!;
    const sOff = sampled >= 0 && cells !== undefined ? sampled * H * (1 + H * Q) + k * (1 + H * Q) : -1;
    if (sOff >= 0) this.#served[sOff] = model ? 1 : 0;
    const vals = this.#vals;
    // Horizons of a group share its choice: chosen once per forecast.
    this.#chosen.fill(-1);
    const horizons = served.forecast.map((hf: HorizonForecast, i): HorizonForecast => {
      const h = hf.h;
      const bf = baseline.forecast[i];
      if (h < 1 || h > H || bf === undefined) return hf;
      const g = model ? hf.q[anchorKey]! : Number.NaN;
      const b = bf.mean;
      const grp = this.#groupOf[h]!;
      if (p32 !== undefined && this.#scoredAt[grp] === h) {
        const pi = (k * this.#G + grp) * 2;
        p32[pi] = g;
        p32[pi + 1] = b;
      }
      this.#experts(cells?.lags, lastValue, h, 0, g, b, R[o + SCALE]!);
      const centre = this.#centre(cells, lastValue, h, model);
      if (!Number.isFinite(centre)) return finiteOr(hf, bf);
      if (!model && centre === b) return bf;
      // The band: the GRU's distances scaled as learnt, or the baseline's moved with its centre.
      let prev = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < Q; j++) {
        const q = hf.q[keys[j]!]!;
        const v = model ? (j === this.#anchor ? centre : centre + this.#scale[(h - 1) * Q + j]! * (q - g)) : centre + (q - b);
        vals[j] = v < prev ? prev : v;
        prev = vals[j]!;
      }
      for (let j = 0; j < Q; j++) if (!Number.isFinite(vals[j]!)) return finiteOr(hf, bf);
      // A copy of the input's record keeps its shape (no dictionary transitions per key).
      const q: Record<QuantileKey, number> = { ...hf.q };
      for (let j = 0; j < Q; j++) q[keys[j]!] = vals[j]!;
      if (sOff >= 0) for (let j = 0; j < Q; j++) this.#served[sOff + 1 + (h - 1) * Q + j] = vals[j]!;
      // The GRU's mean is its median (the anchor); a baseline's keeps its place in its band.
      const mean = model ? vals[this.#anchor]! : Math.min(vals[Q - 1]!, Math.max(vals[0]!, centre + (hf.mean - b)));
      return { h, ts: hf.ts, mean, q };
    });
    return { ...served, forecast: horizons };
  }

  /** Forget a series (dropped from this instance). */
  drop(series: SeriesId): void {
    const slot = this.#slots.delete(series);
    if (slot !== undefined) this.#cells[slot] = undefined;
  }

  /** Expert values for horizon h into #x: `age` = steps from the newest value back to the origin's; `scale` the series' typical step. */
  #experts(ring: LagValues | undefined, lastValue: number, h: number, age: number, g: number, b: number, scale: number): void {
    const x = this.#x;
    const lags = this.#set.lags;
    x[0] = g;
    // A seasonal expert is not one until a season was seen since the series' last reset (seasonal
    // naive forecasts the last value until then): choosing on its errors then would judge it by
    // the last value's.
    const filledAtOrigin = ring === undefined ? (Number.isFinite(lastValue) ? 1 : 0) : ring.filled - age;
    x[1] = filledAtOrigin >= this.#baselineSeason ? b : Number.NaN;
    for (let e = 0; e < lags.length; e++) {
      const s = lags[e]!;
      if (filledAtOrigin <= 0 || filledAtOrigin < s) x[2 + e] = Number.NaN;
      else if (s <= 1) x[2 + e] = ring === undefined ? lastValue : ring.at(age);
      else x[2 + e] = ring!.at(age + s * Math.ceil(h / s) - h);
    }
    if (this.#set.seasonalMeans.length > 0) this.#seasonalMeans(ring, h, age, filledAtOrigin);
    if (this.#ar !== undefined) x[this.#arExpert] = this.#arPath(ring, age, scale)[h - 1]!;
    const means = this.#set.means;
    if (means.length === 0) return;
    // Every horizon of one forecast asks for the same means (same ring, same age): summed once.
    const m = this.#meanMemo;
    if (m.ring !== ring || m.pushes !== (ring?.pushes ?? -1) || m.filled !== (ring?.filled ?? -1) || m.age !== age) {
      m.ring = ring;
      m.pushes = ring?.pushes ?? -1;
      m.filled = ring?.filled ?? -1;
      m.age = age;
      for (let e = 0; e < means.length; e++) {
        const w = means[e]!;
        let v = Number.NaN;
        if (ring !== undefined && filledAtOrigin >= w) {
          let sum = 0;
          for (let i = 0; i < w; i++) sum += ring.at(age + i);
          v = sum / w;
        }
        m.values[e] = v;
      }
    }
    for (let e = 0; e < means.length; e++) x[2 + lags.length + e] = m.values[e]!;
  }

  /**
   * The AR expert's path from the origin `age` steps back, computed once per forecast (every
   * horizon asks for the same). At scoring it is recomputed with the weights of now, which have
   * also learnt the h − 1 changes after the origin: one pooled fit of thousands of changes moves
   * little in h − 1 of them, and keeping each served path until its targets arrive would cost
   * H × groups floats per series. What is served is the path of the weights at the origin.
   */
  #arPath(ring: LagValues | undefined, age: number, scale: number): Float64Array {
    const m = this.#arMemo;
    if (ring === undefined) {
      m.ring = undefined;
      m.path.fill(Number.NaN);
      return m.path;
    }
    if (m.ring !== ring || m.pushes !== ring.pushes || m.filled !== ring.filled || m.age !== age || m.scale !== scale || m.updates !== this.#ar!.updates) {
      m.ring = ring;
      m.pushes = ring.pushes;
      m.filled = ring.filled;
      m.age = age;
      m.scale = scale;
      m.updates = this.#ar!.updates;
      this.#ar!.path(ring, age, scale, m.path);
    }
    return m.path;
  }

  /** Seasonal-mean expert values for horizon h into #x (after the moving means). */
  #seasonalMeans(ring: LagValues | undefined, h: number, age: number, filledAtOrigin: number): void {
    const sm = this.#set.seasonalMeans;
    const first = 2 + this.#set.lags.length + this.#set.means.length;
    for (let e = 0; e < sm.length; e++) {
      const { season, count } = sm[e]!;
      const level = sm[e]!.level ?? 0;
      const back = season * Math.ceil(h / season) - h;
      let v = Number.NaN;
      // Every season it averages must have been seen since the series' last reset.
      if (ring !== undefined && filledAtOrigin > back + season * (count - 1) && (level === 0 || filledAtOrigin >= level + season * count)) {
        let sum = 0;
        for (let j = 0; j < count; j++) sum += ring.at(age + back + j * season);
        v = sum / count;
        if (level > 0) {
          // How far the last `level` values lay from the same mean at their own steps.
          let dev = 0;
          for (let i = 0; i < level; i++) {
            let p = 0;
            for (let j = 1; j <= count; j++) p += ring.at(age + i + j * season);
            dev += ring.at(age + i) - p / count;
          }
          v += dev / level;
        }
      }
      this.#x[first + e] = v;
    }
  }

  /** The served centre at horizon h from the experts in #x. */
  #centre(cells: SeriesCells | undefined, last: number, h: number, model: boolean): number {
    const x = this.#x;
    const set = this.#set;
    const C = set.size;
    const g = this.#groupOf[h]!;
    const row = g * C;
    // Until the pipeline has scored the GRU alone enough, its offline calibration (or itself).
    if (model && this.#seen[row]! < this.#minCells) {
      const init = this.#initial;
      if (init === undefined) return x[0]!;
      const b = x[1]!;
      const w0 = init[(h - 1) * 3]!;
      const w1 = init[(h - 1) * 3 + 1]!;
      const w2 = init[(h - 1) * 3 + 2]!;
      return w0 === 1 || !Number.isFinite(last) || !Number.isFinite(b) ? x[0]! : w0 * x[0]! + w1 * last + w2 * b;
    }
    let best = this.#chosen[g]!;
    if (best >= 0 && this.#available(best)) return this.#blend(best);
    const errs = cells?.f32;
    const counts = cells?.n16;
    const eOff = this.#pendingLength + g * C;
    const window = 1 / this.#alphaSeries;
    const option = this.#baseOption(cells, g);
    best = -1;
    let bestScore = Number.POSITIVE_INFINITY;
    for (let c = 0; c < C; c++) {
      if (this.#seen[row + c]! < this.#minCells) continue;
      if (!model && set.usesModel[c] === 1) continue;
      const of = set.baseOf[c]!;
      if (of >= 0 && of !== option) continue;
      if (!this.#available(c)) continue;
      const pipeline = this.#err[row + c]!;
      // The series' own cells weigh as many as it has, up to its errors' effective window.
      const n = counts === undefined ? 0 : Math.min(window, counts[row + c]!);
      const score = n > 0 ? (n * errs![eOff + c]! + this.#prior * pipeline) / (n + this.#prior) : pipeline;
      if (best < 0 || score < bestScore - 1e-12 * bestScore) {
        bestScore = score;
        best = c;
      }
    }
    if (best < 0) return model ? x[0]! : x[1]!;
    this.#chosen[g] = best;
    return this.#blend(best);
  }

  /**
   * The base option served at group g: the available one with the lowest long-memory error, the
   * series' own shrunk toward the pipeline's; −1 when none is known yet (then any).
   */
  #baseOption(cells: SeriesCells | undefined, g: number): number {
    const B = this.#B;
    const errs = cells?.f32;
    const lOff = this.#pendingLength + this.#G * this.#set.size;
    const nOff = this.#G * this.#set.size;
    const window = 1 / this.#alphaLong;
    let best = -1;
    let bestScore = Number.POSITIVE_INFINITY;
    for (let i = 0; i < B; i++) {
      if (!Number.isFinite(this.#x[this.#set.bases[i]!]!)) continue;
      const li = g * B + i;
      if (this.#seenLong[li]! < this.#minCells) continue;
      const n = cells === undefined ? 0 : Math.min(window, cells.n16[nOff + li]!);
      const score = n > 0 ? (n * errs![lOff + li]! + this.#prior * this.#errLong[li]!) / (n + this.#prior) : this.#errLong[li]!;
      if (best < 0 || score < bestScore) {
        best = i;
        bestScore = score;
      }
    }
    return best;
  }

  /** Candidate c's forecast from the experts in #x. */
  #blend(c: number): number {
    const x = this.#x;
    const t = c * 3;
    return this.#termW[t]! * x[this.#termE[t]!]! + this.#termW[t + 1]! * x[this.#termE[t + 1]!]! + this.#termW[t + 2]! * x[this.#termE[t + 2]!]!;
  }

  #available(c: number): boolean {
    return (this.#usedMask[c]! & this.#availableMask()) === this.#usedMask[c];
  }

  /** Bit e set when expert e has a finite value in #x. */
  #availableMask(): number {
    const x = this.#x;
    let m = 0;
    for (let e = 0; e < x.length; e++) if (Number.isFinite(x[e]!)) m |= 1 << e;
    return m;
  }

  /** Scores every pending cell of the series whose target is `ts` (`scale`: its typical step), then its served quantiles. */
  #score(cells: SeriesCells, scale: number, sampled: number, ts: number, y: number): void {
    const H = this.horizon;
    const origins = cells.origins;
    const p32 = cells.f32;
    const C = this.#set.size;
    const x = this.#x;
    // Errors in units of the series' typical step (or in its units, for comparison only).
    const unit = this.#scaleFree ? scale : 1;
    const learn = unit > 0;
    const alpha = this.#globalAlpha();
    for (let k = 0; k < H; k++) {
      const origin = origins[k]!;
      if (!(origin < ts)) continue;
      const h = Math.round((ts - origin) / this.#stepMs);
      if (h < 1 || h > H || origin + h * this.#stepMs !== ts) continue;
      this.#followUp(sampled, k, h, y);
      const g = this.#groupOf[h]!;
      if (!learn || this.#scoredAt[g] !== h) continue;
      const pi = (k * this.#G + g) * 2;
      // The ring holds values up to the previous step: the origin's value is h − 1 steps back.
      this.#experts(cells.lags, Number.NaN, h, h - 1, p32[pi]!, p32[pi + 1]!, scale);
      const row = g * C;
      const eOff = this.#pendingLength + g * C;
      const counts = cells.n16;
      const aS = this.#alphaSeries;
      const aL = this.#globalLongAlpha();
      const avail = this.#availableMask();
      const seen = this.#seen;
      const errs = this.#err;
      const inv = 1 / unit;
      const cap = this.#scaleFree ? SCALED_ERROR_CAP : Number.POSITIVE_INFINITY;
      for (let c = 0; c < C; c++) {
        if ((this.#usedMask[c]! & avail) !== this.#usedMask[c]) continue;
        const t = c * 3;
        const v = this.#termW[t]! * x[this.#termE[t]!]! + this.#termW[t + 1]! * x[this.#termE[t + 1]!]! + this.#termW[t + 2]! * x[this.#termE[t + 2]!]!;
        const d = Math.abs(y - v) * inv;
        const err = d < cap ? d : cap;
        const n = ++seen[row + c]!;
        errs[row + c] = errs[row + c]! + (n * alpha < 1 ? 1 / n : alpha) * (err - errs[row + c]!);
        // Its own cells: a plain mean at first, then exponential decay (unbiased from the first cell on).
        const m = counts[row + c]! < MAX_CELL_COUNT ? ++counts[row + c]! : MAX_CELL_COUNT;
        p32[eOff + c] = p32[eOff + c]! + (m * aS < 1 ? 1 / m : aS) * (err - p32[eOff + c]!);
        const option = this.#aloneOption[c]!;
        if (option >= 0) {
          const li = g * this.#B + option;
          const ln = ++this.#seenLong[li]!;
          this.#errLong[li] = this.#errLong[li]! + Math.max(aL, 1 / ln) * (err - this.#errLong[li]!);
          const lOff = this.#pendingLength + this.#G * C;
          const ni = this.#G * C + li;
          const sn = counts[ni]! < MAX_CELL_COUNT ? ++counts[ni]! : MAX_CELL_COUNT;
          p32[lOff + li] = p32[lOff + li]! + Math.max(this.#alphaLong, 1 / sn) * (err - p32[lOff + li]!);
        }
      }
    }
  }

  /** Adaptive conformal update of the scales from a sampled series' served quantiles (GRU-served only). */
  #followUp(sampled: number, k: number, h: number, y: number): void {
    if (sampled < 0) return;
    const H = this.horizon;
    const Q = this.#Q;
    const off = sampled * H * (1 + H * Q) + k * (1 + H * Q);
    if (this.#served[off] !== 1) return;
    for (let j = 0; j < Q; j++) {
      if (j === this.#anchor) continue;
      const served = this.#served[off + 1 + (h - 1) * Q + j]!;
      if (!Number.isFinite(served)) continue;
      const tau = this.quantiles[j]!;
      const miss = j > this.#anchor ? (y > served ? 1 : 0) - (1 - tau) : (y < served ? 1 : 0) - tau;
      const i = (h - 1) * Q + j;
      const next = this.#logScale[i]! + this.#gamma * miss;
      this.#logScale[i] = next < LOG_SCALE_MIN ? LOG_SCALE_MIN : next > LOG_SCALE_MAX ? LOG_SCALE_MAX : next;
      this.#scale[i] = Math.exp(this.#logScale[i]!);
    }
  }

  /** Pipeline-wide decay of the base options' errors per cell. */
  #globalLongAlpha(): number {
    const n = Math.max(1, this.#slots.size);
    if (n !== this.#longFor) {
      this.#longFor = n;
      this.#alphaLongGlobal = 1 - (1 - this.#alphaLong) ** (1 / n);
    }
    return this.#alphaLongGlobal;
  }

  /** Pipeline-wide decay per cell: the half-life in steps times the series followed. */
  #globalAlpha(): number {
    const n = Math.max(1, this.#slots.size);
    if (n !== this.#alphaFor) {
      this.#alphaFor = n;
      this.#alphaGlobal = 1 - 2 ** (-1 / (this.#halfLife * n));
    }
    return this.#alphaGlobal;
  }

  /** The series' slot, its record made on first sight. */
  #slotOf(series: SeriesId): number {
    const known = this.#slots.get(series);
    if (known !== undefined) return known;
    const slot = this.#slots.add(series);
    this.#rec.ensure(slot);
    const R = this.#rec.page(slot);
    const o = this.#rec.offset(slot);
    R.fill(Number.NaN, o, o + RECORD);
    R[o + SCALE] = 0;
    R[o + SCALE_N] = 0;
    R[o + SAMPLED] = -1;
    this.#cells[slot] = undefined;
    if (this.#sampled < this.#sample) {
      const H = this.horizon;
      const stride = H * (1 + H * this.#Q);
      const i = this.#sampled++;
      if ((i + 1) * stride > this.#served.length) {
        const grown = new Float64Array(Math.min(this.#sample, Math.max(8, 2 * (i + 1))) * stride).fill(Number.NaN);
        grown.set(this.#served);
        this.#served = grown;
      }
      R[o + SAMPLED] = i;
    }
    return slot;
  }

  /** Pending centres (NaN: none yet), errors and their cell counts (0); origins NaN. */
  #newCells(): SeriesCells {
    const C = this.#set.size;
    const f32 = new Float32Array(this.#pendingLength + this.#G * C + this.#G * this.#B).fill(Number.NaN);
    f32.fill(0, this.#pendingLength);
    return { origins: new Float64Array(this.horizon).fill(Number.NaN), f32, n16: new Uint16Array(this.#G * (C + this.#B)), lags: new LagValues(this.#ringCapacity) };
  }
}
