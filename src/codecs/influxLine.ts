/*
 * InfluxDB line protocol codec (`influx-line`), what Telegraf and many agents emit:
 *
 *   measurement[,tag=value...] field=value[,field2=value2...] [timestamp]
 *
 * Series id rule (stable: state, dashboards and forecasts are keyed by it):
 *
 *   <measurement>[,<tagKey>=<tagValue>...]#<fieldKey>
 *
 * - one series per measurement + tag set + numeric field;
 * - tags sorted by key (UTF-16 code-unit order, as `Array.prototype.sort`), whatever their order
 *   on the line, so `cpu,host=a,cpu=0` and `cpu,cpu=0,host=a` are the same series;
 * - every part is written in its line-protocol escaped form: the measurement escapes `,` and
 *   space; tag keys, tag values and field keys escape `,`, `=` and space, each with a backslash.
 *   The field key additionally escapes `#`, so the last unescaped `#` always starts the field;
 * - examples: `cpu,cpu=cpu0,host=web-1#usage_user`, and without tags `cpu#usage_user`.
 *
 * Field values: floats (`1.5`, `-2e3`), integers (`12i`) and unsigned integers (`12u`) become
 * points. Booleans (`t`, `true`, `F`, …) and strings (`"…"`) are ignored: they are not time
 * series we can forecast. A line with no numeric field is dead-lettered `invalid_line_protocol`.
 * Timestamps are integers in the given precision (ns by default, as Influx writes them); a line
 * without one takes the fallback timestamp (the Kafka record timestamp) or is dead-lettered
 * `missing_ts`. Empty lines and `#` comment lines are skipped. Each bad line is its own dead
 * letter (past 100 bad lines, the rest share one carrying the whole record); good lines of the
 * same record still produce points. Values beyond ±1e30 are `invalid_value`. Never throws.
 */
import type { DeadLetter, DeadLetterReason, RecordSource } from '../domain/deadLetter.js';
import { isValidValue, MAX_ABS_VALUE, type Point } from '../domain/point.js';
import { deadLetter, MAX_DEAD_LETTERS_PER_RECORD } from './deadLetterOf.js';
import type { Decoded } from './decoded.js';
import { exceedsPayloadLimit, MAX_PAYLOAD_BYTES, stripBom, utf8OrUndefined } from './payloadText.js';
import { seriesIdProblem } from './seriesId.js';
import { isValidEpochMs } from './timestamp.js';

export type InfluxPrecision = 'ns' | 'us' | 'ms' | 's';

export interface InfluxLineOptions {
  /** Unit of the line timestamps; `ns` (Influx's default) unless told. */
  precision?: InfluxPrecision;
  /** Epoch ms used for lines without a timestamp, e.g. the Kafka record timestamp. */
  fallbackTs?: number;
}

/** The series id of one measurement + tag set + field; see the rule at the top of this file. */
export function influxSeriesId(
  measurement: string,
  tags: readonly (readonly [string, string])[] | Readonly<Record<string, string>>,
  field: string,
): string {
  const pairs: (readonly [string, string])[] = Array.isArray(tags)
    ? [...(tags as readonly (readonly [string, string])[])]
    : Object.entries(tags as Readonly<Record<string, string>>);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let id = escape(measurement, MEASUREMENT_SPECIALS);
  for (const [k, v] of pairs) id += `,${escape(k, KEY_SPECIALS)}=${escape(v, KEY_SPECIALS)}`;
  return `${id}#${escape(field, FIELD_ID_SPECIALS)}`;
}

