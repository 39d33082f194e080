import { StreamcastError } from './errors.js';
import { quantileKey } from './forecast.js';
import type { Forecast, HorizonForecast, ModelKind } from './forecast.js';

/**
 * Output hygiene for forecasts: DESIGN.md promises no NaN, no Infinity and no crossed quantiles.
 * Models sanitize their outputs with these helpers; tests assert them with
 * `assertForecastHygiene`.
 */

/** `x` when finite, else `fallback` (and 0 when the fallback is not finite either). */
export function finiteOr(x: number, fallback: number): number {
  if (Number.isFinite(x)) return x;
  return Number.isFinite(fallback) ? fallback : 0;
}

/**
 * In place: replaces non-finite entries of `values[0..n)` with `fallback`, then sorts them
 * ascending. Sorting is the monotone rearrangement of Chernozhukov, Fernández-Val & Galichon
 * (2010): for quantiles listed by increasing level it never increases the error of any level,
 * so crossed quantiles are repaired rather than rejected. Insertion sort: n is a handful and the
 * input is almost always already sorted, so this is O(n) on the hot path.
 */
export function sanitizeQuantileValues(values: Float64Array | number[], fallback: number, n = values.length): void {
  const fb = Number.isFinite(fallback) ? fallback : 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) values[i] = fb;
  }
  for (let i = 1; i < n; i++) {
    const v = values[i]!;
    let j = i - 1;
    while (j >= 0 && values[j]! > v) {
      values[j + 1] = values[j]!;
      j--;
    }
    values[j + 1] = v;
  }
}

/**
 * In place, on sorted `values[0..n)` of levels `levels` (ascending): widens the outer band just
 * enough to hold the point forecast `mean` (the lowest level's value at most `mean`, the highest
 * at least), so every forecast's mean lies within its own outer quantiles. Only where the levels
 * straddle the median (lowest < 0.5 < highest): a one-sided set of levels has no band around the
 * centre. Widening keeps the quantiles sorted and never moves the mean, so a point error is
 * unchanged; it only repairs a band a biased residual sample put beside the mean.
 */
export function encloseMean(values: Float64Array | number[], mean: number, levels: ArrayLike<number>, n = values.length): void {
  if (n < 2 || !(levels[0]! < 0.5 && levels[n - 1]! > 0.5) || !Number.isFinite(mean)) return;
  if (values[0]! > mean) values[0] = mean;
  if (values[n - 1]! < mean) values[n - 1] = mean;
}

export interface SanitizeOptions {
  /** Replaces a non-finite mean when no finite quantile can (e.g. the last observed value). */
  readonly fallback?: number;
  /** Clamp the mean into [min, max] (e.g. a physically possible range). */
  readonly meanBounds?: readonly [min: number, max: number];
}

/** A finite mean: `mean` when finite, else `fallback`, else 0; clamped to `bounds` when given. */
export function sanitizeMean(mean: number, fallback: number, bounds?: readonly [min: number, max: number]): number {
  let m = finiteOr(mean, fallback);
  if (bounds) {
    if (m < bounds[0]) m = bounds[0];
    if (m > bounds[1]) m = bounds[1];
  }
  return m;
}

/**
 * Returns a forecast that satisfies the output contract: each horizon's mean finite (a
 * non-finite mean becomes the median of its finite quantiles, else `opts.fallback`, else 0, and is
 * clamped to `opts.meanBounds` when given), its quantiles finite (a non-finite one becomes the
 * mean) and sorted by level. Horizon numbering and timestamps are the producer's job and are left
 * alone (`assertForecastHygiene` checks them). Returns `f` itself when nothing needed fixing.
 */
export function sanitizeForecast(f: Forecast, opts: SanitizeOptions = {}): Forecast {
  let changed = false;
  const horizons: HorizonForecast[] = f.forecast.map((hf) => {
    const keys = Object.keys(hf.q).sort((a, b) => Number(a) - Number(b));
    const raw = keys.map((k) => hf.q[k]!);
    let fallback = opts.fallback ?? 0;
    if (!Number.isFinite(hf.mean)) {
      const finite = raw.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
      if (finite.length > 0) fallback = finite[(finite.length - 1) >> 1]!;
    }
    const mean = sanitizeMean(hf.mean, fallback, opts.meanBounds);
    const values = raw.slice();
    sanitizeQuantileValues(values, mean);
    if (mean === hf.mean && values.every((v, i) => v === raw[i])) return hf;
    changed = true;
    const q: Record<string, number> = {};
    keys.forEach((k, i) => {
      q[k] = values[i]!;
    });
    return { h: hf.h, ts: hf.ts, mean, q };
  });
  return changed ? { ...f, forecast: horizons } : f;
}

export interface HygieneExpectations {
  readonly horizon?: number;
  readonly step?: number;
  /** The levels every horizon must carry, exactly (as `quantileKey` strings). */
  readonly quantiles?: readonly number[];
}

const MODEL_KINDS: readonly ModelKind[] = ['baseline', 'gru'];

