/**
 * Counting forecasts per (series, step): pure, fed line by line from a topic. A forecast's key is
 * `series@ts` (ts: the step it was made at), as the integration tests key them; the input's
 * expected keys are `series@stepStart` of every valid point.
 */
export interface Tally {
  /** Copies per key. */
  readonly copies: Map<string, number>;
  /** The first copy's `forecast` array as JSON, per key (only when values are kept). */
  readonly values: Map<string, string> | undefined;
  /** Keys whose copies disagree with each other. */
  readonly selfConflicts: Set<string>;
  /** Lines that are not a forecast, and forecasts that break the contract (non-finite, crossed quantiles). */
  malformed: number;
  violations: number;
}

export function newTally(keepValues: boolean): Tally {
  return { copies: new Map(), values: keepValues ? new Map() : undefined, selfConflicts: new Set(), malformed: 0, violations: 0 };
}

interface ForecastLine {
  series?: unknown;
  ts?: unknown;
  forecast?: Array<{ mean?: unknown; q?: Record<string, unknown> }>;
}

export function addForecast(t: Tally, line: string): void {
  let f: ForecastLine;
  try {
    f = JSON.parse(line) as ForecastLine;
  } catch (err) {
    void err; // counted as malformed
    t.malformed++;
    return;
  }
  if (typeof f.series !== 'string' || typeof f.ts !== 'number' || !Array.isArray(f.forecast)) {
    t.malformed++;
    return;
  }
  if (!withinContract(f.forecast)) t.violations++;
  const key = `${f.series}@${f.ts}`;
  t.copies.set(key, (t.copies.get(key) ?? 0) + 1);
  if (t.values !== undefined) {
    const v = JSON.stringify(f.forecast);
    const first = t.values.get(key);
    if (first === undefined) t.values.set(key, v);
    else if (first !== v) t.selfConflicts.add(key);
  }
}

function withinContract(horizons: NonNullable<ForecastLine['forecast']>): boolean {
  for (const h of horizons) {
    if (typeof h.mean !== 'number' || !Number.isFinite(h.mean)) return false;
    const qs = Object.entries(h.q ?? {})
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, v]) => v);
    for (let i = 0; i < qs.length; i++) {
      const q = qs[i];
      if (typeof q !== 'number' || !Number.isFinite(q)) return false;
      if (i > 0 && q < (qs[i - 1] as number)) return false;
    }
  }
  return true;
}

/**
 * The (series, step) keys an input record asks a forecast for: its valid points (one object, or
 * each valid element of an array); nothing for a record that is not such JSON.
 */
export function expectedKeysOf(line: string, stepMs: number, into: Set<string>): void {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (err) {
    void err; // not JSON: a dead letter, no forecast expected
    return;
  }
  for (const p of Array.isArray(doc) ? doc : [doc]) {
    if (p === null || typeof p !== 'object' || Array.isArray(p)) continue;
    const { series, ts, value } = p as { series?: unknown; ts?: unknown; value?: unknown };
    if (typeof series !== 'string' || typeof ts !== 'number' || !(typeof value === 'number' || value === null)) continue;
    into.add(`${series}@${Math.floor(ts / stepMs) * stepMs}`);
  }
}

export interface Comparison {
  readonly expected: number;
  /** Forecast records read (every copy). */
  readonly forecasts: number;
  /** Expected keys with no forecast. */
  readonly lost: number;
  /** Keys with more than one forecast, and the copies beyond the first. */
  readonly duplicated: number;
  readonly extraCopies: number;
  /** Forecast keys no input point asked for. */
  readonly unexpected: number;
  /** Keys whose forecast differs from the reference run's (or whose copies differ); undefined without a reference. */
  readonly mismatched: number | undefined;
  readonly malformed: number;
  readonly violations: number;
  /** A few lost keys, for the report. */
  readonly lostSample: readonly string[];
}

export function compare(expected: ReadonlySet<string>, got: Tally, reference?: Tally): Comparison {
  let forecasts = 0;
  let duplicated = 0;
  let extraCopies = 0;
  let unexpected = 0;
  for (const [k, n] of got.copies) {
    forecasts += n;
    if (n > 1) {
      duplicated++;
      extraCopies += n - 1;
    }
    if (!expected.has(k)) unexpected++;
  }
  const lostKeys = [...expected].filter((k) => !got.copies.has(k));
  let mismatched: number | undefined;
  if (reference?.values !== undefined && got.values !== undefined) {
    mismatched = 0;
    for (const [k, v] of got.values) {
      const ref = reference.values.get(k);
      if (got.selfConflicts.has(k) || (ref !== undefined && ref !== v)) mismatched++;
    }
  }
  return {
    expected: expected.size,
    forecasts,
    lost: lostKeys.length,
    duplicated,
    extraCopies,
    unexpected,
    mismatched,
    malformed: got.malformed,
    violations: got.violations,
    lostSample: lostKeys.slice(0, 5),
  };
}
