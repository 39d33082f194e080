/**
 * Timestamp text and range rules shared by the codecs and the file readers. Hand-written rather
 * than a regex or `Date.parse`: replay parses millions of timestamps, and `Date.parse` both
 * accepts too much (locale formats) and maps years 0–99 to 1900–1999.
 */

/** Largest timestamp accepted (the ECMAScript Date range): anything beyond is a producer bug. */
export const MAX_EPOCH_MS = 8.64e15;

/** A point's timestamp: a finite integer in [0, MAX_EPOCH_MS]. */
export function isValidEpochMs(ts: number): boolean {
  return Number.isInteger(ts) && ts >= 0 && ts <= MAX_EPOCH_MS;
}

/** Why a timestamp string was refused: not a timestamp, no zone where one is required, or out of range. */
export type TimestampProblem = 'syntax' | 'no_zone' | 'range';

/**
 * Parses `YYYY-MM-DD`, `YYYY-MM-DD[T| ]HH:MM[:SS[.fff…]]`, also with `/` as the date separator,
 * followed by an optional zone `Z`, `±HH:MM`, `±HHMM` or `±HH`. Fractions beyond milliseconds
 * are truncated. Without a zone: `zoneless: 'utc'` reads the time as UTC, `'reject'` answers
 * `'no_zone'`. Surrounding spaces are ignored. Returns epoch ms or the problem; never throws.
 */
export function parseTimestampText(text: string, zoneless: 'utc' | 'reject'): number | TimestampProblem {
  let i = 0;
  let end = text.length;
  while (i < end && text.charCodeAt(i) === 32) i++;
  while (end > i && text.charCodeAt(end - 1) === 32) end--;
  if (end - i < 10) return 'syntax';

  const year = digits(text, i, 4);
  const sep = text.charCodeAt(i + 4);
  if (year < 0 || (sep !== 45 /* - */ && sep !== 47) /* / */) return 'syntax';
  const month = digits(text, i + 5, 2);
  if (month < 1 || month > 12 || text.charCodeAt(i + 7) !== sep) return 'syntax';
  const day = digits(text, i + 8, 2);
  if (day < 1 || day > daysInMonth(year, month)) return 'syntax';
  i += 10;

  let hour = 0;
  let minute = 0;
  let second = 0;
  let ms = 0;
  if (i < end) {
    const c = text.charCodeAt(i);
    if (c === 84 /* T */ || c === 116 /* t */ || c === 32) {
      i++;
      while (c === 32 && i < end && text.charCodeAt(i) === 32) i++;
      hour = digits(text, i, 2);
      if (hour < 0 || hour > 23 || text.charCodeAt(i + 2) !== 58 /* : */) return 'syntax';
      minute = digits(text, i + 3, 2);
      if (minute < 0 || minute > 59) return 'syntax';
      i += 5;
      if (i < end && text.charCodeAt(i) === 58) {
        second = digits(text, i + 1, 2);
        if (second < 0 || second > 59) return 'syntax';
        i += 3;
        const f = text.charCodeAt(i);
        if (i < end && (f === 46 /* . */ || f === 44) /* , */) {
          i++;
          let n = 0;
          let scale = 100;
          while (i < end) {
            const d = text.charCodeAt(i) - 48;
            if (d < 0 || d > 9) break;
            ms += d * scale;
            scale /= 10;
            i++;
            n++;
          }
          if (n === 0) return 'syntax';
          ms = Math.floor(ms);
        }
      }
    }
  }

  let offsetMin = 0;
  let zoned = false;
  if (i < end) {
    // Tolerate one space before the zone ("2015-01-01 00:00:00 +01:00").
    if (text.charCodeAt(i) === 32 && i + 1 < end) i++;
    const z = text.charCodeAt(i);
    if ((z === 90 /* Z */ || z === 122) /* z */ && i + 1 === end) {
      zoned = true;
    } else if (z === 43 /* + */ || z === 45 /* - */) {
      const oh = digits(text, i + 1, 2);
      let om = 0;
      const rest = end - (i + 3);
      if (rest === 3 && text.charCodeAt(i + 3) === 58) om = digits(text, i + 4, 2);
      else if (rest === 2) om = digits(text, i + 3, 2);
      else if (rest !== 0) return 'syntax';
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return 'syntax';
      offsetMin = (z === 45 ? -1 : 1) * (oh * 60 + om);
      zoned = true;
    } else {
      return 'syntax';
    }
  }
  if (!zoned && zoneless === 'reject') return 'no_zone';

  const ts =
    daysFromCivil(year, month, day) * 86_400_000 +
    hour * 3_600_000 +
    minute * 60_000 +
    second * 1000 +
    ms -
    offsetMin * 60_000;
  return isValidEpochMs(ts) ? ts : 'range';
}

/** Reads `n` ASCII digits at `at` as an integer, or -1 when any is not a digit. */
function digits(text: string, at: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const d = text.charCodeAt(at + k) - 48;
    if (!(d >= 0 && d <= 9)) return -1;
    v = v * 10 + d;
  }
  return v;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}
