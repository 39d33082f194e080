/**
 * A many-short-hourly-series data set of the M4 hourly kind (414 series of 700–960 values +
 * 48 held out), made from the real data in ../shared/datasets (nothing downloaded), for the
 * fixed-origin protocol (`backtest --origin end --horizon 48`, bench/fixedOrigin.ts).
 *
 * Sources, each cut from its first complete hour into consecutive, non-overlapping pieces of alternately
 * 960 + 48 and 700 + 48 hours (the two lengths of M4 hourly):
 *   - ETTh1, all 7 columns (hourly as published);
 *   - NAB nyc_taxi (30-minute passenger counts, summed per hour: both half-hours needed);
 *   - NAB realTweets, 10 tickers (5-minute counts, summed per hour: all 12 needed);
 *   - NAB ambient_temperature (hourly, gapped: a missing hour stays missing);
 *   - NAB machine_temperature and cpu_utilization (5-minute sensors, averaged per hour: all 12 needed).
 * A piece must have every one of its hours present and every value > 0, as in M4 (whose series
 * are complete and positive: sMAPE and Naive2's multiplicative decomposition assume it): where
 * one does not, the next piece starts after its last missing or non-positive hour. Timestamps are the real ones (UTC), so each series keeps its own calendar and the
 * pieces of one source follow each other in time; the CSV is in the long layout
 * (series,ts,value), sorted by time, as the replay source reads it.
 *
 * Deterministic: the same shared files give the same bytes. Written under .cache/ (not committed);
 * regenerated only when missing (`--force` rewrites it).
 *
 *   npx tsx bench/hourlyShortSet.ts [--force]     writes .cache/hourly-short/hourly-short.csv
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const shared = resolve(root, '..', 'shared', 'datasets');
export const HOURLY_SHORT_CSV = join(root, '.cache', 'hourly-short', 'hourly-short.csv');

const HOUR = 3_600_000;
const HELD_OUT = 48;
/** History lengths, alternated along each source (M4 hourly has these two). */
const HISTORIES = [960, 700] as const;

interface Hourly {
  readonly name: string;
  /** Start of the first hour (ms). */
  readonly start: number;
  /** One value per hour from `start`; NaN where the hour is missing or incomplete. */
  readonly values: Float64Array;
}

function parseTs(s: string): number {
  return Date.parse(`${s.trim().replace(' ', 'T')}Z`);
}

/** Sums (or averages) the points of each hour; an hour with fewer than `need` points is missing. */
function toHourly(name: string, rows: readonly (readonly [number, number])[], how: 'sum' | 'mean', need: number): Hourly {
  const first = Math.floor(rows[0]![0] / HOUR) * HOUR;
  const last = Math.floor(rows[rows.length - 1]![0] / HOUR) * HOUR;
  const n = (last - first) / HOUR + 1;
  const sum = new Float64Array(n);
  const count = new Float64Array(n);
  for (const [ts, v] of rows) {
    const i = (Math.floor(ts / HOUR) * HOUR - first) / HOUR;
    sum[i]! += v;
    count[i]!++;
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = count[i]! >= need ? (how === 'sum' ? sum[i]! : sum[i]! / count[i]!) : Number.NaN;
  return { name, start: first, values };
}

function readNab(path: string): [number, number][] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [ts, v] = l.split(',');
      return [parseTs(ts!), Number(v)] as [number, number];
    });
}

