/**
 * The forecasts the served centre is chosen or blended from (the "experts") and the fixed set of
 * blends of them (the "candidates") that the online combiner scores. Pure data.
 *
 * Experts, in this order:
 *   0  the GRU's centre (absent while the baseline serves);
 *   1  the pipeline's baseline (its forecast's mean);
 *   2… the value `lag` steps before the target, one season (or more) back, for each lag in `lags`
 *      (a lag of 1 is the last value), as seasonal-naive forecasts them;
 *   then the mean of the last `w` values at the origin, for each window in `means` (the local
 *      level: on a noisy series that wanders around it, a better forecast than its last value);
 *   then, for each { season, count } in `seasonalMeans`, the mean of the values one, two, …
 *      `count` seasons before the target (seasonal naive averaged over several seasons: the
 *      season's shape with each season's noise averaged out); with `level`, plus how far the
 *      last `level` values lay from that mean at their own steps (the shape moved to the level
 *      the series is at now);
 *   then, with `ar` > 0, the pooled autoregressive expert on one-step changes of that order
 *      (changeAr.ts).
 *
 * The "last value" expert is the lag-1 one, or the pipeline's baseline when that is last value.
 * Every other baseline expert is a base option. Candidates: for each base option b, a convex grid
 * (steps of 1/grid) over [GRU, b, last value]; blends that put no weight on b are listed once (they
 * belong to every option). The GRU alone comes first, so that ties keep the model.
 *
 * Choosing among seasonal experts on a short memory chases noise (one day ago beats one week ago
 * for a few days, then loses for weeks), so the combiner picks the base option on a long memory
 * and blends on a short one: `baseOf[c]` says which option a candidate belongs to (−1: all).
 */
export interface CandidateSet {
  /** Experts: 2 + lags.length + means.length + seasonalMeans.length (+ 1 with an autoregressive one). */
  readonly experts: number;
  /** Lags (in steps) of experts 2…, e.g. [1, 48, 336]. */
  readonly lags: readonly number[];
  /** Windows (in steps) of the moving-mean experts after the lag experts. */
  readonly means: readonly number[];
  /** Seasons (in steps) and counts of the seasonal-mean experts after the moving means. */
  readonly seasonalMeans: readonly SeasonalMean[];
  /** Order of the autoregressive expert, the last one (0: none). */
  readonly ar: number;
  /** candidates × experts weights, each row summing to 1. */
  readonly weights: Float64Array;
  readonly size: number;
  /** Per candidate: whether it puts weight on the GRU (then it needs one serving). */
  readonly usesModel: Uint8Array;
  /** The base options' experts. */
  readonly bases: readonly number[];
  /** Per base option, the candidate that is that expert alone. */
  readonly baseAlone: readonly number[];
  /** Per candidate, the index in `bases` of the option it belongs to; −1 when it belongs to all. */
  readonly baseOf: Int8Array;
}

/** A seasonal-mean expert: the mean of the values 1…count seasons (of `season` steps) before the target. */
export interface SeasonalMean {
  readonly season: number;
  readonly count: number;
  /**
   * Re-levelled: plus the mean, over the last `level` steps, of how far the series lay from its
   * own seasonal mean there (the seasonal shape moved to where the series is now); absent: none.
   */
  readonly level?: number;
}

export function candidateSet(lags: readonly number[], grid = 5, means: readonly number[] = [], seasonalMeans: readonly SeasonalMean[] = [], ar = 0): CandidateSet {
  const E = 2 + lags.length + means.length + seasonalMeans.length + (ar > 0 ? 1 : 0);
  const lagOne = lags.indexOf(1);
  const last = lagOne >= 0 ? 2 + lagOne : 1;
  const bases = [1, ...Array.from({ length: E - 2 }, (_, e) => 2 + e)].filter((e) => e !== last);
  const rows: number[][] = [];
  const baseOf: number[] = [];
  const key = new Map<string, number>();
  const row = (w: Record<number, number>, base: number): number => {
    const r = new Array<number>(E).fill(0);
    for (const [e, v] of Object.entries(w)) r[Number(e)] = (r[Number(e)] ?? 0) + v;
    const k = r.join(',');
    const known = key.get(k);
    if (known !== undefined) return known;
    key.set(k, rows.length);
    rows.push(r);
    baseOf.push(base);
    return rows.length - 1;
  };
  const baseAlone: number[] = [];
  const options = bases.length > 0 ? bases : [-1];
  options.forEach((b, i) => {
    for (let a = grid; a >= 0; a--) {
      for (let m = grid - a; m >= 0; m--) {
        const l = grid - a - m;
        if (b < 0 && m > 0) continue;
        row({ 0: a / grid, ...(m > 0 ? { [b]: m / grid } : {}), ...(l > 0 ? { [last]: l / grid } : {}) }, m > 0 ? i : -1);
      }
    }
    if (b >= 0) baseAlone.push(row({ [b]: 1 }, i));
  });
  const weights = Float64Array.from(rows.flat());
  const usesModel = Uint8Array.from(rows, (r) => (r[0]! > 0 ? 1 : 0));
  return Object.freeze({ experts: E, lags: Object.freeze([...lags]), means: Object.freeze([...means]), seasonalMeans: Object.freeze(seasonalMeans.map((m) => Object.freeze({ ...m }))), ar, weights, size: rows.length, usesModel, bases: Object.freeze(bases), baseAlone: Object.freeze(baseAlone), baseOf: Int8Array.from(baseOf) });
}

/** Widest horizon group: beyond h = 8 groups are this many horizons wide. */
const GROUP_WIDTH = 4;

/**
 * Horizon groups share one choice and one error record: h = 1, 2, 3–4, 5–8 (log₂ buckets, where
 * the best blend changes fastest), then 9–12, 13–16, … (four wide).
 */
export function horizonGroup(h: number): number {
  if (h <= 1) return 0;
  if (h <= 2 * GROUP_WIDTH) return Math.ceil(Math.log2(h) - 1e-9);
  return 3 + Math.ceil((h - 2 * GROUP_WIDTH) / GROUP_WIDTH);
}

export function horizonGroups(horizon: number): number {
  return horizonGroup(horizon) + 1;
}

/** The last horizon of group g within 1…horizon (where the group is scored). */
export function groupEnd(g: number, horizon: number): number {
  return Math.min(horizon, g <= 3 ? 2 ** g : 2 * GROUP_WIDTH + (g - 3) * GROUP_WIDTH);
}

/** Horizons in group g, within 1…horizon. */
export function groupSize(g: number, horizon: number): number {
  const prev = g === 0 ? 0 : groupEnd(g - 1, horizon);
  return Math.max(0, groupEnd(g, horizon) - prev);
}
