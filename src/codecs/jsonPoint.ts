import type { DeadLetter, RecordSource } from '../domain/deadLetter.js';
import { isValidValue, MAX_ABS_VALUE, type Point } from '../domain/point.js';
import { deadLetter, MAX_DEAD_LETTERS_PER_RECORD } from './deadLetterOf.js';
import type { Decoded } from './decoded.js';
import { MAX_JSON_DEPTH, tooDeepAt, topLevelElementRanges } from './jsonNesting.js';
import { exceedsPayloadLimit, MAX_PAYLOAD_BYTES, stripBom, utf8OrUndefined } from './payloadText.js';
import { seriesIdProblem } from './seriesId.js';
import { isValidEpochMs, MAX_EPOCH_MS, parseTimestampText } from './timestamp.js';

/**
 * Decodes the `json` codec (DESIGN.md, "Input point"):
 * `{"series": "host-1.cpu", "ts": 1732251600000, "value": 0.53}`.
 *
 * - `series`: non-empty string of at most 256 characters; when absent (or `null`) the message
 *   key is used, and the key must then be valid too.
 * - `ts`: integer epoch ms in [0, 8.64e15], or an ISO-8601 string with a zone (`Z`, `±hh:mm`).
 * - `value`: a finite number within ±MAX_ABS_VALUE (1e30), or `null` for an explicitly missing
 *   value. Strings (even "0.5" or "NaN"), booleans, objects and larger magnitudes are
 *   `invalid_value`; an absent value is `missing_value`.
 * - A JSON array of such objects is one record carrying several points; each bad element becomes
 *   its own dead letter whose payload is that element's original text (never re-serialized).
 *   Past MAX_DEAD_LETTERS_PER_RECORD bad elements, the rest share one dead letter carrying the
 *   whole record, so that one record cannot flood the dead-letter topic.
 * - Payloads over 1 MiB are `too_large`, and nesting deeper than MAX_JSON_DEPTH (64) is
 *   `too_deep`; neither is parsed. So nothing here walks a deep tree: it cannot overflow the stack.
 * Unknown fields are ignored. Never throws.
 */
export function decodeJsonPoint(
  payload: Uint8Array | string,
  key: Uint8Array | string | null,
  source: RecordSource,
): Decoded {
  const out: Decoded = { points: [], deadLetters: [] };
  if (exceedsPayloadLimit(payload)) {
    out.deadLetters.push(
      deadLetter('too_large', `payload exceeds ${MAX_PAYLOAD_BYTES} bytes; split it into smaller records`, source, payload),
    );
    return out;
  }
  const text = typeof payload === 'string' ? payload : utf8OrUndefined(payload);
  if (text === undefined) {
    out.deadLetters.push(deadLetter('invalid_json', 'payload is not valid UTF-8', source, payload));
    return out;
  }
  const json = stripBom(text);
  const deepAt = tooDeepAt(json);
  if (deepAt >= 0) {
    out.deadLetters.push(
      deadLetter('too_deep', `payload nests arrays/objects deeper than ${MAX_JSON_DEPTH} levels (at character ${deepAt}); send flat points`, source, payload),
    );
    return out;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    // JSON.parse reports bad syntax with a SyntaxError; its message is all we use of it.
    const detail = err instanceof Error ? err.message : 'unparsable';
    const hint = text.trim() === '' ? 'payload is empty' : `payload is not valid JSON: ${detail}`;
    out.deadLetters.push(deadLetter('invalid_json', hint, source, payload));
    return out;
  }
  const keyValue = typeof key === 'string' || key === null ? key : utf8OrUndefined(key);
  if (Array.isArray(doc)) {
    if (doc.length === 0) {
      out.deadLetters.push(deadLetter('not_an_object', 'payload is an empty array; it holds no points', source, payload));
      return out;
    }
    // Computed on the first bad element only: well-formed records never pay for it.
    let ranges: Array<[number, number]> | undefined;
    let bad = 0;
    let unlisted: { first: number; problem: Problem; count: number } | undefined;
    for (let i = 0; i < doc.length; i++) {
      const element: unknown = doc[i];
      const problem = decodeObject(element, keyValue, key !== null, out.points);
      if (problem === undefined) continue;
      if (++bad > MAX_DEAD_LETTERS_PER_RECORD) {
        if (unlisted === undefined) unlisted = { first: i, problem, count: 0 };
        unlisted.count++;
        continue;
      }
      ranges ??= topLevelElementRanges(json);
      const r = ranges[i];
      // The ranges match the parsed elements for any text JSON.parse accepted; the whole record
      // stands in should they not, so that nothing is lost either way.
      const elementText = r !== undefined && ranges.length === doc.length ? json.slice(r[0], r[1]) : payload;
      out.deadLetters.push(deadLetter(problem.reason, `element ${i}: ${problem.message}`, source, elementText));
    }
    if (unlisted !== undefined) {
      const { first, problem, count } = unlisted;
      out.deadLetters.push(
        deadLetter(
          problem.reason,
          `${count} more bad elements from element ${first} on (only the first ${MAX_DEAD_LETTERS_PER_RECORD} get a dead letter each; the payload is the whole record); element ${first}: ${problem.message}`,
          source,
          payload,
        ),
      );
    }
    return out;
  }
  const problem = decodeObject(doc, keyValue, key !== null, out.points);
  if (problem !== undefined) out.deadLetters.push(deadLetter(problem.reason, problem.message, source, payload));
  return out;
}

