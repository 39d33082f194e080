import { describe, expect, it } from 'vitest';
import { InputPositions } from '../../../../src/runtime/checkpoint/inputPositions.js';

const at = (partition: number, offset: string) => ({ topic: 'in', partition, offset });

describe('InputPositions', () => {
  it('cuts the newest position read per partition, as a copy later reads do not change', () => {
    const ps = new InputPositions();
    ps.advance(at(0, '1'));
    ps.advance(at(1, '7'));
    ps.advance(at(0, '2'));
    const cut = ps.cut();
    ps.advance(at(0, '3'));
    expect([...cut.values()]).toEqual([at(0, '2'), at(1, '7')]);
    expect(ps.cut().get(0)).toEqual(at(0, '3'));
  });

  it('a position moves its partition until it is committed; a lost partition does not count as committed', () => {
    const ps = new InputPositions();
    expect(ps.moves(at(0, '5'))).toBe(true);
    ps.commitDone([at(0, '5'), at(1, '9'), undefined], [1]);
    expect(ps.moves(at(0, '5'))).toBe(false);
    expect(ps.moves(at(0, '6'))).toBe(true);
    expect(ps.moves(at(1, '9'))).toBe(true);
  });

  it("a part carries the cut's position, else the committed one (restored or committed), else none", () => {
    const ps = new InputPositions();
    expect(ps.positionOf(0, new Map())).toBeUndefined();
    ps.restored(0, '40');
    ps.restored(1, undefined);
    ps.advance(at(2, '3')); // the topic comes from what was read
    expect(ps.positionOf(0, ps.cut())).toEqual(at(0, '40'));
    expect(ps.positionOf(1, ps.cut())).toBeUndefined();
    expect(ps.moves(at(0, '40'))).toBe(false);
    expect(ps.positionOf(0, new Map([[0, at(0, '41')]]))).toEqual(at(0, '41'));
  });

  it('forgets a partition that left: neither read nor committed', () => {
    const ps = new InputPositions();
    ps.advance(at(0, '5'));
    ps.advance(at(1, '5'));
    ps.commitDone([at(0, '5')], []);
    ps.forget(0);
    expect([...ps.cut().keys()]).toEqual([1]);
    expect(ps.moves(at(0, '5'))).toBe(true);
    expect(ps.positionOf(0, ps.cut())).toBeUndefined();
  });
});