export function decodeInfluxLine(
  payload: Uint8Array | string,
  key: Uint8Array | string | null,
  source: RecordSource,
  opts: InfluxLineOptions = {},
): Decoded {
  void key; // the series comes from the line itself
  const out: Decoded = { points: [], deadLetters: [] };
  if (exceedsPayloadLimit(payload)) {
    out.deadLetters.push(
      deadLetter('too_large', `payload exceeds ${MAX_PAYLOAD_BYTES} bytes; send fewer lines per record`, source, payload),
    );
    return out;
  }
  const raw = typeof payload === 'string' ? payload : utf8OrUndefined(payload);
  if (raw === undefined) {
    out.deadLetters.push(deadLetter('invalid_line_protocol', 'payload is not valid UTF-8', source, payload));
    return out;
  }
  const text = stripBom(raw);
  const precision = opts.precision ?? 'ns';
  const fallback = opts.fallbackTs !== undefined && isValidEpochMs(opts.fallbackTs) ? opts.fallbackTs : undefined;

  let lines = 0;
  let bad = 0;
  let unlisted: { lineNo: number; problem: Problem; count: number } | undefined;
  let start = 0;
  let lineNo = 0;
  while (start <= text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    lineNo++;
    let end = nl;
    if (end > start && text.charCodeAt(end - 1) === 13 /* \r */) end--;
    const line = text.slice(start, end);
    start = nl + 1;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.charCodeAt(0) === 35 /* # */) continue;
    lines++;
    const problem = decodeLine(trimmed, precision, fallback, out.points);
    if (problem === undefined) continue;
    if (++bad > MAX_DEAD_LETTERS_PER_RECORD) {
      if (unlisted === undefined) unlisted = { lineNo, problem, count: 0 };
      unlisted.count++;
      continue;
    }
    out.deadLetters.push(deadLetter(problem.reason, `line ${lineNo}: ${problem.message}`, source, line));
  }
  if (unlisted !== undefined) {
    // One record cannot flood the dead-letter topic: past the cap, one letter keeps the record.
    const { lineNo: first, problem, count } = unlisted;
    out.deadLetters.push(
      deadLetter(
        problem.reason,
        `${count} more bad lines from line ${first} on (only the first ${MAX_DEAD_LETTERS_PER_RECORD} get a dead letter each; the payload is the whole record); line ${first}: ${problem.message}`,
        source,
        payload,
      ),
    );
  }
  if (lines === 0) {
    out.deadLetters.push(deadLetter('invalid_line_protocol', 'payload holds no line-protocol lines', source, payload));
  }
  return out;
}

interface Problem {
  reason: DeadLetterReason;
  message: string;
}

const MEASUREMENT_SPECIALS = ', ';
const KEY_SPECIALS = ',= ';
const FIELD_ID_SPECIALS = ',= #';

function escape(s: string, specials: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    if (specials.includes(s[i] as string)) {
      out += `${s.slice(from, i)}\\${s[i] as string}`;
      from = i + 1;
    }
  }
  return from === 0 ? s : out + s.slice(from);
}

const BOOLEANS = new Set(['t', 'T', 'true', 'True', 'TRUE', 'f', 'F', 'false', 'False', 'FALSE']);

/** Cursor over one line; `i` advances as tokens are read. */
interface Cursor {
  readonly s: string;
  i: number;
}

/**
 * Reads an identifier up to an unescaped stop character. A backslash before one of `escapable`
 * yields that character; before anything else it is a literal backslash (as in Influx).
 */
function readToken(c: Cursor, stops: string, escapable: string): string {
  const s = c.s;
  let out = '';
  let from = c.i;
  while (c.i < s.length) {
    const ch = s[c.i] as string;
    if (ch === '\\' && c.i + 1 < s.length && escapable.includes(s[c.i + 1] as string)) {
      out += s.slice(from, c.i);
      from = c.i + 1; // keep the escaped character
      c.i += 2;
      continue;
    }
    if (stops.includes(ch)) break;
    c.i++;
  }
  return out + s.slice(from, c.i);
}

