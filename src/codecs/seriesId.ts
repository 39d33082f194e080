import { MAX_SERIES_ID_LENGTH } from '../domain/point.js';

// C0 and C1 controls, DEL, and every surrogate (pairs are re-checked one by one below).
const SUSPECT = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff]/;

/**
 * Why a series id is unusable, or `undefined` when it is fine: it must be non-empty and at most
 * MAX_SERIES_ID_LENGTH UTF-16 units (ids are label-like; longer ones are a producer bug and would
 * bloat every per-series structure), and hold no control character (U+0000–U+001F,
 * U+007F–U+009F) nor lone surrogate: ids become Kafka keys, log fields, Influx tags and URL path
 * segments, where those either break the line or cannot be encoded as UTF-8 at all.
 */
export function seriesIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'series id is empty';
  if (id.length > MAX_SERIES_ID_LENGTH) {
    return `series id has ${id.length} characters; at most ${MAX_SERIES_ID_LENGTH} are allowed`;
  }
  // One compiled scan on the hot path; the detailed walk only for the rare id it flags.
  if (!SUSPECT.test(id)) return undefined;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return `series id has the control character ${codePoint(c)} at index ${i}; remove it`;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = id.charCodeAt(i + 1); // NaN past the end
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return `series id has a lone surrogate ${codePoint(c)} at index ${i} (not valid Unicode text)`;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return `series id has a lone surrogate ${codePoint(c)} at index ${i} (not valid Unicode text)`;
  }
  return undefined;
}

function codePoint(c: number): string {
  return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}
