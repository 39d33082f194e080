/**
 * A bounded, deterministic sample of the series in a changelog read, newest record per series:
 * the `max` series of smallest hash (a bottom-k sample), so that which peer series a retrain
 * trains on depends on their ids, not on how the partitions' records interleave, and the same
 * series are taken retrain after retrain (their histories grow, not change). Memory is bounded by
 * 2·max frames however many series the changelog holds: past that the entries are cut back to
 * the `max` smallest hashes, and a series above the cut is never taken again in this read.
 *
 * A tombstone drops its series (the newest record wins; an evicted series stays evicted). A
 * series dropped that way after a cut leaves its place empty (the sample may hold fewer than
 * `max`): a series above the cut was let go, and re-reading to fill the place is not worth it.
 */
export class PeerSample<V> {
  readonly max: number;
  readonly #kept = new Map<string, { readonly hash: number; value: V }>();
  /** Series of this hash or above are not taken (after a cut). */
  #cut = Number.POSITIVE_INFINITY;
  #cutOut = 0;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`sample size is ${max}; it must be a whole number ≥ 0`);
    this.max = max;
  }

  /** The newest record of `series` so far (null: a tombstone). */
  offer(series: string, value: V | null): void {
    if (value === null) {
      this.#kept.delete(series);
      return;
    }
    const entry = this.#kept.get(series);
    if (entry !== undefined) {
      entry.value = value;
      return;
    }
    const hash = seriesHash(series);
    if (hash >= this.#cut || this.max === 0) {
      this.#cutOut++;
      return;
    }
    this.#kept.set(series, { hash, value });
    if (this.#kept.size > 2 * this.max) this.#trim();
  }

  /**
   * Records left out by the bound so far: zero when every series was taken; otherwise at least
   * one per series left out (a series with several records not yet compacted counts several).
   */
  get leftOut(): number {
    return this.#cutOut;
  }

  /** The sample: at most `max` series, by ascending hash, with their newest values. */
  take(): Array<{ readonly series: string; readonly value: V }> {
    if (this.#kept.size > this.max) this.#trim();
    return [...this.#kept].sort((a, b) => a[1].hash - b[1].hash).map(([series, { value }]) => ({ series, value }));
  }

  #trim(): void {
    const entries = [...this.#kept].sort((a, b) => a[1].hash - b[1].hash);
    for (let i = this.max; i < entries.length; i++) {
      this.#kept.delete(entries[i]![0]);
      this.#cutOut++;
    }
    this.#cut = Math.min(this.#cut, entries[this.max]![1].hash);
  }
}

/**
 * FNV-1a (32 bits) of the series id's UTF-16 code units: stable across processes and versions (a
 * sample must not move when a build changes), and not the partitioner's murmur2, whose low bits
 * pick the partition.
 */
export function seriesHash(series: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < series.length; i++) {
    h ^= series.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
