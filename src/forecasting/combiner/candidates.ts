/**
 * The forecasts the served centre is chosen or blended from (the "experts") and the fixed set of
 * blends of them (the "candidates") that the online combiner scores. Pure data.
 *
 * Experts, in this order:
 *   0  the GRU's centre (absent while the baseline serves);
 *   1  the pipeline's baseline (its forecast's mean);
 *   2… the value `lag` steps before the target, one season (or more) back, for each lag in `lags`
 *      (a lag of 1 is the last value), as seasonal-naive forecasts them.
 *
 * Candidates: a 0.2 grid over the GRU, the baseline and the first lag expert (all convex blends of
 * three, the GRU alone first so that ties keep the model); then for each further lag expert, the
 * expert alone, blended with the GRU at ¼, ½, ¾, and half-and-half with the baseline and with the
 * first lag; then the plain average of all experts when there are four or more.
 */
export interface CandidateSet {
  /** Experts: 2 + lags.length. */
  readonly experts: number;
  /** Lags (in steps) of experts 2…, e.g. [1, 48, 336]. */
  readonly lags: readonly number[];
  /** candidates × experts weights, each row summing to 1. */
  readonly weights: Float64Array;
  readonly size: number;
  /** Per candidate: whether it puts weight on the GRU (then it needs one serving). */
  readonly usesModel: Uint8Array;
}

export function candidateSet(lags: readonly number[], grid = 5): CandidateSet {
  const GRID = grid;
  const E = 2 + lags.length;
  const rows: number[][] = [];
  const row = (w: Record<number, number>): void => {
    const r = new Array<number>(E).fill(0);
    for (const [e, v] of Object.entries(w)) r[Number(e)] = (r[Number(e)] ?? 0) + v;
    rows.push(r);
  };
  const third = lags.length > 0 ? 2 : -1;
  for (let a = GRID; a >= 0; a--) {
    for (let b = GRID - a; b >= 0; b--) {
      const c = GRID - a - b;
      if (third < 0 && c > 0) continue;
      row({ 0: a / GRID, 1: b / GRID, ...(c > 0 ? { [third]: c / GRID } : {}) });
    }
  }
  for (let e = 3; e < E; e++) {
    row({ [e]: 1 });
    for (const w of [0.75, 0.5, 0.25]) row({ 0: w, [e]: 1 - w });
    row({ 1: 0.5, [e]: 0.5 });
    row({ 2: 0.5, [e]: 0.5 });
  }
  if (E >= 4) row(Object.fromEntries(Array.from({ length: E }, (_, e) => [e, 1 / E])));
  const weights = Float64Array.from(rows.flat());
  const usesModel = Uint8Array.from(rows, (r) => (r[0]! > 0 ? 1 : 0));
  return Object.freeze({ experts: E, lags: Object.freeze([...lags]), weights, size: rows.length, usesModel });
}

/** Horizon groups share one per-series error record: h = 1, 2, 3–4, 5–8, 9–16, … (log₂ buckets). */
export function horizonGroup(h: number): number {
  return h <= 1 ? 0 : Math.ceil(Math.log2(h) - 1e-9);
}

export function horizonGroups(horizon: number): number {
  return horizonGroup(horizon) + 1;
}

/** Horizons in group g, within 1…horizon. */
export function groupSize(g: number, horizon: number): number {
  if (g === 0) return 1;
  const lo = 2 ** (g - 1) + 1;
  const hi = Math.min(horizon, 2 ** g);
  return Math.max(0, hi - lo + 1);
}
