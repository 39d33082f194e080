import { StreamcastError } from '../../domain/errors.js';
import type { SeriesId } from '../../domain/point.js';
import { SlotPages } from '../../domain/seriesSlots.js';
import { type HeldSlots, SeriesRegistry } from '../../state/seriesRegistry.js';

const SNAPSHOT_MAGIC = 0x31484753; // "SGH1" little-endian: Streamcast GRU Hidden, format 1
const SNAPSHOT_HEADER = 8; // magic u32 + units u32
// 1024 slots a page: 256 KB at H = 64.
const PAGE_BITS = 10;
const PAGE_MASK = (1 << PAGE_BITS) - 1;

/**
 * Every series' GRU hidden state in Float32Array pages of 1024 slots × H, indexed by slot: 4·H
 * bytes per series plus an entry in the series index (SeriesSlots, about 20 bytes), instead of a
 * tensor or an object each. The first page doubles from `initialCapacity` up to a full page; after
 * that whole pages are added, never copied, so the slack is less than one page (256 KB at H = 64)
 * rather than up to 2× the states. A `row` view into page 0 is only valid until the next `slotOf`.
 * Freed slots are reused (LIFO, so the hot end of the slab stays hot).
 */
export class HiddenStateSlab {
  readonly units: number;
  readonly #slots: HeldSlots;
  readonly #pages: SlotPages<Float32Array>;

  /** `registry`: the pipeline's series index, shared with its other per-series structures (default: its own). */
  constructor(units: number, initialCapacity = 64, registry = new SeriesRegistry()) {
    if (!Number.isInteger(units) || units < 1) throw new StreamcastError('fatal', `hidden state units is ${units}; expected a positive integer`);
    this.units = units;
    this.#slots = registry.hold();
    this.#pages = new SlotPages(units, (n) => new Float32Array(n), initialCapacity, PAGE_BITS);
  }

  /** Slots addressable without growing. */
  get capacity(): number {
    return this.#pages.capacity;
  }

  /** Series with a slot. */
  get size(): number {
    return this.#slots.size;
  }

  /** Bytes held by the pages (excluding the series index). */
  get bytes(): number {
    return this.#pages.bytes;
  }

  has(series: SeriesId): boolean {
    return this.#slots.has(series);
  }

  /** The series' slot, allocating a zeroed one (h₀ = 0, as tf.layers starts) when it has none. */
  slotOf(series: SeriesId): number {
    const existing = this.#slots.get(series);
    if (existing !== undefined) return existing;
    const slot = this.#slots.add(series);
    // A shared index may hand out a slot below its high water that is new to these pages.
    if (slot >= this.#pages.capacity) this.#pages.ensure(slot); // new storage is zeroed
    else this.zero(slot);
    return slot;
  }

  /** Releases the series' slot for reuse; false when it had none. */
  free(series: SeriesId): boolean {
    return this.#slots.delete(series) !== undefined;
  }

  /** Lets go of every series' slot (the model is being disposed). */
  close(): void {
    this.#slots.close();
  }

  zero(slot: number): void {
    const o = (slot & PAGE_MASK) * this.units;
    this.#pages.pages[slot >>> PAGE_BITS]!.fill(0, o, o + this.units);
  }

  /**
   * A view of one slot's H floats, for reading or writing a state directly (tests, tools). A view
   * into the first page is only valid until the next `slotOf`, which may grow that page.
   */
  row(slot: number): Float32Array {
    const o = (slot & PAGE_MASK) * this.units;
    return this.#pages.pages[slot >>> PAGE_BITS]!.subarray(o, o + this.units);
  }

  /** Copies the states of `slots[0..B)` into `out` (B×H). */
  gather(slots: Int32Array, B: number, out: Float32Array): void {
    const H = this.units;
    const pages = this.#pages.pages;
    // Plain loops: subarray() allocates a view per row, which costs more than copying 64 floats.
    for (let b = 0; b < B; b++) {
      const slot = slots[b]!;
      const d = pages[slot >>> PAGE_BITS]!;
      const s = (slot & PAGE_MASK) * H;
      const o = b * H;
      for (let k = 0; k < H; k++) out[o + k] = d[s + k]!;
    }
  }

  /** Writes rows of `src` (B×H) back to `slots[0..B)`. */
  scatter(slots: Int32Array, B: number, src: Float32Array): void {
    const H = this.units;
    const pages = this.#pages.pages;
    for (let b = 0; b < B; b++) {
      const slot = slots[b]!;
      const d = pages[slot >>> PAGE_BITS]!;
      const s = (slot & PAGE_MASK) * H;
      const o = b * H;
      for (let k = 0; k < H; k++) d[s + k] = src[o + k]!;
    }
  }

  /** One series' state as bytes (header + H little-endian float32), or undefined when unknown. */
  snapshot(series: SeriesId): Uint8Array | undefined {
    const slot = this.#slots.get(series);
    if (slot === undefined) return undefined;
    const H = this.units;
    const bytes = new Uint8Array(SNAPSHOT_HEADER + 4 * H);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, SNAPSHOT_MAGIC, true);
    view.setUint32(4, H, true);
    const row = this.row(slot);
    for (let k = 0; k < H; k++) view.setFloat32(SNAPSHOT_HEADER + 4 * k, row[k]!, true);
    return bytes;
  }

  /**
   * Replaces (or creates) the series' state from `snapshot`. A snapshot from a model with another
   * hidden size is refused: the caller should drop it and let the series re-warm from history.
   */
  restore(series: SeriesId, snapshot: Uint8Array): void {
    const H = this.units;
    if (snapshot.byteLength < SNAPSHOT_HEADER) throw this.#bad(series, `${snapshot.byteLength} bytes is shorter than the header`);
    const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    if (view.getUint32(0, true) !== SNAPSHOT_MAGIC) throw this.#bad(series, 'not a GRU hidden-state snapshot');
    const units = view.getUint32(4, true);
    if (units !== H) throw this.#bad(series, `it holds ${units} units, this model has ${H}`);
    if (snapshot.byteLength !== SNAPSHOT_HEADER + 4 * H) throw this.#bad(series, `${snapshot.byteLength} bytes, expected ${SNAPSHOT_HEADER + 4 * H}`);
    const state = new Float32Array(H);
    for (let k = 0; k < H; k++) {
      const v = view.getFloat32(SNAPSHOT_HEADER + 4 * k, true);
      if (!Number.isFinite(v)) throw this.#bad(series, `unit ${k} is ${v}`);
      state[k] = v;
    }
    this.row(this.slotOf(series)).set(state);
  }

  #bad(series: SeriesId, why: string): StreamcastError {
    return new StreamcastError('fatal', `refusing GRU state snapshot for series ${JSON.stringify(series)}: ${why}; drop the snapshot and let the series re-warm`);
  }
}
