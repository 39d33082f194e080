import { MAX_SERIES_ID_LENGTH } from '../domain/point.js';

/**
 * Why a series id is unusable, or `undefined` when it is fine: it must be non-empty and at most
 * MAX_SERIES_ID_LENGTH UTF-16 units (ids are label-like; longer ones are a producer bug and would
 * bloat every per-series structure).
 */
export function seriesIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'series id is empty';
  if (id.length > MAX_SERIES_ID_LENGTH) {
    return `series id has ${id.length} characters; at most ${MAX_SERIES_ID_LENGTH} are allowed`;
  }
  return undefined;
}
