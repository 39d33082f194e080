import { quantileKey } from '../domain/forecast.js';

/**
 * Point and interval error accumulators for prequential evaluation. Every getter returns `null`
 * rather than NaN when nothing was accumulated: summaries are JSON, which has no NaN.
 */

/** |y − f|. */
export function absoluteError(actual: number, forecast: number): number {
  return Math.abs(actual - forecast);
}

/** Symmetric APE in percent, 200·|y − f| / (|y| + |f|) in [0, 200]; 0 when both are 0. */
export function smapeTerm(actual: number, forecast: number): number {
  const denom = Math.abs(actual) + Math.abs(forecast);
  if (denom === 0) return 0;
  const v = (200 * Math.abs(actual - forecast)) / denom;
  // Overflow of |y − f| for values near ±MAX_VALUE: the true ratio is at most 200.
  return Number.isFinite(v) ? v : 200;
}

/** Running mean with a count; `mean` is null when empty. */
export class MeanAccumulator {
  private sum = 0;
  private n = 0;
  add(x: number): void {
    this.sum += x;
    this.n++;
  }
  get count(): number {
    return this.n;
  }
  get total(): number {
    return this.sum;
  }
  get mean(): number | null {
    return this.n === 0 ? null : this.sum / this.n;
  }
}

/** MAE and sMAPE over the same cells. */
export class PointErrorAccumulator {
  private readonly abs = new MeanAccumulator();
  private readonly smapes = new MeanAccumulator();
  add(actual: number, forecast: number): void {
    this.abs.add(absoluteError(actual, forecast));
    this.smapes.add(smapeTerm(actual, forecast));
  }
  get count(): number {
    return this.abs.count;
  }
  get mae(): number | null {
    return this.abs.mean;
  }
  get smape(): number | null {
    return this.smapes.mean;
  }
}

/**
 * The MASE scale of one series: the mean absolute one-step naive error |y_t − y_{t−1}| over
 * pairs of OBSERVED actuals exactly one step apart (a pair spanning an imputed or missing step
 * is skipped: an imputed value is not data, and a longer difference is not a one-step error).
 * Hyndman & Koehler (2006) take the scale in-sample; a prequential run has no training split,
 * so the scale is taken over the whole run of the series (it normalizes, it does not forecast).
 */
export class NaiveScaleAccumulator {
  private readonly diffs = new MeanAccumulator();
  private lastTs = Number.NaN;
  private lastValue = 0;
  constructor(private readonly stepMs: number) {}
  /** Feed observed actuals in time order. */
  add(ts: number, value: number): void {
    if (ts - this.stepMs === this.lastTs) {
      const d = Math.abs(value - this.lastValue);
      if (Number.isFinite(d)) this.diffs.add(d);
    }
    this.lastTs = ts;
    this.lastValue = value;
  }
  /** null until one pair was seen. */
  get scale(): number | null {
    return this.diffs.mean;
  }
}

/**
 * MASE of a set of series: per series MAE / scale, averaged over the series that have both a
 * MAE and a positive scale (a constant series has scale 0 and no defined MASE). null if none.
 */
export function meanScaledError(perSeries: Iterable<{ readonly mae: number | null; readonly scale: number | null }>): number | null {
  const acc = new MeanAccumulator();
  for (const { mae, scale } of perSeries) {
    if (mae !== null && scale !== null && scale > 0) {
      const v = mae / scale;
      if (Number.isFinite(v)) acc.add(v);
    }
  }
  return acc.mean;
}

/** A central interval from a symmetric pair of quantile levels, e.g. 0.1 and 0.9. */
export interface IntervalPair {
  /** "0.1-0.9" */
  readonly key: string;
  readonly lo: number;
  readonly hi: number;
}

/**
 * The symmetric pairs (q, 1 − q), q < 0.5, among `levels`. Matching tolerates float noise
 * (1 − 0.9 is 0.09999999999999998); the key uses the levels as configured.
 */
export function symmetricPairs(levels: readonly number[]): IntervalPair[] {
  const pairs: IntervalPair[] = [];
  for (const lo of levels) {
    if (!(lo < 0.5)) continue;
    const hi = levels.find((l) => l > 0.5 && Math.abs(l - (1 - lo)) < 1e-9);
    if (hi !== undefined) pairs.push({ key: `${quantileKey(lo)}-${quantileKey(hi)}`, lo, hi });
  }
  return pairs;
}

/** Fraction of actuals inside [lo, hi] (closed); null when empty. */
export class CoverageAccumulator {
  private readonly hits = new MeanAccumulator();
  add(actual: number, lo: number, hi: number): void {
    this.hits.add(actual >= lo && actual <= hi ? 1 : 0);
  }
  get count(): number {
    return this.hits.count;
  }
  get coverage(): number | null {
    return this.hits.mean;
  }
}
