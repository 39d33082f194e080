import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../../../src/domain/deadLetter.js';
import { checkpointParts, PendingDeadLetters } from '../../../../src/runtime/checkpoint/checkpointParts.js';
import { InputPositions } from '../../../../src/runtime/checkpoint/inputPositions.js';

const at = (partition: number, offset: string) => ({ topic: 'in', partition, offset });
const letter = (partition: number): DeadLetter => ({ reason: 'late', message: 'x', source: { topic: 'in', partition, offset: '1', key: null }, payload: '{}' });

describe('checkpointParts', () => {
  it('makes a part for each partition with outputs, dead letters, state or a position that moves; none for the rest', () => {
    const positions = new InputPositions();
    positions.commitDone([at(4, '9')], []);
    const pending = new PendingDeadLetters();
    pending.add([letter(1), letter(1)]);
    const parts = checkpointParts(
      {
        positions: new Map([
          [3, at(3, '2')],
          [4, at(4, '9')], // committed already: no part of its own
        ]),
        deadLetters: pending.take(),
        state: [{ series: 's', partition: 2, value: null }],
        outputs: new Set([0]),
      },
      positions,
      () => true,
    );
    const byPartition = new Map(parts.map((p) => [p.partition, p]));
    expect([...byPartition.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect(byPartition.get(1)!.deadLetters).toHaveLength(2);
    expect(byPartition.get(2)!.state.map((s) => s.series)).toEqual(['s']);
    expect(byPartition.get(3)!.position).toEqual(at(3, '2'));
    expect(byPartition.get(3)!.advances).toBe(true);
    expect(byPartition.get(0)!.position).toBeUndefined(); // never read, never committed
    expect(pending.take().size).toBe(0); // taken once
  });

  it('a part with only state carries the committed position again, marked as not advancing', () => {
    const positions = new InputPositions();
    positions.advance(at(0, '9'));
    positions.commitDone([at(0, '9')], []);
    const [p] = checkpointParts({ positions: positions.cut(), deadLetters: new Map(), state: [{ series: 's', partition: 0, value: null }], outputs: new Set() }, positions, () => true);
    expect(p).toMatchObject({ partition: 0, position: at(0, '9'), advances: false });
  });

  it('leaves out the partitions this instance no longer owns', () => {
    const parts = checkpointParts({ positions: new Map([[0, at(0, '1')], [1, at(1, '1')]]), deadLetters: new Map(), state: [], outputs: new Set() }, new InputPositions(), (p) => p === 1);
    expect(parts.map((p) => p.partition)).toEqual([1]);
  });
});
