import { describe, expect, it } from 'vitest';
import { SeriesRegistry } from '../../../src/state/seriesRegistry.js';

describe('SeriesRegistry', () => {
  it('gives a series the same slot in every structure that holds it', () => {
    const reg = new SeriesRegistry();
    const a = reg.hold();
    const b = reg.hold();
    const sa = a.add('s1');
    a.add('s2');
    expect(b.get('s1')).toBeUndefined(); // b holds nothing yet
    expect(b.add('s1')).toBe(sa);
    expect(b.get('s1')).toBe(sa);
    expect(reg.size).toBe(2);
    expect([...a.keys()]).toEqual(['s1', 's2']);
    expect([...b.entries()]).toEqual([['s1', sa]]);
    expect(a.size).toBe(2);
    expect(b.size).toBe(1);
  });

  it('frees a slot when the last structure lets go of it, not before', () => {
    const reg = new SeriesRegistry();
    const a = reg.hold();
    const b = reg.hold();
    const slot = a.add('s');
    b.add('s');
    expect(a.delete('s')).toBe(slot);
    expect(a.delete('s')).toBeUndefined();
    expect(reg.slotOf('s')).toBe(slot);
    expect(b.delete('s')).toBe(slot);
    expect(reg.has('s')).toBe(false);
    // Freed slots are handed out again, as SeriesSlots does.
    expect(a.add('t')).toBe(slot);
  });

  it('keeps a series assigned to a partition until it is dropped', () => {
    const reg = new SeriesRegistry();
    const a = reg.hold();
    reg.assign('s', 3);
    const slot = a.add('s');
    a.delete('s');
    expect(reg.slotOf('s')).toBe(slot);
    expect(reg.partitionOf('s')).toBe(3);
    reg.assign('s', 4); // re-assigned: still one slot, no extra holder
    expect(reg.assigned).toBe(1);
    expect(reg.drop('s')).toBe(true);
    expect(reg.assigned).toBe(0);
    expect(reg.has('s')).toBe(false);
    expect(reg.drop('s')).toBe(false);
  });

  it('drops a series everywhere: listeners see its slot, every view lets go', () => {
    const reg = new SeriesRegistry();
    const a = reg.hold();
    const b = reg.hold();
    const seen: [string, number | undefined][] = [];
    reg.onDrop((series) => seen.push([series, reg.slotOf(series)]));
    const slot = a.add('s');
    b.add('s');
    a.add('other');
    expect(reg.drop('s')).toBe(true);
    expect(seen).toEqual([['s', slot]]); // told while the slot is still the series'
    expect(reg.drop('unknown')).toBe(false);
    expect(seen).toEqual([['s', slot], ['unknown', undefined]]); // told anyway: others may hold it
    expect(a.has('s')).toBe(false);
    expect(b.has('s')).toBe(false);
    expect(a.size).toBe(1);
    expect(b.size).toBe(0);
    expect(reg.size).toBe(1);
    // The freed slot goes to the next new series, which no view holds yet.
    expect(reg.hold().add('n')).toBe(slot);
    expect(a.get('n')).toBeUndefined();
  });

  it('finds and drops the series of revoked partitions, like a task store', () => {
    const reg = new SeriesRegistry();
    const a = reg.hold();
    reg.own([0, 1]);
    for (const [s, p] of [['x', 0], ['y', 1], ['z', 0]] as const) {
      reg.assign(s, p);
      a.add(s);
    }
    expect(reg.seriesOf(0)).toEqual(['x', 'z']);
    const dropped: string[] = [];
    reg.onDrop((s) => dropped.push(s));
    expect(reg.dropPartitions([0])).toEqual(['x', 'z']);
    expect(dropped).toEqual(['x', 'z']);
    expect(reg.owns(0)).toBe(false);
    expect(reg.owns(1)).toBe(true);
    expect([...a.keys()]).toEqual(['y']);
    expect(reg.partitionOf('y')).toBe(1);
    expect(reg.partitionOf('x')).toBeUndefined();
  });

  it('lets a disposed structure release all it holds', () => {
    const reg = new SeriesRegistry();
    const a = reg.hold();
    const b = reg.hold();
    a.add('s');
    b.add('s');
    b.add('t');
    const seen: string[] = [];
    const off = reg.onDrop((series) => seen.push(series));
    b.close();
    expect(b.size).toBe(0);
    expect([...reg.series()]).toEqual(['s']);
    off();
    reg.drop('s');
    expect(seen).toEqual([]);
  });

  it('grows past its initial arrays', () => {
    const reg = new SeriesRegistry();
    const a = reg.hold();
    for (let i = 0; i < 5000; i++) a.add(`s${i}`);
    for (let i = 0; i < 5000; i += 2) reg.assign(`s${i}`, i % 7);
    for (let i = 0; i < 5000; i++) expect(a.get(`s${i}`)).toBe(i);
    for (let i = 0; i < 5000; i++) a.delete(`s${i}`);
    expect(reg.size).toBe(2500);
    expect(reg.partitionOf('s14')).toBe(0);
  });
});
