import { map, type OperatorFunction } from 'rxjs';
import type { Ingested } from '../domain/ingested.js';
import type { Source } from './source.js';

/** A source whose records pass through `operator`; lifecycle and commits go to the inner one. */
export function pipeSource(source: Source, operator: OperatorFunction<Ingested, Ingested>): Source {
  return {
    name: source.name,
    start: () => source.start(),
    stop: () => source.stop(),
    pause: () => source.pause(),
    resume: () => source.resume(),
    commit: (positions) => source.commit(positions),
    progress: () => source.progress?.(),
    processed: () => source.processed?.(),
    records: () => source.records().pipe(operator),
  };
}

/**
 * Keeps only the points of the named series (e.g. ETTh1's target `OT`); records stay, so
 * positions still advance and commits stay correct.
 */
export function onlySeries(source: Source, ids: readonly string[]): Source {
  const keep = new Set(ids);
  return pipeSource(
    source,
    map((rec) => (rec.points.every((p) => keep.has(p.series)) ? rec : { ...rec, points: rec.points.filter((p) => keep.has(p.series)) })),
  );
}

/**
 * Keeps only the points of each series before its cutoff (event time, exclusive): the histories
 * of a fixed-origin run, whose held-out ends the model must not see. A series without a cutoff
 * passes whole; records stay, so positions still advance.
 */
export function onlyBefore(source: Source, cutoffs: ReadonlyMap<string, number>): Source {
  const keep = (p: { series: string; ts: number }): boolean => {
    const cut = cutoffs.get(p.series);
    return cut === undefined || p.ts < cut;
  };
  return pipeSource(
    source,
    map((rec) => (rec.points.every(keep) ? rec : { ...rec, points: rec.points.filter(keep) })),
  );
}
