import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockSlab } from '../../../src/state/blockSlab.js';

describe('BlockSlab', () => {
  it("keeps every owner's bytes through any order of allocs and frees, telling owners where their block moved", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.nat(2), fc.nat(1000)), { minLength: 1, maxLength: 400 }),
        (ops) => {
          // Class 2's blocks are larger than a page: one block a page.
          const sizes = [3, 40, 300_000];
          const where = new Map<number, { cls: number; block: number }>();
          const slab = new BlockSlab(sizes, (owner, cls, block) => {
            expect(where.get(owner)!.cls).toBe(cls);
            where.set(owner, { cls, block });
          });
          const fill = (owner: number, cls: number, block: number): void => {
            const page = slab.page(cls, block);
            const o = slab.offset(cls, block);
            expect(page.subarray(o, o + sizes[cls]!).every((b) => b === 0)).toBe(true);
            page[o] = owner & 0xff;
            page[o + sizes[cls]! - 1] = (owner * 7) & 0xff;
          };
          let nextOwner = 0;
          for (const [add, cls, pick] of ops) {
            if (add || where.size === 0) {
              const owner = nextOwner++;
              const block = slab.alloc(cls, owner);
              where.set(owner, { cls, block });
              fill(owner, cls, block);
            } else {
              const owners = [...where.keys()];
              const owner = owners[pick % owners.length]!;
              const { cls: c, block } = where.get(owner)!;
              where.delete(owner);
              slab.free(c, block);
            }
            for (const [owner, { cls: c, block }] of where) {
              const page = slab.page(c, block);
              const o = slab.offset(c, block);
              expect(page[o]).toBe(owner & 0xff);
              expect(page[o + sizes[c]! - 1]).toBe((owner * 7) & 0xff);
            }
            sizes.forEach((_, c) => expect(slab.count(c)).toBe([...where.values()].filter((w) => w.cls === c).length));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('gives back the pages of a class whose blocks were freed, but one', () => {
    const slab = new BlockSlab([1000], () => {});
    const blocks = Array.from({ length: 5000 }, (_, i) => slab.alloc(0, i));
    const full = slab.bytes;
    expect(full).toBeGreaterThanOrEqual(5000 * 1000);
    expect(full).toBeLessThan(5000 * 1000 + 2 * (1 << 18));
    // Freed from the end: nothing moves.
    for (let i = blocks.length - 1; i >= 10; i--) slab.free(0, blocks[i]!);
    expect(slab.count(0)).toBe(10);
    expect(slab.bytes).toBeLessThanOrEqual(2 * (1 << 18));
  });

  it('holds nothing for a class left empty: one series that grew through every size keeps only its last buffer', () => {
    const sizes = [40, 80, 160, 320, 100_000];
    const slab = new BlockSlab(sizes, () => {});
    let cls = 0;
    let block = slab.alloc(0, 7);
    for (cls = 1; cls < sizes.length; cls++) {
      const next = slab.alloc(cls, 7);
      slab.free(cls - 1, block);
      block = next;
    }
    expect(slab.bytes).toBe(100_000);
    slab.free(sizes.length - 1, block);
    expect(slab.bytes).toBe(0);
  });

  it('refuses a block that is not in use and a block size that is not a whole number of bytes', () => {
    const slab = new BlockSlab([8], () => {});
    expect(() => slab.free(0, 0)).toThrow(RangeError);
    slab.alloc(0, 1);
    expect(() => slab.free(0, 1)).toThrow(/not in use/);
    expect(() => new BlockSlab([0], () => {})).toThrow(RangeError);
    expect(() => new BlockSlab([2.5], () => {})).toThrow(RangeError);
  });
});
