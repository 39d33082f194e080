import type { Position } from '../../domain/position.js';

/**
 * The one owner of input positions: per input partition, the newest position read (a record
 * enters the pipeline) and the one last committed. A checkpoint takes the positions read at its
 * cut (`cut`) and, once its commit returns, records them as committed; restoring a partition
 * starts it at its committed offset, and losing it forgets both. Positions are Kafka's "next
 * offset to read". One input topic per pipeline, so a partition number names a partition (a file
 * replay numbers its files).
 *
 * Nobody else keeps positions: the Kafka source only skips records it already handed over after a
 * rebalance (delivery, not commit), and committers receive the positions they commit.
 */
export class InputPositions {
  private readonly read = new Map<number, Position>();
  private readonly committed = new Map<number, string>();

  /** A record at `position` entered the pipeline. */
  advance(position: Position): void {
    this.read.set(position.partition, position);
  }

  /** The positions read so far (a copy, as of a checkpoint's cut). */
  cut(): ReadonlyMap<number, Position> {
    return new Map(this.read);
  }

  /** Whether committing `position` would move its partition (it is not what is committed). */
  moves(position: Position): boolean {
    return this.committed.get(position.partition) !== position.offset;
  }

  /**
   * The position a checkpoint's part for `partition` carries: the cut's, else the committed one
   * (a part with only state or outputs commits its offset again: under exactly-once every
   * transaction carries the offset commit that tells whether it landed); undefined when this
   * instance has neither read nor restored the partition.
   */
  positionOf(partition: number, cut: ReadonlyMap<number, Position>): Position | undefined {
    const read = cut.get(partition);
    if (read !== undefined) return read;
    const offset = this.committed.get(partition);
    const topic = this.anyTopic();
    return offset === undefined || topic === undefined ? undefined : { topic, partition, offset };
  }

  /** A restore found `partition` committed at `offset` (undefined: nothing committed yet). */
  restored(partition: number, offset: string | undefined): void {
    if (offset !== undefined) this.committed.set(partition, offset);
  }

  /** These positions are committed (a partition lost to another owner is not). */
  commitDone(positions: Iterable<Position | undefined>, lost: readonly number[]): void {
    for (const p of positions) if (p !== undefined && !lost.includes(p.partition)) this.committed.set(p.partition, p.offset);
  }

  /** The partition is not ours any more: its next owner's progress says where it resumes. */
  forget(partition: number): void {
    this.read.delete(partition);
    this.committed.delete(partition);
  }

  private anyTopic(): string | undefined {
    for (const pos of this.read.values()) return pos.topic;
    return undefined;
  }
}
