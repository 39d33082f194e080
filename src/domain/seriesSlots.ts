import type { SeriesId } from './point.js';

const KEY_PAGE_BITS = 10;
const KEY_PAGE_MASK = (1 << KEY_PAGE_BITS) - 1;

/**
 * Dense slot numbers for series, so that per-series state can live in typed arrays indexed by
 * slot (see SlotPages) instead of an object per series. Freed slots are handed out again (LIFO)
 * before new ones, which keeps the slots dense: every slot is below `highWater`.
 *
 * The index is an open-addressing hash table (linear probing, at most half full) of `slot + 1`
 * in an Int32Array, over the series ids kept by slot in arrays of 1024: about 8 + 8–16 bytes per
 * series, where a Map<SeriesId, number> costs 36–40 (three 8-byte words per entry and a bucket
 * array, at 100k series). The string hash is FNV-1a with a per-instance random basis, mixed.
 * Iteration is in slot order: the order series were added, except that a series added after a
 * `delete` takes the freed slot's place.
 */
export class SeriesSlots {
  readonly #keys: (SeriesId | undefined)[][] = [];
  #table = new Int32Array(16);
  #mask = 15;
  #size = 0;
  readonly #free: number[] = [];
  #next = 0;
  readonly #seed = (Math.random() * 0x100000000) >>> 0;
  /** The last series found and its cell: steps of one series often come in a row. */
  #lastKey: SeriesId | undefined;
  #lastCell = -1;

  /** Series with a slot. */
  get size(): number {
    return this.#size;
  }

  /** Slots ever handed out: every slot is < highWater. */
  get highWater(): number {
    return this.#next;
  }

  get(series: SeriesId): number | undefined {
    const i = this.#find(series);
    return i < 0 ? undefined : this.#table[i]! - 1;
  }

  has(series: SeriesId): boolean {
    return this.#find(series) >= 0;
  }

  /**
   * A slot for `series`, which must have none: the most recently freed one, else the next new one
   * (== the previous highWater). Its contents are whatever the caller left there: initialise them.
   */
  add(series: SeriesId): number {
    if ((this.#size + 1) * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#next++;
    const page = slot >>> KEY_PAGE_BITS;
    if (page === this.#keys.length) this.#keys.push(new Array<SeriesId | undefined>(1 << KEY_PAGE_BITS));
    this.#keys[page]![slot & KEY_PAGE_MASK] = series;
    const t = this.#table;
    const mask = this.#mask;
    let i = this.#hash(series) & mask;
    while (t[i] !== 0) i = (i + 1) & mask;
    t[i] = slot + 1;
    this.#size++;
    return slot;
  }

  /** Frees the series' slot; returns it, or undefined when the series had none. */
  delete(series: SeriesId): number | undefined {
    let i = this.#find(series);
    if (i < 0) return undefined;
    this.#lastKey = undefined; // cells move below
    const t = this.#table;
    const mask = this.#mask;
    const slot = t[i]! - 1;
    // Backward-shift deletion: pull later entries of the probe run into the hole when their home
    // cell is not in (hole, their cell], so that every entry stays reachable from its home.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const v = t[j]!;
      if (v === 0) break;
      const home = this.#hash(this.#key(v - 1)!) & mask;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (!stays) {
        t[i] = v;
        i = j;
      }
    }
    t[i] = 0;
    this.#keys[slot >>> KEY_PAGE_BITS]![slot & KEY_PAGE_MASK] = undefined;
    this.#free.push(slot);
    this.#size--;
    return slot;
  }

  *keys(): IterableIterator<SeriesId> {
    for (let slot = 0; slot < this.#next; slot++) {
      const k = this.#key(slot);
      if (k !== undefined) yield k;
    }
  }

  *values(): IterableIterator<number> {
    for (let slot = 0; slot < this.#next; slot++) if (this.#key(slot) !== undefined) yield slot;
  }

  *entries(): IterableIterator<[SeriesId, number]> {
    for (let slot = 0; slot < this.#next; slot++) {
      const k = this.#key(slot);
      if (k !== undefined) yield [k, slot];
    }
  }

  #key(slot: number): SeriesId | undefined {
    return this.#keys[slot >>> KEY_PAGE_BITS]![slot & KEY_PAGE_MASK];
  }

  /** The table cell holding `series`, or -1. */
  #find(series: SeriesId): number {
    if (series === this.#lastKey) return this.#lastCell;
    const t = this.#table;
    const mask = this.#mask;
    const keys = this.#keys;
    let i = this.#hash(series) & mask;
    for (;;) {
      const v = t[i]!;
      if (v === 0) return -1;
      const slot = v - 1;
      if (keys[slot >>> KEY_PAGE_BITS]![slot & KEY_PAGE_MASK] === series) {
        this.#lastKey = series;
        this.#lastCell = i;
        return i;
      }
      i = (i + 1) & mask;
    }
  }

  #rehash(cells: number): void {
    const old = this.#table;
    const t = new Int32Array(cells);
    const mask = cells - 1;
    for (let c = 0; c < old.length; c++) {
      const v = old[c]!;
      if (v === 0) continue;
      let i = this.#hash(this.#key(v - 1)!) & mask;
      while (t[i] !== 0) i = (i + 1) & mask;
      t[i] = v;
    }
    this.#table = t;
    this.#mask = mask;
    this.#lastKey = undefined;
  }

