/**
 * Splits a batch into consecutive waves in which each series appears at most once, keeping each
 * series' steps in order. A stateful model steps a series once per call, so a micro-batch that
 * holds several steps of one series (common in fast replays) is served wave by wave.
 */
export function splitWaves<T extends { readonly series: string }>(batch: readonly T[]): T[][] {
  const waves: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of batch) {
    const w = seen.get(item.series) ?? 0;
    seen.set(item.series, w + 1);
    (waves[w] ??= []).push(item);
  }
  return waves;
}