function decodeLine(
  line: string,
  precision: InfluxPrecision,
  fallback: number | undefined,
  points: Point[],
): Problem | undefined {
  const bad = (message: string): Problem => ({ reason: 'invalid_line_protocol', message });
  const c: Cursor = { s: line, i: 0 };

  const measurement = readToken(c, ', ', ', ');
  if (measurement === '') return bad('measurement name is empty');

  const tags: [string, string][] = [];
  while (line[c.i] === ',') {
    c.i++;
    const k = readToken(c, '=, ', ',= ');
    if (line[c.i] !== '=' || k === '') return bad(`tag ${JSON.stringify(k)} has no "=value"`);
    c.i++;
    const v = readToken(c, ', ', ',= ');
    if (v === '') return bad(`tag ${JSON.stringify(k)} has an empty value`);
    tags.push([k, v]);
  }
  if (line[c.i] !== ' ') return bad('expected a space and then fields, e.g. "cpu,host=a usage=0.5"');
  while (line[c.i] === ' ') c.i++;

  const numeric: [string, number][] = [];
  let fieldCount = 0;
  for (;;) {
    const k = readToken(c, '=, ', ',= ');
    if (line[c.i] !== '=' || k === '') return bad(`field ${JSON.stringify(k)} has no "=value"`);
    c.i++;
    fieldCount++;
    if (line[c.i] === '"') {
      c.i++;
      let closed = false;
      while (c.i < line.length) {
        const ch = line[c.i];
        if (ch === '\\') c.i += 2;
        else if (ch === '"') {
          closed = true;
          c.i++;
          break;
        } else c.i++;
      }
      if (!closed) return bad(`string field ${JSON.stringify(k)} has no closing quote`);
    } else {
      const from = c.i;
      while (c.i < line.length && line[c.i] !== ',' && line[c.i] !== ' ') c.i++;
      const token = line.slice(from, c.i);
      const value = numericField(token);
      if (value === undefined) {
        if (!BOOLEANS.has(token)) return bad(`field ${JSON.stringify(k)} has an invalid value ${JSON.stringify(token)}`);
      } else if (!isValidValue(value)) {
        return { reason: 'invalid_value', message: `field ${JSON.stringify(k)} value ${token} is beyond ±${MAX_ABS_VALUE}; rescale it` };
      } else {
        numeric.push([k, value]);
      }
    }
    if (line[c.i] === ',') {
      c.i++;
      continue;
    }
    break;
  }
  if (c.i < line.length && line[c.i] !== ' ') return bad(`unexpected ${JSON.stringify(line[c.i])} after the fields`);
  while (line[c.i] === ' ') c.i++;

  let ts: number;
  if (c.i >= line.length) {
    if (fallback === undefined) {
      return { reason: 'missing_ts', message: 'line has no timestamp and the record has none to fall back on' };
    }
    ts = fallback;
  } else {
    const t = timestampMs(line.slice(c.i), precision);
    if (typeof t === 'string') return t === 'syntax' ? bad(`timestamp ${JSON.stringify(line.slice(c.i))} is not an integer`) : { reason: 'invalid_ts', message: `timestamp ${line.slice(c.i)} (${precision}) is before 1970 or absurdly far in the future; check the precision` };
    ts = t;
  }

  if (numeric.length === 0) {
    return bad(`no numeric field among ${fieldCount}; boolean and string fields are ignored`);
  }
  // Validate every id first so that a line is either wholly accepted or wholly dead-lettered.
  const ids: string[] = [];
  for (const [field] of numeric) {
    const id = influxSeriesId(measurement, tags, field);
    const p = seriesIdProblem(id);
    if (p !== undefined) return { reason: 'invalid_series', message: p };
    ids.push(id);
  }
  for (let n = 0; n < numeric.length; n++) {
    points.push({ series: ids[n] as string, ts, value: (numeric[n] as [string, number])[1] });
  }
  return undefined;
}

/** The number a numeric field holds, or undefined when the token is not numeric. */
function numericField(token: string): number | undefined {
  const n = token.length;
  if (n === 0) return undefined;
  const last = token.charCodeAt(n - 1);
  if (last === 105 /* i */ || last === 117 /* u */) {
    const body = token.slice(0, n - 1);
    const signed = last === 105 && body.charCodeAt(0) === 45;
    if (!isDigits(body, signed ? 1 : 0)) return undefined;
    const v = Number(body);
    return Number.isFinite(v) ? v + 0 : undefined;
  }
  for (let i = 0; i < n; i++) {
    const ch = token.charCodeAt(i);
    // digits . e E + -  — excludes hex, Infinity, NaN and the other forms Number() accepts.
    if (!((ch >= 48 && ch <= 57) || ch === 46 || ch === 101 || ch === 69 || ch === 43 || ch === 45)) return undefined;
  }
  const v = Number(token);
  return Number.isFinite(v) ? v + 0 : undefined;
}

function isDigits(s: string, from: number): boolean {
  if (s.length <= from) return false;
  for (let i = from; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch < 48 || ch > 57) return false;
  }
  return true;
}

/**
 * Converts an integer timestamp string to epoch ms by cutting digits rather than dividing, since
 * nanosecond timestamps exceed 2^53 and would round.
 */
function timestampMs(token: string, precision: InfluxPrecision): number | 'syntax' | 'range' {
  const negative = token.charCodeAt(0) === 45;
  if (!isDigits(token, negative ? 1 : 0)) return 'syntax';
  if (negative) return 'range';
  const cut = precision === 'ns' ? 6 : precision === 'us' ? 3 : 0;
  const msText = cut === 0 ? token : token.slice(0, Math.max(0, token.length - cut));
  const ms = msText === '' ? 0 : Number(msText) * (precision === 's' ? 1000 : 1);
  return isValidEpochMs(ms) ? ms : 'range';
}

export type { DeadLetter };
