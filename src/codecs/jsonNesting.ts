/**
 * Linear scans of JSON text that need no parse tree, so that a hostile record cannot make the
 * decoder recurse: `[[[[…]]]]` 5,000 deep parses (V8's JSON.parse is iterative) but overflows the
 * stack of anything that walks the result recursively (JSON.stringify did, in the dead letter).
 */

/**
 * Deepest nesting of arrays and objects a `json` record may have. A point is depth 1, an array
 * of points depth 2; 64 leaves room for nested unknown fields, which are ignored anyway.
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
const COMMA = 44;

/**
 * The index of the first bracket that opens nesting level MAX_JSON_DEPTH + 1, outside strings,
 * or -1 when the text never nests that deep. Does not validate JSON (JSON.parse does, after):
 * a text too short to be a valid document that deep (2 × 65 characters: each level opens and
 * closes) is not scanned, as JSON.parse rejects it anyway.
 */
export function tooDeepAt(text: string): number {
  // The common record is short. A longer one needs more than MAX_JSON_DEPTH opening brackets
  // to nest that deep: counted first with indexOf (vectorised), before the char-by-char walk.
  if (text.length < 2 * (MAX_JSON_DEPTH + 1) || openingsUpTo(text, MAX_JSON_DEPTH + 1) <= MAX_JSON_DEPTH) return -1;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > MAX_JSON_DEPTH) return i;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return -1;
}

/** How many `[` and `{` the text holds, counting no further than `limit`. */
function openingsUpTo(text: string, limit: number): number {
  let n = 0;
  for (let i = text.indexOf('['); i >= 0 && n < limit; i = text.indexOf('[', i + 1)) n++;
  for (let i = text.indexOf('{'); i >= 0 && n < limit; i = text.indexOf('{', i + 1)) n++;
  return n;
}

/**
 * The [start, end) character ranges of the elements of a top-level JSON array, without the
 * whitespace around them, in order: what a dead letter of one element keeps, the element's
 * original text. Meant for text JSON.parse accepted as an array; anything else yields whatever
 * ranges the brackets and commas outside strings delimit (never throws).
 */
export function topLevelElementRanges(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  let end = -1; // one past the last non-whitespace character of the current element
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      end = i + 1;
      continue;
    }
    if (depth === 1 && (c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT)) {
      if (start >= 0) out.push([start, end]);
      start = -1;
      if (c !== COMMA) depth--;
      continue;
    }
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    if (depth === 1 && start < 0) start = i;
    end = i + 1;
    if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
    else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return out;
}