interface Problem {
  reason: DeadLetter['reason'];
  message: string;
}

function decodeObject(
  doc: unknown,
  key: string | null | undefined,
  hadKey: boolean,
  points: Point[],
): Problem | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { reason: 'not_an_object', message: `expected an object like {"series":…,"ts":…,"value":…}, got ${kindOf(doc)}` };
  }
  const obj = doc as Record<string, unknown>;

  const rawSeries = Object.hasOwn(obj, 'series') ? obj['series'] : undefined;
  let series: string;
  if (rawSeries === undefined || rawSeries === null) {
    if (key === undefined && hadKey) return { reason: 'invalid_series', message: 'no "series" field and the message key is not valid UTF-8' };
    if (key === null || key === undefined) return { reason: 'missing_series', message: 'no "series" field and no message key; add "series"' };
    const p = seriesIdProblem(key);
    if (p !== undefined) return { reason: 'invalid_series', message: `no "series" field and the message key is unusable: ${p}` };
    series = key;
  } else if (typeof rawSeries !== 'string') {
    return { reason: 'invalid_series', message: `"series" must be a string, got ${kindOf(rawSeries)}` };
  } else {
    const p = seriesIdProblem(rawSeries);
    if (p !== undefined) return { reason: 'invalid_series', message: p };
    series = rawSeries;
  }

  if (!Object.hasOwn(obj, 'ts') || obj['ts'] === undefined || obj['ts'] === null) {
    return { reason: 'missing_ts', message: 'no "ts" field; add epoch milliseconds or an ISO-8601 string with a zone' };
  }
  const rawTs = obj['ts'];
  let ts: number;
  if (typeof rawTs === 'number') {
    if (!isValidEpochMs(rawTs)) {
      return { reason: 'invalid_ts', message: `"ts" ${rawTs} is not integer epoch milliseconds in [0, ${MAX_EPOCH_MS}]` };
    }
    ts = rawTs + 0; // folds -0 into 0
  } else if (typeof rawTs === 'string') {
    const parsed = parseTimestampText(rawTs, 'reject');
    if (parsed === 'no_zone') {
      return { reason: 'invalid_ts', message: `"ts" ${JSON.stringify(clip(rawTs))} has no time zone; add one, e.g. "Z" or "+01:00"` };
    }
    if (parsed === 'range') return { reason: 'invalid_ts', message: `"ts" ${JSON.stringify(clip(rawTs))} is before 1970 or beyond year 275760` };
    if (parsed === 'syntax') {
      return { reason: 'invalid_ts', message: `"ts" ${JSON.stringify(clip(rawTs))} is not ISO-8601 (e.g. "2024-11-22T05:00:00Z") nor epoch milliseconds` };
    }
    ts = parsed;
  } else {
    return { reason: 'invalid_ts', message: `"ts" must be epoch milliseconds or an ISO-8601 string, got ${kindOf(rawTs)}` };
  }

  if (!Object.hasOwn(obj, 'value') || obj['value'] === undefined) {
    return { reason: 'missing_value', message: 'no "value" field; send a number, or null for an explicitly missing value' };
  }
  const rawValue = obj['value'];
  if (rawValue === null) {
    points.push({ series, ts, value: null });
    return undefined;
  }
  if (typeof rawValue !== 'number' || !Number.isFinite(rawValue)) {
    return { reason: 'invalid_value', message: `"value" must be a finite number or null, got ${kindOf(rawValue)}` };
  }
  if (!isValidValue(rawValue)) {
    return { reason: 'invalid_value', message: `"value" ${rawValue} is beyond ±${MAX_ABS_VALUE}; rescale it (e.g. send a smaller unit)` };
  }
  // -0 would print as 0 but compare oddly in Object.is-based dedup; normalise it.
  points.push({ series, ts, value: rawValue === 0 ? 0 : rawValue });
  return undefined;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(clip(v))}`;
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : `the non-finite number ${v}`;
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}
