/** A series identifier: non-empty, at most 256 characters (validated by the codecs). */
export type SeriesId = string;

/** Epoch milliseconds (UTC). */
export type EpochMs = number;

/** One observation as it arrives: `value: null` is an explicitly missing value. */
export interface Point {
  readonly series: SeriesId;
  readonly ts: EpochMs;
  readonly value: number | null;
}

export const MAX_SERIES_ID_LENGTH = 256;

/**
 * Largest magnitude a point's value may have. Real metrics stay far below (a uint64 counter is
 * 1.8e19); the bound leaves headroom so that what the pipeline computes from values (step sums,
 * differences, squared deviations in the normalizer, float32 model buffers, summed forecast
 * errors) stays finite: 1e308 is finite, but 1e308 − (−1e308) is Infinity.
 */
export const MAX_ABS_VALUE = 1e30;

/** A point's non-missing value: finite and within ±MAX_ABS_VALUE. */
export function isValidValue(v: number): boolean {
  return v >= -MAX_ABS_VALUE && v <= MAX_ABS_VALUE; // false for NaN, too
}
