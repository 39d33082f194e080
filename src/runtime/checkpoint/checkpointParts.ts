import type { PartitionCheckpoint } from '../../connectors/committer.js';
import type { Position } from '../../domain/position.js';
import type { DeadLetter } from '../../domain/deadLetter.js';
import type { EncodedState } from '../../state/seriesStateStore.js';
import type { InputPositions } from './inputPositions.js';

/** Dead letters raised since the last cut, by the input partition of the record that carried them. */
export class PendingDeadLetters {
  private byPartition = new Map<number, DeadLetter[]>();

  add(letters: readonly DeadLetter[]): void {
    for (const d of letters) {
      let list = this.byPartition.get(d.source.partition);
      if (list === undefined) this.byPartition.set(d.source.partition, (list = []));
      list.push(d);
    }
  }

  /** Those raised so far; later ones go to the next cut. */
  take(): ReadonlyMap<number, readonly DeadLetter[]> {
    const taken = this.byPartition;
    this.byPartition = new Map();
    return taken;
  }

  forget(partition: number): void {
    this.byPartition.delete(partition);
  }
}

/** What a checkpoint holds once its state is encoded. */
export interface CheckpointContent {
  /** The positions read at the cut. */
  readonly positions: ReadonlyMap<number, Position>;
  readonly deadLetters: ReadonlyMap<number, readonly DeadLetter[]>;
  readonly state: readonly EncodedState[];
  /** Partitions whose forecasts the committer sealed for this checkpoint (Committer.seal). */
  readonly outputs: ReadonlySet<number>;
}

/**
 * One part per partition that has something to commit: sealed outputs, dead letters, state, or a
 * position that moves. Partitions `owns` rejects (revoked meanwhile) are left to their new owner.
 */
export function checkpointParts(content: CheckpointContent, positions: InputPositions, owns: (partition: number) => boolean): PartitionCheckpoint[] {
  const byPartition = new Map<number, { deadLetters: readonly DeadLetter[]; state: EncodedState[] }>();
  const slot = (p: number) => {
    let s = byPartition.get(p);
    if (s === undefined) byPartition.set(p, (s = { deadLetters: [], state: [] }));
    return s;
  };
  for (const p of content.outputs) slot(p);
  for (const [p, list] of content.deadLetters) slot(p).deadLetters = list;
  for (const s of content.state) slot(s.partition).state.push(s);
  for (const [p, pos] of content.positions) if (positions.moves(pos)) slot(p);
  const parts: PartitionCheckpoint[] = [];
  for (const [p, s] of byPartition) {
    if (!owns(p)) continue;
    const position = positions.positionOf(p, content.positions);
    parts.push({ partition: p, ...s, position, advances: position !== undefined && positions.moves(position) });
  }
  return parts;
}
