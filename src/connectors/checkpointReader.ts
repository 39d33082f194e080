import type { SeriesId } from '../domain/point.js';

/** Where a partition's checkpoint is read back from when it is assigned (its new owner restores it). */
export interface CheckpointReader {
  /** Reads the changelog partitions from their beginning to their current end; returns the records read. */
  readChangelog(partitions: readonly number[], onRecord: (series: SeriesId, value: Uint8Array | null, partition: number) => void): Promise<number>;
  /** The committed offset of an input partition (read after `Committer.acquire`). */
  committedOffset(partition: number): Promise<string | undefined>;
}
