/**
 * The scale-free metrics of the fixed-origin protocol, as the M4 competition defines them
 * (Makridakis, Spiliotis & Assimakopoulos 2020, and the M4 team's published code):
 * sMAPE, MASE's in-sample scale, and the Naive2 benchmark (naive on the seasonally adjusted
 * series, seasonality from a classical multiplicative decomposition when the lag-m
 * autocorrelation passes a 90 % test). Pure functions over plain arrays.
 */

/** sMAPE of one cell, in percent: 200·|y − ŷ| / (|y| + |ŷ|); 0 when both are 0. */
export function smape(actual: number, forecast: number): number {
  const denom = Math.abs(actual) + Math.abs(forecast);
  return denom === 0 ? 0 : (200 * Math.abs(actual - forecast)) / denom;
}

/**
 * MASE's scale: the in-sample mean absolute difference at lag m of a series' history
 * (m = 1: the one-step naive error). 0 for a history that never changes at that lag (MASE is
 * then undefined for that series); NaN with no pair m apart.
 */
export function maseScale(history: ArrayLike<number>, m: number): number {
  let sum = 0;
  let n = 0;
  for (let t = m; t < history.length; t++) {
    sum += Math.abs(history[t]! - history[t - m]!);
    n++;
  }
  return n === 0 ? Number.NaN : sum / n;
}

/**
 * Sample autocorrelation at lag k, as the M4 code computes it: Σ (x_t − x̄)(x_{t−k} − x̄) / Σ (x_t − x̄)².
 * 0 for a constant series.
 */
export function acf(x: ArrayLike<number>, k: number): number {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let num = 0;
  for (let i = k; i < n; i++) num += (x[i]! - mean) * (x[i - k]! - mean);
  let den = 0;
  for (let i = 0; i < n; i++) den += (x[i]! - mean) ** 2;
  return den === 0 ? 0 : num / den;
}

/**
 * M4's seasonality test at 90 %: seasonal when m > 1, the history is longer than 3·m, and
 * |r_m| > 1.645 · sqrt((1 + 2 Σ_{k=1}^{m−1} r_k²) / n). (The M4 Python code adds r_1 unsquared, a
 * slip its R code does not make; this follows the R code and the formula.)
 */
export function seasonalityTest(x: ArrayLike<number>, m: number): boolean {
  if (m <= 1 || x.length <= 3 * m) return false;
  let s = 0;
  for (let k = 1; k < m; k++) s += acf(x, k) ** 2;
  const limit = 1.645 * Math.sqrt((1 + 2 * s) / x.length);
  return Math.abs(acf(x, m)) > limit;
}

/**
 * Seasonal indices of a classical decomposition (as R's `decompose` and statsmodels'
 * `seasonal_decompose`): the trend is the centred moving average of order m (2×m for even m),
 * each position's index is the mean of the detrended values there (x / trend, or x − trend when
 * additive), normalised to mean 1 (0 when additive). Index i belongs to positions t ≡ i (mod m),
 * t counted from the history's first value. Multiplicative needs positive values: callers pass
 * `additive` when a history has a value ≤ 0.
 */
export function seasonalIndices(x: ArrayLike<number>, m: number, additive = false): number[] {
  const n = x.length;
  const half = Math.floor(m / 2);
  const sums = new Array<number>(m).fill(0);
  const counts = new Array<number>(m).fill(0);
  for (let t = half; t < n - half; t++) {
    let trend: number;
    if (m % 2 === 0) {
      let s = 0.5 * x[t - half]! + 0.5 * x[t + half]!;
      for (let j = t - half + 1; j < t + half; j++) s += x[j]!;
      trend = s / m;
    } else {
      let s = 0;
      for (let j = t - half; j <= t + half; j++) s += x[j]!;
      trend = s / m;
    }
    const detrended = additive ? x[t]! - trend : x[t]! / trend;
    if (!Number.isFinite(detrended)) continue;
    sums[t % m]! += detrended;
    counts[t % m]!++;
  }
  const figure = sums.map((s, i) => (counts[i]! > 0 ? s / counts[i]! : additive ? 0 : 1));
  const centre = figure.reduce((a, b) => a + b, 0) / m;
  return additive ? figure.map((f) => f - centre) : figure.map((f) => (centre === 0 ? 1 : f / centre));
}

/** How Naive2 treated one history (for the summary: how many series it found seasonal). */
export interface Naive2Forecast {
  readonly forecast: number[];
  readonly seasonal: boolean;
  readonly additive: boolean;
}

/**
 * M4's Naive2: when the history passes `seasonalityTest`, divide it by its classical
 * multiplicative seasonal indices, repeat the last adjusted value `horizon` times and multiply
 * back by the indices of the future positions; otherwise plain naive (the last value repeated).
 * A history with a value ≤ 0 (M4 had none) is adjusted additively instead.
 */
export function naive2(history: ArrayLike<number>, m: number, horizon: number): Naive2Forecast {
  const n = history.length;
  const last = history[n - 1]!;
  if (!seasonalityTest(history, m)) return { forecast: new Array<number>(horizon).fill(last), seasonal: false, additive: false };
  let additive = false;
  for (let t = 0; t < n; t++) if (!(history[t]! > 0)) additive = true;
  const idx = seasonalIndices(history, m, additive);
  const at = (t: number): number => idx[t % m]!;
  const adjustedLast = additive ? last - at(n - 1) : last / at(n - 1);
  const forecast = Array.from({ length: horizon }, (_, i) => (additive ? adjustedLast + at(n + i) : adjustedLast * at(n + i)));
  return { forecast, seasonal: true, additive };
}

/** Steps in one day when the step divides a day (the M4 hourly m = 24), else 1. */
export function seasonalPeriod(stepMs: number): number {
  const steps = 86_400_000 / stepMs;
  return Number.isInteger(steps) && steps >= 2 ? steps : 1;
}
