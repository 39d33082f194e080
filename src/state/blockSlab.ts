/**
 * Byte blocks of a few fixed sizes for per-series buffers that grow, carved from shared pages
 * instead of one Uint8Array per series. A Uint8Array of its own costs a series about 190 bytes of
 * heap (the view, its ArrayBuffer) and, measured at 100k series of 492-byte buffers, about 580
 * bytes of process memory beyond its contents (a backing store and its allocation each): more
 * than the history it holds.
 *
 * Each size class is dense: its blocks fill blocks [0, count) of its pages, and freeing a block
 * moves the class's last block into the hole (its owner is told where it went, `onMove`). So a
 * class never holds free space but the tail of its last pages, a series that grows out of a small
 * class leaves nothing behind, and a class whose series all grew out of it shrinks back to one
 * page. Block ids change only through `onMove`; pages may be replaced by `alloc` (the first one
 * doubles up to full size), so callers look a block up again after allocating.
 */
export class BlockSlab {
  readonly #classes: SizeClass[] = [];
  readonly #onMove: (owner: number, cls: number, block: number) => void;

  /** `blockBytes`: each class's block size; `onMove(owner, cls, block)`: an owner's block now has id `block`. */
  constructor(blockBytes: readonly number[], onMove: (owner: number, cls: number, block: number) => void) {
    for (const b of blockBytes) {
      if (!Number.isInteger(b) || b < 1) throw new RangeError(`block size ${b} must be a whole number of bytes ≥ 1`);
      this.#classes.push(new SizeClass(b));
    }
    this.#onMove = onMove;
  }

  /** Bytes held by the pages of every class. */
  get bytes(): number {
    let b = 0;
    for (const c of this.#classes) b += c.bytes;
    return b;
  }

  /** Blocks in use in class `cls`. */
  count(cls: number): number {
    return this.#classes[cls]!.count;
  }

  blockBytes(cls: number): number {
    return this.#classes[cls]!.blockBytes;
  }

  /** A zeroed block of class `cls` for `owner`; returns its id. */
  alloc(cls: number, owner: number): number {
    return this.#classes[cls]!.alloc(owner);
  }

  /** Frees block `block` of class `cls`; the class's last block moves into it (`onMove`). */
  free(cls: number, block: number): void {
    const moved = this.#classes[cls]!.free(block);
    if (moved >= 0) this.#onMove(moved, cls, block);
  }

  /** The page holding a block; its bytes start at `offset(cls, block)`. */
  page(cls: number, block: number): Uint8Array {
    const c = this.#classes[cls]!;
    return c.pages[block >>> c.pageBits]!;
  }

  offset(cls: number, block: number): number {
    const c = this.#classes[cls]!;
    return (block & c.pageMask) * c.blockBytes;
  }
}

/** Bytes a full page aims at: large enough that a page per class costs little next to the blocks. */
const PAGE_BYTES = 1 << 18;
/** Blocks the first page starts with (it doubles up to a full page), and the owner index's least length. */
const FIRST_PAGE_BLOCKS = 1;
const MIN_OWNERS = 4;

class SizeClass {
  readonly blockBytes: number;
  readonly pageBits: number;
  readonly pageMask: number;
  readonly pages: Uint8Array[] = [];
  /** Blocks the pages hold now (the first page may be partial). */
  #room = 0;
  count = 0;
  /** The owner of each block in use. */
  #owners = new Int32Array(MIN_OWNERS);

  constructor(blockBytes: number) {
    this.blockBytes = blockBytes;
    this.pageBits = Math.max(0, Math.floor(Math.log2(PAGE_BYTES / blockBytes)));
    this.pageMask = (1 << this.pageBits) - 1;
  }

  get bytes(): number {
    let b = 0;
    for (const p of this.pages) b += p.byteLength;
    return b;
  }

  alloc(owner: number): number {
    const block = this.count;
    if (block === this.#room) this.#grow();
    if (block === this.#owners.length) {
      const next = new Int32Array(2 * block);
      next.set(this.#owners);
      this.#owners = next;
    }
    this.#owners[block] = owner;
    this.count++;
    const at = (block & this.pageMask) * this.blockBytes;
    this.pages[block >>> this.pageBits]!.fill(0, at, at + this.blockBytes);
    return block;
  }

  /** Frees `block`; returns the owner whose block moved into it, or −1. */
  free(block: number): number {
    if (!(block >= 0 && block < this.count)) throw new RangeError(`block ${block} is not in use (${this.count} are)`);
    const last = --this.count;
    let moved = -1;
    if (block !== last) {
      const B = this.blockBytes;
      const from = (last & this.pageMask) * B;
      const to = (block & this.pageMask) * B;
      const src = this.pages[last >>> this.pageBits]!;
      this.pages[block >>> this.pageBits]!.set(src.subarray(from, from + B), to);
      moved = this.#owners[last]!;
      this.#owners[block] = moved;
    }
    this.#shrink();
    return moved;
  }

  #grow(): void {
    const full = 1 << this.pageBits;
    const first = this.pages[0];
    if (first !== undefined && this.#room < full) {
      // The first page doubles (copied) until it is a full page: a class of a few blocks stays small.
      const blocks = Math.min(full, 2 * this.#room);
      const next = new Uint8Array(blocks * this.blockBytes);
      next.set(first);
      this.pages[0] = next;
      this.#room = blocks;
      return;
    }
    const blocks = first === undefined ? FIRST_PAGE_BLOCKS : full;
    this.pages.push(new Uint8Array(blocks * this.blockBytes));
    this.#room += blocks;
  }

  /**
   * Drops full pages past the one the next block goes to, keeping one spare (no churn at a page
   * boundary), every page once the class is empty, and halves the owner index once it is four
   * times what is in use: series that all grew out of a class leave neither pages nor index behind
   * (a pipeline of a few long series keeps only the buffers it uses, not a page per size passed).
   */
  #shrink(): void {
    if (this.count === 0) {
      this.pages.length = 0;
      this.#room = 0;
      this.#owners = new Int32Array(MIN_OWNERS);
      return;
    }
    const full = 1 << this.pageBits;
    const needed = Math.max(1, Math.ceil((this.count + 1) / full));
    while (this.pages.length > needed + 1) {
      this.pages.pop();
      this.#room -= full;
    }
    if (this.#owners.length > MIN_OWNERS && this.#owners.length >= 4 * this.count) {
      this.#owners = this.#owners.slice(0, Math.max(MIN_OWNERS, this.#owners.length >>> 1));
    }
  }
}
