import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeriesSlots, SlotPages, pageBitsFor } from '../../../src/domain/seriesSlots.js';

describe('SeriesSlots', () => {
  it('behaves like a Map<SeriesId, slot> under any add/delete sequence, with dense LIFO-reused slots', () => {
    const op = fc.record({ add: fc.boolean(), key: fc.oneof(fc.integer({ min: 0, max: 300 }).map((i) => `s${i}`), fc.string({ maxLength: 6 })) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 2000 }), (ops) => {
        const slots = new SeriesSlots();
        const model = new Map<string, number>();
        const free: number[] = [];
        let next = 0;
        for (const { add, key } of ops) {
          if (add && !model.has(key)) {
            const expected = free.length > 0 ? free.pop()! : next++;
            expect(slots.add(key)).toBe(expected);
            model.set(key, expected);
          } else if (!add) {
            const had = model.get(key);
            expect(slots.delete(key)).toBe(had);
            if (had !== undefined) {
              model.delete(key);
              free.push(had);
            }
          }
          expect(slots.size).toBe(model.size);
          expect(slots.get(key)).toBe(model.get(key));
        }
        expect(slots.highWater).toBe(next);
        for (const [k, v] of model) {
          expect(slots.get(k)).toBe(v);
          expect(slots.has(k)).toBe(true);
        }
        expect(new Map(slots.entries())).toEqual(model);
        expect([...slots.values()]).toEqual([...model.values()].sort((a, b) => a - b));
        expect(new Set(slots.keys())).toEqual(new Set(model.keys()));
      }),
      { numRuns: 200 },
    );
  });

  it('finds series by content (not identity), through growth and heavy deletion', () => {
    const slots = new SeriesSlots();
    const n = 20_000;
    for (let i = 0; i < n; i++) expect(slots.add(`host-${i}.cpu`)).toBe(i);
    // Freshly built strings, as a decoder produces them.
    for (let i = 0; i < n; i += 7) expect(slots.get(JSON.parse(`"host-${i}.cpu"`) as string)).toBe(i);
    for (let i = 0; i < n; i += 2) expect(slots.delete(`host-${i}.cpu`)).toBe(i);
    expect(slots.size).toBe(n / 2);
    for (let i = 0; i < n; i++) expect(slots.get(`host-${i}.cpu`)).toBe(i % 2 === 0 ? undefined : i);
    expect(slots.has('host-0.cpu')).toBe(false);
    expect(slots.get('')).toBeUndefined();
    // Freed slots come back newest first.
    expect(slots.add('again')).toBe(n - 2);
    expect(slots.get('again')).toBe(n - 2);
    expect(slots.highWater).toBe(n);
  });
});

describe('SlotPages', () => {
  it('doubles the first page up to a full page, then adds pages without moving the earlier ones', () => {
    const p = new SlotPages(3, (n) => new Float64Array(n), 3, 4); // 16 slots a page
    expect(p.capacity).toBe(4);
    for (let s = 0; s < 4; s++) p.page(s)[p.offset(s) + 2] = s;
    p.ensure(4);
    expect(p.capacity).toBe(8);
    p.ensure(16);
    expect(p.capacity).toBe(32);
    expect(p.pages.length).toBe(2);
    const second = p.page(16);
    expect(p.offset(17)).toBe(3);
    for (let s = 4; s < 32; s++) p.page(s)[p.offset(s) + 2] = s;
    p.ensure(40);
    expect(p.pages.length).toBe(3);
    expect(p.page(16)).toBe(second);
    for (let s = 0; s < 32; s++) expect(p.page(s)[p.offset(s) + 2]).toBe(s);
    expect(p.page(40)[p.offset(40) + 2]).toBe(0);
    expect(p.bytes).toBe(3 * 16 * 3 * 8);
  });

  it('starts with whole pages for a large initial size; page bits aim at ~1 MiB pages', () => {
    const p = new SlotPages(1, (n) => new Uint8Array(n), 2500, 10);
    expect(p.pages.length).toBe(3);
    expect(p.capacity).toBe(3072);
    expect(pageBitsFor(64)).toBe(10);
    expect(pageBitsFor(4096)).toBe(8);
    expect(pageBitsFor(1 << 20)).toBe(4);
  });
});
