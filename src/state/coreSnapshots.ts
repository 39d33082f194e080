import type { RecordSource } from '../domain/deadLetter.js';
import type { EpochMs, Point } from '../domain/point.js';

// The per-series snapshots of the pipeline cores as the state frame carries them (stateCodec.ts).
// They are the changelog's format, so state defines them; the cores (pipeline/core/) produce and
// accept them, and validate what they accept.

/** One open bucket's running aggregate, as resampler snapshots carry it (JSON-safe). */
export interface Bucket {
  start: EpochMs;
  /** Non-null values aggregated. */
  n: number;
  sum: number;
  max: number;
  min: number;
  last: number;
  /** Event time of `last`: `last` is the value with the greatest ts (ties: latest arrival). */
  lastTs: EpochMs;
}

/** The resampler's JSON-safe per-series state: what its `snapshot` returns and `restore` accepts. */
export interface ResamplerSnapshot {
  readonly v: 2;
  readonly watermark: number;
  readonly frontier: number;
  readonly lastArrival: number;
  readonly buckets: ReadonlyArray<Readonly<Bucket>>;
  /** Held points (see the resampler's Held); null when none. */
  readonly held: { readonly dir: 1 | -1; readonly points: ReadonlyArray<{ readonly point: Point; readonly arrival: number; readonly source?: RecordSource }> } | null;
  /** Re-based, and the first step since not emitted yet: it carries `rebase: true`. */
  readonly rebase?: true;
}

/** The imputer's per-series state (JSON-safe). */
export interface ImputerSnapshot {
  readonly v: 1;
  readonly lastTs: number;
  readonly obsTs: number | null;
  readonly obsValue: number;
  readonly run: number;
  readonly broken: boolean;
  readonly pendingNulls: number;
  /** Season ring; `null` entries are empty phases. */
  readonly ring: ReadonlyArray<number | null> | null;
}

/** The normalizer's per-series state: its decayed moments (four float64 in the frame). */
export interface NormalizerSnapshot {
  readonly v: 1;
  readonly w: number;
  readonly mean: number;
  readonly m2: number;
  readonly lastTs: number;
}