function sources(): Hourly[] {
  const out: Hourly[] = [];
  const ett = join(shared, 'ett', 'ETTh1.csv');
  if (existsSync(ett)) {
    const lines = readFileSync(ett, 'utf8').trim().split('\n');
    const header = lines[0]!.split(',');
    const rows = lines.slice(1).map((l) => l.split(','));
    for (let c = 1; c < header.length; c++) {
      out.push(toHourly(`etth1-${header[c]}`, rows.map((r) => [parseTs(r[0]!), Number(r[c])] as const), 'mean', 1));
    }
  }
  const taxi = join(shared, 'nab', 'realKnownCause', 'nyc_taxi.csv');
  if (existsSync(taxi)) out.push(toHourly('nyc_taxi', readNab(taxi), 'sum', 2));
  const tweets = join(shared, 'nab', 'realTweets');
  if (existsSync(tweets)) {
    for (const f of readdirSync(tweets).filter((x) => x.endsWith('.csv')).sort()) {
      out.push(toHourly(`tweets-${f.replace(/^Twitter_volume_/, '').replace(/\.csv$/, '')}`, readNab(join(tweets, f)), 'sum', 12));
    }
  }
  const ambient = join(shared, 'nab', 'realKnownCause', 'ambient_temperature_system_failure.csv');
  if (existsSync(ambient)) out.push(toHourly('ambient_temperature', readNab(ambient), 'mean', 1));
  // Two more 5-minute NAB sensors, averaged per hour (all 12 needed): a few more long-enough series.
  for (const f of ['machine_temperature_system_failure', 'cpu_utilization_asg_misconfiguration']) {
    const path = join(shared, 'nab', 'realKnownCause', `${f}.csv`);
    if (existsSync(path)) out.push(toHourly(f.split('_').slice(0, 2).join('_'), readNab(path), 'mean', 12));
  }
  return out;
}

export interface HourlyShortPiece {
  readonly series: string;
  readonly source: string;
  readonly history: number;
  readonly start: number;
  readonly values: Float64Array;
}

/** The pieces of every source, in order (see the file's comment for the rules). */
export function hourlyShortPieces(): HourlyShortPiece[] {
  const pieces: HourlyShortPiece[] = [];
  for (const src of sources()) {
    // From the first complete hour (a file rarely starts on the hour).
    let at = Math.max(0, src.values.findIndex((v) => Number.isFinite(v)));
    for (let k = 0; ; ) {
      const history = HISTORIES[k % HISTORIES.length]!;
      const len = history + HELD_OUT;
      if (at + len > src.values.length) break;
      const values = src.values.slice(at, at + len);
      let bad = -1;
      values.forEach((v, i) => {
        if (!(Number.isFinite(v) && v > 0)) bad = i;
      });
      if (bad >= 0) {
        // The next piece starts after the last missing or non-positive hour of this one.
        at += bad + 1;
        continue;
      }
      pieces.push({ series: `${src.name}-${String(k).padStart(2, '0')}`, source: src.name, history, start: src.start + at * HOUR, values });
      at += len;
      k++;
    }
  }
  return pieces;
}

/** Writes the set when missing (or with `force`); returns its path, or undefined when no shared data set is there. */
export function ensureHourlyShortSet(force = false): string | undefined {
  if (!force && existsSync(HOURLY_SHORT_CSV)) return HOURLY_SHORT_CSV;
  const pieces = hourlyShortPieces();
  if (pieces.length === 0) return undefined;
  const rows: [number, string, number][] = [];
  for (const p of pieces) p.values.forEach((v, i) => rows.push([p.start + i * HOUR, p.series, v]));
  rows.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const text = `series,ts,value\n${rows.map(([ts, s, v]) => `${s},${new Date(ts).toISOString()},${Number(v.toPrecision(10))}`).join('\n')}\n`;
  mkdirSync(dirname(HOURLY_SHORT_CSV), { recursive: true });
  // Written whole, then renamed: a half-written set is never taken for a finished one.
  writeFileSync(`${HOURLY_SHORT_CSV}.tmp`, text);
  renameSync(`${HOURLY_SHORT_CSV}.tmp`, HOURLY_SHORT_CSV);
  return HOURLY_SHORT_CSV;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const path = ensureHourlyShortSet(process.argv.includes('--force'));
  if (path === undefined) {
    process.stderr.write(`no shared data set under ${shared}; nothing written\n`);
    process.exit(1);
  }
  const pieces = hourlyShortPieces();
  const bySource = new Map<string, { n700: number; n960: number }>();
  for (const p of pieces) {
    const s = bySource.get(p.source) ?? { n700: 0, n960: 0 };
    if (p.history === 700) s.n700++;
    else s.n960++;
    bySource.set(p.source, s);
  }
  process.stdout.write(`${path}: ${pieces.length} series (${pieces.filter((p) => p.history === 700).length} with 700 history values, ${pieces.filter((p) => p.history === 960).length} with 960), ${HELD_OUT} held out each\n`);
  for (const [src, s] of bySource) process.stdout.write(`  ${src}: ${s.n960} × 960, ${s.n700} × 700\n`);
}
