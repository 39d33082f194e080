import { StreamcastError } from '../../domain/errors.js';
import type { SeriesId } from '../../domain/point.js';

const SNAPSHOT_MAGIC = 0x31484753; // "SGH1" little-endian: Streamcast GRU Hidden, format 1
const SNAPSHOT_HEADER = 8; // magic u32 + units u32

/**
 * Every series' GRU hidden state in one Float32Array (capacity × H), indexed by slot: 4·H bytes
 * per series plus one Map entry, instead of a tensor or an object each. The slab doubles when
 * full, so a reference to `data` is only valid until the next `slotOf`. Freed slots are reused
 * (LIFO, so the hot end of the slab stays hot).
 */
export class HiddenStateSlab {
  readonly units: number;
  #data: Float32Array;
  #capacity: number;
  #used = 0; // slots ever handed out; [used, capacity) is untouched
  readonly #slots = new Map<SeriesId, number>();
  #free = new Int32Array(16);
  #freeCount = 0;

  constructor(units: number, initialCapacity = 64) {
    if (!Number.isInteger(units) || units < 1) throw new StreamcastError('fatal', `hidden state units is ${units}; expected a positive integer`);
    this.units = units;
    this.#capacity = Math.max(1, Math.ceil(initialCapacity));
    this.#data = new Float32Array(this.#capacity * units);
  }

  /** The slab; re-read it after any `slotOf`, which may grow (replace) it. */
  get data(): Float32Array {
    return this.#data;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Series with a slot. */
  get size(): number {
    return this.#slots.size;
  }

  /** Bytes held by the slab itself (excluding the Map). */
  get bytes(): number {
    return this.#data.byteLength + this.#free.byteLength;
  }

  has(series: SeriesId): boolean {
    return this.#slots.has(series);
  }

  /** The series' slot, allocating a zeroed one (h₀ = 0, as tf.layers starts) when it has none. */
  slotOf(series: SeriesId): number {
    const existing = this.#slots.get(series);
    if (existing !== undefined) return existing;
    let slot: number;
    if (this.#freeCount > 0) {
      slot = this.#free[--this.#freeCount]!;
      this.zero(slot);
    } else {
      if (this.#used === this.#capacity) this.#grow();
      slot = this.#used++;
    }
    this.#slots.set(series, slot);
    return slot;
  }

  /** Releases the series' slot for reuse; false when it had none. */
  free(series: SeriesId): boolean {
    const slot = this.#slots.get(series);
    if (slot === undefined) return false;
    this.#slots.delete(series);
    if (this.#freeCount === this.#free.length) {
      const next = new Int32Array(this.#free.length * 2);
      next.set(this.#free);
      this.#free = next;
    }
    this.#free[this.#freeCount++] = slot;
    return true;
  }

  zero(slot: number): void {
    this.#data.fill(0, slot * this.units, (slot + 1) * this.units);
  }

  /** Copies the states of `slots[0..B)` into `out` (B×H). */
  gather(slots: Int32Array, B: number, out: Float32Array): void {
    const H = this.units;
    const d = this.#data;
    // Plain loops: subarray() allocates a view per row, which costs more than copying 64 floats.
    for (let b = 0; b < B; b++) {
      const s = slots[b]! * H;
      const o = b * H;
      for (let k = 0; k < H; k++) out[o + k] = d[s + k]!;
    }
  }

  /** Writes rows of `src` (B×H) back to `slots[0..B)`. */
  scatter(slots: Int32Array, B: number, src: Float32Array): void {
    const H = this.units;
    const d = this.#data;
    for (let b = 0; b < B; b++) {
      const s = slots[b]! * H;
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
    const base = slot * H;
    for (let k = 0; k < H; k++) view.setFloat32(SNAPSHOT_HEADER + 4 * k, this.#data[base + k]!, true);
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
    const slot = this.slotOf(series);
    this.#data.set(state, slot * H);
  }

  #bad(series: SeriesId, why: string): StreamcastError {
    return new StreamcastError('fatal', `refusing GRU state snapshot for series ${JSON.stringify(series)}: ${why}; drop the snapshot and let the series re-warm`);
  }

  #grow(): void {
    const next = new Float32Array(this.#capacity * 2 * this.units);
    next.set(this.#data);
    this.#data = next;
    this.#capacity *= 2;
  }
}
