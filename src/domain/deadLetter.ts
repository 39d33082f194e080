/** Why a record could not become a point. Stable codes: dashboards and alerts key on them. */
export const DEAD_LETTER_REASONS = [
  'invalid_json',
  'invalid_line_protocol',
  'invalid_csv',
  'not_an_object',
  'missing_series',
  'invalid_series',
  'missing_ts',
  'invalid_ts',
  'missing_value',
  'invalid_value',
  'future_timestamp',
  'late',
  'too_large',
  /** JSON nested deeper than MAX_JSON_DEPTH (src/codecs/jsonNesting.ts); not parsed. */
  'too_deep',
  /** A record whose decoding or processing threw: a streamcast bug, kept rather than crash on it. */
  'internal_error',
] as const;

export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** Where a record came from; `offset` is a string because Kafka offsets exceed 2^53. */
export interface RecordSource {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
}

/** The dead-letter message of DESIGN.md. */
export interface DeadLetter {
  readonly reason: DeadLetterReason;
  readonly message: string;
  readonly source: RecordSource;
  readonly payload: string;
  readonly encoding?: 'base64';
}