  #hash(s: string): number {
    let h = this.#seed ^ 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    // fmix32 (MurmurHash3): the table uses the low bits.
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }
}

export type SlotTypedArray = Float64Array | Float32Array | Int32Array | Uint16Array | Uint8Array;

/** Default page size: 1024 slots. */
export const DEFAULT_PAGE_BITS = 10;

/**
 * Per-slot records of `stride` elements, stored in pages of 2^pageBits slots. Slot s lives in
 * `pages[s >>> pageBits]` at element `(s & pageMask) · stride`.
 *
 * The first page starts at `initialSlots` (rounded up to a power of two) and doubles up to a full
 * page; after that whole pages are added and no page ever moves or is copied. So a reference to
 * page k ≥ 1 stays valid for good, page 0 only until the next `ensure`, and the slack is less than
 * one page (instead of up to 2× with a doubling slab).
 */
export class SlotPages<A extends SlotTypedArray> {
  readonly pages: A[] = [];
  readonly stride: number;
  readonly pageBits: number;
  readonly pageMask: number;
  readonly #make: (length: number) => A;
  #capacity: number;

  constructor(stride: number, make: (length: number) => A, initialSlots = 16, pageBits = DEFAULT_PAGE_BITS) {
    this.stride = stride;
    this.pageBits = pageBits;
    this.pageMask = (1 << pageBits) - 1;
    this.#make = make;
    const pageSlots = 1 << pageBits;
    const initial = Math.max(1, Math.ceil(initialSlots));
    if (initial >= pageSlots) {
      const n = Math.ceil(initial / pageSlots);
      for (let i = 0; i < n; i++) this.pages.push(make(pageSlots * stride));
      this.#capacity = n * pageSlots;
    } else {
      let first = 1;
      while (first < initial) first *= 2;
      this.pages.push(make(first * stride));
      this.#capacity = first;
    }
  }

  /** Slots addressable now. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Bytes held by the pages. */
  get bytes(): number {
    let b = 0;
    for (const p of this.pages) b += p.byteLength;
    return b;
  }

  /** Makes `slot` addressable, growing as needed (new storage is zeroed). */
  ensure(slot: number): void {
    while (slot >= this.#capacity) this.#grow();
  }

  /** The page holding `slot` (see the class comment for how long the reference stays valid). */
  page(slot: number): A {
    return this.pages[slot >>> this.pageBits]!;
  }

  /** Element offset of `slot`'s record in its page. */
  offset(slot: number): number {
    return (slot & this.pageMask) * this.stride;
  }

  #grow(): void {
    const pageSlots = 1 << this.pageBits;
    if (this.#capacity < pageSlots) {
      const cap = Math.min(pageSlots, this.#capacity * 2);
      const next = this.#make(cap * this.stride);
      next.set(this.pages[0]!);
      this.pages[0] = next;
      this.#capacity = cap;
    } else {
      this.pages.push(this.#make(pageSlots * this.stride));
      this.#capacity += pageSlots;
    }
  }
}

/** Page bits for records of about `bytesPerSlot` bytes: pages near 1 MiB, 16 to 1024 slots each. */
export function pageBitsFor(bytesPerSlot: number): number {
  const bits = Math.floor(Math.log2((1 << 20) / Math.max(1, bytesPerSlot)));
  return Math.max(4, Math.min(DEFAULT_PAGE_BITS, bits));
}
