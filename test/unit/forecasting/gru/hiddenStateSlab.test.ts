import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HiddenStateSlab } from '../../../../src/forecasting/gru/hiddenStateSlab.js';

const H = 8;

function fill(slab: HiddenStateSlab, series: string, seed: number): Float32Array {
  const slot = slab.slotOf(series);
  const v = Float32Array.from({ length: H }, (_, k) => Math.fround(Math.sin(seed * 31 + k) * 3));
  slab.data.set(v, slot * H);
  return v;
}

function stateOf(slab: HiddenStateSlab, series: string): Float32Array {
  const slot = slab.slotOf(series);
  return slab.data.slice(slot * H, (slot + 1) * H);
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

  it('memory per series is 4·H bytes plus the slab slack (≤ 2× after doubling)', () => {
    const slab = new HiddenStateSlab(64, 1);
    for (let i = 0; i < 10_000; i++) slab.slotOf(`s${i}`);
    expect(slab.capacity).toBe(16_384);
    expect(slab.bytes / slab.size).toBeLessThan(2 * 4 * 64 + 8);
  });

  it('snapshot/restore round-trips any state, into another slab too', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: H, maxLength: H }), (values) => {
        const src = new HiddenStateSlab(H);
        src.slotOf('other');
        const slot = src.slotOf('s');
        src.data.set(values, slot * H);
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
});
