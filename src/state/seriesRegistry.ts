import type { SeriesId } from '../domain/point.js';
import { SeriesSlots } from '../domain/seriesSlots.js';

/** Told that a series is dropped everywhere (while its slot, if any, is still its own). */
export type SeriesDropListener = (series: SeriesId) => void;

const NO_PARTITION = -1;

/**
 * The one owner of which series a pipeline holds state for on this instance: one dense slot index
 * (SeriesSlots) shared by every per-series structure of the pipeline (pipeline cores, history,
 * hidden states), and which input partition owns each series, so that a revoked partition's
 * series are found and dropped together, like the stores of a Kafka Streams task.
 *
 * A structure takes its view with `hold()` (HeldSlots: the series it has state for, by the
 * registry's slot), and registers what must be forgotten with a series with `onDrop`, once.
 * Because every structure indexes its typed arrays by the same slot, a series costs one hash
 * entry however many structures keep state for it, and the structures that a step passes through
 * one after another find it in the index's last-found cache instead of hashing it again.
 *
 * A slot lives while a structure holds it or a partition is assigned to its series; `drop`
 * releases it everywhere at once (listeners first, while the slot is still the series').
 */
export class SeriesRegistry {
  readonly #slots = new SeriesSlots();
  /** Structures holding each slot. */
  #holders = new Uint16Array(16);
  /** The input partition owning each slot's series, or NO_PARTITION. */
  #partition = new Int32Array(16).fill(NO_PARTITION);
  readonly #views: HeldSlots[] = [];
  readonly #listeners: SeriesDropListener[] = [];
  readonly #owned = new Set<number>();
  #assigned = 0;

  /** Series with a slot. */
  get size(): number {
    return this.#slots.size;
  }

  /** Slots ever handed out: every slot is < highWater. */
  get highWater(): number {
    return this.#slots.highWater;
  }

  slotOf(series: SeriesId): number | undefined {
    return this.#slots.get(series);
  }

  has(series: SeriesId): boolean {
    return this.#slots.has(series);
  }

  /** Series assigned to a partition. */
  get assigned(): number {
    return this.#assigned;
  }

  /** Every series with a slot, in slot order. */
  series(): IterableIterator<SeriesId> {
    return this.#slots.keys();
  }

  /** Every series with its slot, in slot order. */
  entries(): IterableIterator<[SeriesId, number]> {
    return this.#slots.entries();
  }

