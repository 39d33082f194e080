import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HiddenStateSlab } from '../../../../src/forecasting/gru/hiddenStateSlab.js';
import { SeriesRegistry } from '../../../../src/state/seriesRegistry.js';

const H = 8;

function fill(slab: HiddenStateSlab, series: string, seed: number): Float32Array {
  const slot = slab.slotOf(series);
  const v = Float32Array.from({ length: H }, (_, k) => Math.fround(Math.sin(seed * 31 + k) * 3));
  slab.row(slot).set(v);
  return v;
}

function stateOf(slab: HiddenStateSlab, series: string): Float32Array {
  const slot = slab.slotOf(series);
  return slab.row(slot).slice();
}

describe('HiddenStateSlab', () => {
  it('allocates zeroed slots and grows by doubling, keeping states', () => {
    const slab = new HiddenStateSlab(H, 2);
    const a = fill(slab, 'a', 1);
    const b = fill(slab, 'b', 2);
    expect(slab.capacity).toBe(2);
    fill(slab, 'c', 3);
    expect(slab.capacity).toBe(4);
    expect(stateOf(slab, 'a')).toEqual(a);
    expect(stateOf(slab, 'b')).toEqual(b);
    expect(stateOf(slab, 'new')).toEqual(new Float32Array(H));
    expect(slab.size).toBe(4);
  });

  it('reuses freed slots and zeroes them for the next series', () => {
    const slab = new HiddenStateSlab(H, 4);
    fill(slab, 'a', 1);
    const slotB = slab.slotOf('b');
    fill(slab, 'b', 2);
    expect(slab.free('b')).toBe(true);
    expect(slab.free('b')).toBe(false);
    expect(slab.has('b')).toBe(false);
    expect(slab.slotOf('c')).toBe(slotB);
    expect(stateOf(slab, 'c')).toEqual(new Float32Array(H));
    expect(slab.size).toBe(2);
  });

  it('memory per series is 4·H bytes plus less than one page of slack (pages are never copied)', () => {
    const slab = new HiddenStateSlab(64, 1);
    for (let i = 0; i < 10_000; i++) slab.slotOf(`s${i}`);
    expect(slab.capacity).toBe(10 * 1024);
    expect(slab.bytes).toBe(10 * 1024 * 4 * 64);
    expect(slab.bytes / slab.size).toBeLessThan(4 * 64 * 1.03);
  });

  it('keeps states across page boundaries: gather/scatter, zero, free and reuse', () => {
    const slab = new HiddenStateSlab(H, 3);
    const n = 2 * 1024 + 5;
    const states = new Map<string, Float32Array>();
    for (let i = 0; i < n; i++) states.set(`s${i}`, fill(slab, `s${i}`, i));
    expect(slab.capacity).toBe(3 * 1024);
    for (const [s, v] of states) expect(stateOf(slab, s)).toEqual(v);
    // A batch straddling pages 0, 1 and 2, in an arbitrary order.
    const picks = [2052, 3, 1023, 1024, 2047, 2048, 0, 1500];
    const slots = Int32Array.from(picks, (i) => slab.slotOf(`s${i}`));
    expect([...slots]).toEqual(picks);
    const dense = new Float32Array(picks.length * H);
    slab.gather(slots, picks.length, dense);
    picks.forEach((i, b) => expect(dense.subarray(b * H, (b + 1) * H)).toEqual(states.get(`s${i}`)));
    for (let k = 0; k < dense.length; k++) dense[k] = k;
    slab.scatter(slots, picks.length, dense);
    picks.forEach((i, b) => expect(stateOf(slab, `s${i}`)).toEqual(dense.subarray(b * H, (b + 1) * H)));
    expect(stateOf(slab, 's1025')).toEqual(states.get('s1025'));
    slab.zero(1024);
    expect(stateOf(slab, 's1024')).toEqual(new Float32Array(H));
    expect(stateOf(slab, 's1023')).toEqual(dense.subarray(2 * H, 3 * H));
    // A freed slot in a later page comes back zeroed; no new page is needed.
    expect(slab.free('s2048')).toBe(true);
    expect(slab.slotOf('fresh')).toBe(2048);
    expect(stateOf(slab, 'fresh')).toEqual(new Float32Array(H));
    expect(slab.capacity).toBe(3 * 1024);
    // Snapshots of states in later pages round-trip.
    const snap = slab.snapshot('s2052')!;
    const other = new HiddenStateSlab(H);
    other.restore('x', snap);
    expect(stateOf(other, 'x')).toEqual(stateOf(slab, 's2052'));
  });

  it('snapshot/restore round-trips any state, into another slab too', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: H, maxLength: H }), (values) => {
        const src = new HiddenStateSlab(H);
        src.slotOf('other');
        const slot = src.slotOf('s');
        src.row(slot).set(values);
        const bytes = src.snapshot('s')!;
        expect(bytes.byteLength).toBe(8 + 4 * H);
        const dst = new HiddenStateSlab(H);
        dst.restore('s', bytes);
        expect(stateOf(dst, 's')).toEqual(Float32Array.from(values));
        // Overwrites an existing state as well.
        fill(dst, 's', 9);
        dst.restore('s', bytes);
        expect(stateOf(dst, 's')).toEqual(Float32Array.from(values));
      }),
    );
  });

  it('snapshot of an unknown series is undefined', () => {
    expect(new HiddenStateSlab(H).snapshot('nope')).toBeUndefined();
  });

  it('refuses snapshots of another size, foreign bytes and non-finite states', () => {
    const src = new HiddenStateSlab(4);
    src.slotOf('s');
    const bytes = src.snapshot('s')!;
    const dst = new HiddenStateSlab(H);
    expect(() => dst.restore('s', bytes)).toThrow(/4 units/);
    expect(() => dst.restore('s', new Uint8Array(8 + 4 * H))).toThrow(/not a GRU/);
    const ok = new HiddenStateSlab(H);
    ok.slotOf('s');
    const good = ok.snapshot('s')!;
    new DataView(good.buffer).setFloat32(8, NaN, true);
    expect(() => dst.restore('s', good)).toThrow(/NaN/);
    expect(dst.has('s')).toBe(false);
  });

  it('gather/scatter move rows between the slab and a dense batch', () => {
    const slab = new HiddenStateSlab(H);
    const a = fill(slab, 'a', 1);
    const b = fill(slab, 'b', 2);
    const slots = Int32Array.from([slab.slotOf('b'), slab.slotOf('a')]);
    const dense = new Float32Array(2 * H);
    slab.gather(slots, 2, dense);
    expect(dense.subarray(0, H)).toEqual(b);
    expect(dense.subarray(H)).toEqual(a);
    dense.fill(7);
    slab.scatter(slots, 1, dense);
    expect(stateOf(slab, 'b')).toEqual(new Float32Array(H).fill(7));
    expect(stateOf(slab, 'a')).toEqual(a);
  });

  it('on a shared registry: takes the registry slot of the series, zeroed even below the high water, and lets go on close', () => {
    const registry = new SeriesRegistry();
    const other = registry.hold();
    for (let i = 0; i < 100; i++) other.add(`o${i}`); // slots 0..99 belong to another structure
    other.delete('o7');
    const slab = new HiddenStateSlab(4, 4, registry);
    const a = slab.slotOf('o3'); // a series another structure holds: the same slot
    expect(a).toBe(registry.slotOf('o3'));
    expect(Array.from(slab.row(a))).toEqual([0, 0, 0, 0]);
    slab.row(a).fill(1);
    const b = slab.slotOf('new'); // the freed slot 7, new to the slab: zeroed
    expect(b).toBe(7);
    expect(Array.from(slab.row(b))).toEqual([0, 0, 0, 0]);
    slab.row(b).fill(2);
    expect(slab.free('new')).toBe(true);
    expect(registry.has('new')).toBe(false); // the slab was its only holder
    expect(slab.slotOf('new2')).toBe(7);
    expect(Array.from(slab.row(7))).toEqual([0, 0, 0, 0]); // a reused slot starts from h₀ = 0
    slab.close();
    expect(slab.size).toBe(0);
    expect(registry.has('new2')).toBe(false);
    expect(registry.has('o3')).toBe(true); // still held by the other structure
  });
});