/**
 * Throws a `fatal` StreamcastError naming the series, origin, horizon and field when `f` breaks
 * the output contract: NaN/Infinity, crossed quantiles, horizons not numbered 1..H, or a horizon
 * whose ts is not `f.ts + h * f.step`.
 */
export function assertForecastHygiene(f: Forecast, expected: HygieneExpectations = {}): void {
  const where = `forecast for series ${JSON.stringify(f.series)} at ts=${f.ts}`;
  const fail = (what: string): never => {
    throw new StreamcastError('fatal', `${where}: ${what}`);
  };
  if (typeof f.series !== 'string' || f.series.length === 0) fail('series must be a non-empty string');
  if (!Number.isFinite(f.ts)) fail(`ts is ${f.ts}, not a finite number`);
  if (!Number.isFinite(f.step) || f.step <= 0) fail(`step is ${f.step}, not a positive finite number`);
  if (expected.step !== undefined && f.step !== expected.step) fail(`step is ${f.step}, expected ${expected.step}`);
  if (typeof f.imputed !== 'boolean') fail(`imputed is ${String(f.imputed)}, not a boolean`);
  const m = f.model;
  if (!m || typeof m.name !== 'string' || m.name.length === 0) fail('model.name must be a non-empty string');
  if (!Number.isInteger(m.version) || m.version < 0) fail(`model.version is ${m.version}, not a non-negative integer`);
  if (!MODEL_KINDS.includes(m.kind)) fail(`model.kind is ${JSON.stringify(m.kind)}, not one of ${MODEL_KINDS.join(', ')}`);
  if (!Array.isArray(f.forecast) || f.forecast.length === 0) fail('forecast must be a non-empty array');
  if (expected.horizon !== undefined && f.forecast.length !== expected.horizon) {
    fail(`has ${f.forecast.length} horizons, expected ${expected.horizon}`);
  }
  const expectedKeys = expected.quantiles?.map(quantileKey);
  f.forecast.forEach((hf, i) => {
    const at = `horizon index ${i} (h=${hf.h})`;
    if (hf.h !== i + 1) fail(`${at}: h must be ${i + 1} (horizons are numbered 1..H in order)`);
    const ts = f.ts + hf.h * f.step;
    if (hf.ts !== ts) fail(`${at}: ts is ${hf.ts}, expected origin + h*step = ${ts}`);
    if (!Number.isFinite(hf.mean)) fail(`${at}: mean is ${hf.mean}, not finite`);
    const keys = Object.keys(hf.q);
    if (expectedKeys) {
      const missing = expectedKeys.filter((k) => !(k in hf.q));
      const extra = keys.filter((k) => !expectedKeys.includes(k));
      if (missing.length > 0 || extra.length > 0) {
        fail(`${at}: quantile keys [${keys.join(', ')}], expected [${expectedKeys.join(', ')}]`);
      }
    }
    const byLevel = keys.map((k) => ({ k, level: Number(k), v: hf.q[k]! }));
    for (const { k, level, v } of byLevel) {
      if (!(level > 0 && level < 1)) fail(`${at}: quantile key "${k}" is not a level in (0, 1)`);
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${at}: quantile "${k}" is ${v}, not finite`);
    }
    byLevel.sort((a, b) => a.level - b.level);
    for (let j = 1; j < byLevel.length; j++) {
      const lo = byLevel[j - 1]!;
      const hi = byLevel[j]!;
      if (hi.v < lo.v) fail(`${at}: quantiles cross: "${lo.k}"=${lo.v} > "${hi.k}"=${hi.v}`);
    }
  });
}

/**
 * The standard normal quantile function Φ⁻¹(p), p in (0, 1): Wichura's AS 241 (PPND16),
 * relative accuracy about 1e-16. Used for Gaussian fallback bands.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (
      (q *
        (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r + 45921.953931549871457) * r +
          13731.693765509461125) *
          r +
          1971.5909503065514427) *
          r +
          133.14166789178437745) *
          r +
          3.387132872796366608)) /
      (((((((r * 5226.495278852545925 + 28729.085735721942674) * r + 39307.89580009271061) * r + 21213.794301586595867) * r +
        5394.1960214247511077) *
        r +
        687.1870074920579083) *
        r +
        42.313330701600911252) *
        r +
        1.0)
    );
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let val: number;
  if (r <= 5) {
    r -= 1.6;
    val =
      (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r + 0.24178072517745061177) * r + 1.27045825245236838258) * r +
        3.64784832476320460504) *
        r +
        5.7694972214606914055) *
        r +
        4.6303378461565452959) *
        r +
        1.42343711074968357734) /
      (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r + 0.14810397642748007459) * r +
        0.68976733498510000455) *
        r +
        1.6763848301838038494) *
        r +
        2.05319162663775882187) *
        r +
        1.0);
  } else {
    r -= 5;
    val =
      (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r + 0.026532189526576123093) * r +
        0.29656057182850489123) *
        r +
        1.7848265399172913358) *
        r +
        5.4637849111641143699) *
        r +
        6.6579046435011037772) /
      (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r +
        0.0148753612908506148525) *
        r +
        0.13692988092273580531) *
        r +
        0.59983220655588793769) *
        r +
        1.0);
  }
  return q < 0 ? -val : val;
}
