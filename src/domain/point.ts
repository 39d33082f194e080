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
