import type { SeriesId } from '../../domain/point.js';
import type { CsvOptions } from './csvFile.js';
import { MergeByTime } from './mergeByTime.js';
import { cursorOf, readInputText, type FileFormat } from './readSeriesFile.js';

/** What a backtest checks before it starts: each series' time span and typical spacing. */
export interface SeriesProfile {
  readonly firstTs: number;
  readonly lastTs: number;
  readonly points: number;
  /** Median gap between consecutive distinct timestamps (ms); undefined with fewer than two. */
  readonly medianSpacingMs: number | undefined;
}

export interface InputProfile {
  readonly series: ReadonlyMap<SeriesId, SeriesProfile>;
  readonly firstTs: number | undefined;
  readonly lastTs: number | undefined;
}

/** Gaps sampled per series for the median: plenty for a robust figure, bounded memory. */
const MAX_GAPS = 20_000;

/**
 * Reads the input files as the replay will (same formats and series naming) and profiles every
 * series: first and last time, points, median spacing. Cheap next to the run it guards (one
 * parse, no pipeline). `series` keeps only those ids; `limit` stops after that many records.
 */
export async function profileInput(paths: readonly string[], opts: { series?: readonly string[]; limit?: number; format?: FileFormat; csv?: CsvOptions } = {}): Promise<InputProfile> {
  const keep = opts.series?.length ? new Set(opts.series) : undefined;
  const acc = new Map<SeriesId, { firstTs: number; lastTs: number; points: number; prev: number; gaps: number[] }>();
  const qualify = paths.length > 1;
  const texts = await Promise.all(paths.map((p) => readInputText(p)));
  const cursors = paths.map((p, i) => cursorOf(p, i, texts[i]!, { ...(opts.format ? { format: opts.format } : {}), csv: { ...opts.csv, qualifySeries: opts.csv?.qualifySeries ?? qualify } }));
  // Merged by time as the replay does, so that --limit cuts where the replay will.
  const merge = new MergeByTime(cursors);
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  for (let records = 0; !merge.done && records < limit; records++) {
    for (const p of merge.take().points) {
      if (keep !== undefined && !keep.has(p.series)) continue;
      let a = acc.get(p.series);
      if (a === undefined) acc.set(p.series, (a = { firstTs: p.ts, lastTs: p.ts, points: 0, prev: Number.NaN, gaps: [] }));
      a.points++;
      if (p.ts < a.firstTs) a.firstTs = p.ts;
      if (p.ts > a.lastTs) a.lastTs = p.ts;
      const gap = p.ts - a.prev;
      if (gap > 0 && a.gaps.length < MAX_GAPS) a.gaps.push(gap);
      a.prev = p.ts;
    }
  }
  const series = new Map<SeriesId, SeriesProfile>();
  let firstTs: number | undefined;
  let lastTs: number | undefined;
  for (const [id, a] of acc) {
    a.gaps.sort((x, y) => x - y);
    series.set(id, { firstTs: a.firstTs, lastTs: a.lastTs, points: a.points, medianSpacingMs: a.gaps.length === 0 ? undefined : a.gaps[Math.floor(a.gaps.length / 2)] });
    firstTs = Math.min(firstTs ?? a.firstTs, a.firstTs);
    lastTs = Math.max(lastTs ?? a.lastTs, a.lastTs);
  }
  return { series, firstTs, lastTs };
}