  /** A structure's view of the index: the series it holds state for. */
  hold(): HeldSlots {
    const view = new HeldSlots(this, this.#slots);
    this.#views.push(view);
    return view;
  }

  /**
   * Calls `listener` whenever a series is dropped through the registry (`drop`, `dropPartitions`),
   * so that a structure kept beside the registered ones forgets it too. Register once, at
   * construction; the function returned unregisters (a structure disposed before the registry).
   */
  onDrop(listener: SeriesDropListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** Partitions whose series this instance may keep. */
  own(partitions: Iterable<number>): void {
    for (const p of partitions) this.#owned.add(p);
  }

  owns(partition: number): boolean {
    return this.#owned.has(partition);
  }

  /** Records that input `partition` owns `series` (input is keyed by series: one partition each). */
  assign(series: SeriesId, partition: number): void {
    const slot = this.#acquire(series);
    this.#holders[slot]!--; // the assignment keeps the slot, not as a holder: `drop` or `dropPartitions` ends it
    if (this.#partition[slot] === NO_PARTITION) this.#assigned++;
    this.#partition[slot] = partition;
  }

  partitionOf(series: SeriesId): number | undefined {
    const slot = this.#slots.get(series);
    if (slot === undefined) return undefined;
    const p = this.#partition[slot]!;
    return p === NO_PARTITION ? undefined : p;
  }

  /** The series assigned to `partition`, in slot order. */
  seriesOf(partition: number): SeriesId[] {
    const out: SeriesId[] = [];
    for (const [series, slot] of this.#slots.entries()) if (this.#partition[slot] === partition) out.push(series);
    return out;
  }

  /**
   * Forgets `series` in every structure: listeners are told (the slot is still the series'), then
   * every view lets go of the slot and the slot is freed. Listeners are told even when the series
   * has no slot: a structure that keeps its own index may still hold it. False when it had none.
   */
  drop(series: SeriesId): boolean {
    for (const l of this.#listeners) l(series);
    const slot = this.#slots.get(series);
    if (slot === undefined) return false;
    for (const v of this.#views) v.release(slot);
    if (this.#partition[slot] !== NO_PARTITION) this.#assigned--;
    this.#partition[slot] = NO_PARTITION;
    this.#holders[slot] = 0;
    this.#slots.delete(series);
    return true;
  }

  /** Stops owning `partitions` and drops every series assigned to them; returns the series dropped. */
  dropPartitions(partitions: Iterable<number>): SeriesId[] {
    const gone = new Set(partitions);
    for (const p of gone) this.#owned.delete(p);
    const dropped: SeriesId[] = [];
    for (const [series, slot] of this.#slots.entries()) if (gone.has(this.#partition[slot]!)) dropped.push(series);
    for (const s of dropped) this.drop(s);
    return dropped;
  }

  /** A disposed structure's view: it no longer hears of drops (it let go of its slots first). */
  detach(view: HeldSlots): void {
    const i = this.#views.indexOf(view);
    if (i >= 0) this.#views.splice(i, 1);
  }

  /** The series' slot, adding it when it has none; counts one more holder. */
  acquire(series: SeriesId): number {
    return this.#acquire(series);
  }

  /** One holder fewer for `slot`; the slot is freed when none is left and no partition is assigned. */
  release(series: SeriesId, slot: number): void {
    const left = --this.#holders[slot]!;
    if (left <= 0 && this.#partition[slot] === NO_PARTITION) {
      this.#holders[slot] = 0;
      this.#slots.delete(series);
    }
  }

  #acquire(series: SeriesId): number {
    let slot = this.#slots.get(series);
    if (slot === undefined) {
      slot = this.#slots.add(series);
      if (slot >= this.#holders.length) this.#grow(slot);
      this.#holders[slot] = 0;
      this.#partition[slot] = NO_PARTITION;
    }
    this.#holders[slot]!++;
    return slot;
  }

  #grow(slot: number): void {
    let n = this.#holders.length;
    while (n <= slot) n *= 2;
    const holders = new Uint16Array(n);
    holders.set(this.#holders);
    this.#holders = holders;
    const partition = new Int32Array(n).fill(NO_PARTITION);
    partition.set(this.#partition);
    this.#partition = partition;
  }
}

/**
 * One structure's slots in a SeriesRegistry: the series it holds state for, each at the
 * registry's slot (so the structure's typed arrays line up with every other structure's). The
 * same interface as SeriesSlots, except that a slot handed out by `add` may be below `highWater`
 * while new to this structure: initialise its contents on `add`, as with SeriesSlots.
 */
export class HeldSlots {
  readonly #registry: SeriesRegistry;
  /** The registry's index, read directly: `get` runs for every step in every structure. */
  readonly #index: SeriesSlots;
  #held = new Uint8Array(16);
  #size = 0;

  /** Made by `SeriesRegistry.hold`. */
  constructor(registry: SeriesRegistry, index: SeriesSlots) {
    this.#registry = registry;
    this.#index = index;
  }

  /** Series this structure holds. */
  get size(): number {
    return this.#size;
  }

  /** The registry's: every slot is < highWater. */
  get highWater(): number {
    return this.#registry.highWater;
  }

  get(series: SeriesId): number | undefined {
    const slot = this.#index.get(series);
    return slot !== undefined && this.#held[slot] === 1 ? slot : undefined;
  }

  has(series: SeriesId): boolean {
    return this.get(series) !== undefined;
  }

  /** The series' slot, which this structure must not hold yet (the registry's if the series has one). */
  add(series: SeriesId): number {
    const slot = this.#registry.acquire(series);
    if (slot >= this.#held.length) {
      let n = this.#held.length;
      while (n <= slot) n *= 2;
      const held = new Uint8Array(n);
      held.set(this.#held);
      this.#held = held;
    }
    this.#held[slot] = 1;
    this.#size++;
    return slot;
  }

  /** Lets go of the series' slot; returns it, or undefined when this structure did not hold it. */
  delete(series: SeriesId): number | undefined {
    const slot = this.get(series);
    if (slot === undefined) return undefined;
    this.#held[slot] = 0;
    this.#size--;
    this.#registry.release(series, slot);
    return slot;
  }

  *keys(): IterableIterator<SeriesId> {
    for (const [series] of this.entries()) yield series;
  }

  *values(): IterableIterator<number> {
    for (const [, slot] of this.entries()) yield slot;
  }

  *entries(): IterableIterator<[SeriesId, number]> {
    for (const e of this.#registry.entries()) if (this.#held[e[1]] === 1) yield e;
  }

  /** Lets go of every slot held and leaves the registry: the structure is disposed. */
  close(): void {
    const held: [SeriesId, number][] = [...this.entries()];
    for (const [series, slot] of held) {
      this.#held[slot] = 0;
      this.#size--;
      this.#registry.release(series, slot);
    }
    this.#registry.detach(this);
  }

  /** The registry dropped the series at `slot` everywhere (it frees the slot itself). */
  release(slot: number): void {
    if (slot < this.#held.length && this.#held[slot] === 1) {
      this.#held[slot] = 0;
      this.#size--;
    }
  }
}
