import type { SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';
import type { EvictionReason } from '../observability/events.js';
import type { ImputerSnapshot, NormalizerSnapshot, ResamplerSnapshot } from './coreSnapshots.js';
import { SeriesRegistry } from './seriesRegistry.js';
import { decodeSeriesState, encodeSeriesState, type SeriesState } from './stateCodec.js';
import { shapeChanges, type ShapeChange, type StateShape } from './stateShape.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * What the store needs of the forecaster: who wrote a snapshot (a mismatch re-warms rather than
 * restores), and each series' state as bytes.
 */
export interface ForecasterState {
  readonly info: { readonly kind: string; readonly version: number };
  snapshot(series: SeriesId): Uint8Array | undefined;
  /** Throws for a snapshot it cannot take (the store then drops the series' forecaster state). */
  restore(series: SeriesId, snapshot: Uint8Array): void;
  drop(series: SeriesId): void;
}

/** What the store needs of a pipeline core (resampler, imputer, normalizer): one series' state as a snapshot, and back. */
export interface CoreState<S> {
  snapshot(series: SeriesId): S | undefined;
  restore(series: SeriesId, snapshot: S): void;
  drop(series: SeriesId): void;
}

export interface StateCores<F extends ForecasterState = ForecasterState> {
  readonly resampler: CoreState<ResamplerSnapshot>;
  readonly imputer: CoreState<ImputerSnapshot>;
  readonly normalizer: CoreState<NormalizerSnapshot>;
  readonly forecaster: F;
}

/** The pipeline-side half of a checkpoint, taken where no step is between the cores and the forecaster. */
export interface UpstreamCapture {
  readonly series: ReadonlyMap<SeriesId, UpstreamState>;
  /** Series evicted since the last capture, by partition: their changelog keys get tombstones. */
  readonly tombstones: ReadonlyMap<SeriesId, number>;
  /** Series of partitions this instance no longer owns: dropped, not written. */
  readonly dropped: number;
}

interface UpstreamState {
  readonly partition: number;
  readonly resampler: ResamplerSnapshot | undefined;
  readonly imputer: ImputerSnapshot | undefined;
  readonly normalizer: NormalizerSnapshot | undefined;
}

/** One series' encoded state, ready for the changelog partition of its input partition; null: a tombstone (the series was evicted). */
export interface EncodedState {
  readonly series: SeriesId;
  readonly partition: number;
  readonly value: Uint8Array | null;
}

/** Series states taken at a checkpoint, not yet encoded (SeriesStateStore.freeze). */
export type FrozenStates = readonly FrozenState[];

export interface FrozenState {
  readonly series: SeriesId;
  readonly partition: number;
  /** null: a tombstone. */
  readonly state: SeriesState | null;
}

/** `discarded`: readable, but written under a spec whose change voids all of it (see StateShape). */
export type RestoreOutcome = 'restored' | 'rewarm' | 'invalid' | 'discarded';

/** A change of spec found in restored frames, and in how many series' frames. */
export interface SpecChange {
  readonly field: ShapeChange['field'] | 'model.kind';
  readonly old: string;
  readonly new: string;
  readonly drops: ShapeChange['drops'];
  readonly series: number;
}

export interface StateStoreOptions<F extends ForecasterState = ForecasterState, C extends StateCores<F> = StateCores<F>> {
  readonly cores: C;
  /** The spec fields this process's state depends on; written with every frame, checked on restore. */
  readonly shape?: StateShape;
  /** Wall clock: a restored series' idle timer restarts at its restore (nothing could arrive while it was away). */
  readonly now?: () => number;
  /** The spec's `state` bounds (unset: unbounded). */
  readonly bounds?: StateBounds;
  /**
   * The pipeline's series index, which records the partition owning each series and drops a
   * series everywhere (default: the store's own). Cores built on the same registry hear its drops
   * themselves; the store tells its cores as well, so that cores built apart are dropped too.
   */
  readonly registry?: SeriesRegistry;
}

/** How much per-series state one instance keeps (the spec's `state`). */
export interface StateBounds {
  /** At most this many series: a new one evicts the least recently seen. */
  readonly maxSeries?: number | undefined;
  /** A series with no point for this long (clock time, ms) is expired at the next checkpoint. */
  readonly ttlMs?: number | undefined;
}

/** Evictions since the last `takeEvictions`, by reason. */
export type EvictionCounts = Record<EvictionReason, number>;

/**
 * Per-series state of one pipeline on this instance: the resampler, imputer, normalizer and
 * forecaster cores (which the pipeline runs), which input partition owns each series, the last
 * step consumed, and which series changed since the last checkpoint.
 *
 * Checkpoints are two-phase so that they cut the stream consistently: `captureUpstream` runs
 * where a micro-batch forms (the pipeline cores then hold exactly the records read so far, minus
 * steps still queued for the forecaster), `finish` runs right after the forecaster consumed that
 * batch (so the queued steps are in the forecaster's state). Nothing in between is lost: a series
 * dirtied after the capture stays dirty for the next checkpoint.
 *
 * This file is over 400 lines because every operation here (touch, capture, finish, encode, restore, bounds,
 * drop) reads and writes the same private maps (dirty, seen, tombstones, last step); split apart,
 * those maps would have to be shared across files.
 */
export class SeriesStateStore<F extends ForecasterState = ForecasterState, C extends StateCores<F> = StateCores<F>> {
  /** The cores as the owner built them (the runtime hands the concrete ones to the pipeline it runs). */
  readonly cores: C;
  /** Which series this instance keeps, the partition owning each, and who forgets a dropped one. */
  readonly registry: SeriesRegistry;
  private readonly now: () => number;
  private readonly lastStep = new Map<SeriesId, number>();
  /**
   * When each series' last point was read (clock time): for the event-to-forecast latency, and,
   * with bounds, in least recently seen order (a touched series moves to the end), so that expiry
   * and eviction take series from the front: O(1) per series evicted, nothing per idle series.
   */
  private readonly seen = new Map<SeriesId, number>();
  private readonly bounded: boolean;
  private dirty = new Set<SeriesId>();
  private tombstones = new Map<SeriesId, number>();
  private readonly shape: StateShape | undefined;
  /** Spec changes seen by `restore` since the last `takeSpecChanges`, per partition, by field, old and new value. */
  private readonly specChanges = new Map<number, Map<string, { change: Omit<SpecChange, 'series'>; series: number }>>();
  private evictions: EvictionCounts = { ttl: 0, max_series: 0 };

  constructor(opts: StateStoreOptions<F, C>) {
    this.cores = opts.cores;
    this.registry = opts.registry ?? new SeriesRegistry();
    // Registered once: every drop (evicted, expired, revoked, re-restored) goes through the registry.
    this.registry.onDrop((series) => this.forgetHere(series));
    this.now = opts.now ?? Date.now;
    this.shape = opts.shape;
    this.bounds = opts.bounds ?? {};
    this.bounded = this.bounds.maxSeries !== undefined || this.bounds.ttlMs !== undefined;
  }

  readonly bounds: StateBounds;

  /**
   * Calls `listener` for every series this store drops (evicted, expired, revoked, re-restored),
   * so that what is kept beside the store per series (latest forecasts, live accuracy cells) is
   * dropped with it: the store is the one owner of "forget this series everywhere".
   */
  onDrop(listener: (series: SeriesId) => void): void {
    this.registry.onDrop(listener);
  }

  /** What `restore` found changed in `partition`'s frames since they were written (drains its tally). */
  takeSpecChanges(partition: number): SpecChange[] {
    const tally = this.specChanges.get(partition);
    this.specChanges.delete(partition);
    return tally === undefined ? [] : [...tally.values()].map(({ change, series }) => ({ ...change, series }));
  }

  private noteChange(partition: number, change: Omit<SpecChange, 'series'>): void {
    let tally = this.specChanges.get(partition);
    if (tally === undefined) this.specChanges.set(partition, (tally = new Map()));
    const key = `${change.field}\u0000${change.old}\u0000${change.new}`;
    const seen = tally.get(key);
    if (seen === undefined) tally.set(key, { change, series: 1 });
    else seen.series++;
  }

  /** Partitions whose series this instance may keep. */
  own(partitions: Iterable<number>): void {
    this.registry.own(partitions);
  }

  owns(partition: number): boolean {
    return this.registry.owns(partition);
  }

  /**
   * A point of `series` was read from input `partition` (input keyed by series: one partition per
   * series) at clock time `at`. With `state.maxSeries`, a new series beyond it evicts the least
   * recently seen one (LRU: an operator would rather lose the state of a series that went quiet
   * than refuse a new one; a refused series would be dead-lettered point after point).
   */
  touch(series: SeriesId, partition: number, at = this.now()): void {
    const known = this.registry.partitionOf(series);
    if (known !== partition) this.registry.assign(series, partition);
    this.dirty.add(series);
    if (!this.bounded) {
      this.seen.set(series, at);
      return;
    }
    this.seen.delete(series);
    this.seen.set(series, at);
    if (this.tombstones.size > 0) this.tombstones.delete(series);
    const max = this.bounds.maxSeries;
    if (known === undefined && max !== undefined) {
      while (this.registry.assigned > max) {
        const oldest = this.seen.keys().next().value;
        if (oldest === undefined || oldest === series) break;
        this.evict(oldest, 'max_series');
      }
    }
  }

  /** Clock time of the series' last point (or restore). */
  lastSeen(series: SeriesId): number | undefined {
    return this.seen.get(series);
  }

  /** Expires every series with no point for `state.ttl` (clock time) before `now`; returns how many. */
  expire(now = this.now()): number {
    const ttl = this.bounds.ttlMs;
    if (ttl === undefined) return 0;
    let n = 0;
    for (const [series, at] of this.seen) {
      if (now - at < ttl) break; // least recently seen first: the rest are newer
      this.evict(series, 'ttl');
      n++;
    }
    return n;
  }

  /** Evictions (and expiries) since the last call, by reason; resets the counts. */
  takeEvictions(): EvictionCounts {
    const out = this.evictions;
    this.evictions = { ttl: 0, max_series: 0 };
    return out;
  }

  /** Drops a series everywhere and tombstones its changelog key at the next checkpoint. */
  private evict(series: SeriesId, reason: EvictionReason): void {
    const partition = this.registry.partitionOf(series);
    this.dropSeries(series);
    if (partition !== undefined && this.registry.owns(partition)) this.tombstones.set(series, partition);
    this.evictions[reason]++;
  }

  partitionOf(series: SeriesId): number | undefined {
    return this.registry.partitionOf(series);
  }

  /**
   * The cores emitted these steps (a batch formed): their series changed (an idle close changes a
   * series no point touched). Marked here, not when the forecaster consumes them: a checkpoint
   * cut after this batch formed copies the forecaster's state once the batch was stepped, so the
   * steps are that checkpoint's, and marking them again as they are stepped wrote every series of
   * a burst twice (its state unchanged the second time).
   */
  emitted(steps: readonly NormalizedStep[]): void {
    for (const s of steps) this.dirty.add(s.series);
  }

  /** The forecaster consumed these steps (their series were marked changed by `emitted`). */
  stepped(steps: readonly NormalizedStep[]): void {
    for (const s of steps) this.lastStep.set(s.series, s.ts);
  }

  get size(): number {
    return this.registry.assigned;
  }

  dirtyCount(): number {
    return this.dirty.size;
  }

  /** Phase one: snapshots the pipeline cores of every dirty series and starts a new dirty set. */
  captureUpstream(): UpstreamCapture {
    const { resampler, imputer, normalizer } = this.cores;
    const out = new Map<SeriesId, UpstreamState>();
    let dropped = 0;
    for (const series of this.dirty) {
      const partition = this.registry.partitionOf(series);
      if (partition === undefined || !this.registry.owns(partition)) {
        // Steps of a revoked partition that were still in flight: its new owner redoes them.
        this.dropSeries(series);
        dropped++;
        continue;
      }
      out.set(series, { partition, resampler: resampler.snapshot(series), imputer: imputer.snapshot(series), normalizer: normalizer.snapshot(series) });
    }
    this.dirty = new Set();
    const tombstones = this.tombstones;
    if (tombstones.size > 0) this.tombstones = new Map();
    return { series: out, tombstones, dropped };
  }

  /** Phase two: adds the forecaster's state and encodes; call right after the batch of the capture was stepped. */
  finish(capture: UpstreamCapture): EncodedState[] {
    return this.encode(this.freeze(capture));
  }

  /**
   * The part of phase two that cannot wait: the forecaster's state (a copy) and last step of
   * each captured series, taken before the forecaster steps another batch. Encoding them
   * (`encode`) can then wait, in slices, while the pipeline goes on.
   */
  freeze(capture: UpstreamCapture): FrozenStates {
    const states: FrozenState[] = [];
    for (const slice of this.freezeSlices(capture, Number.POSITIVE_INFINITY)) for (const s of slice) states.push(s);
    return states;
  }

  /**
   * `freeze` in slices of at most `size` series, for a caller that yields to the event loop between
   * them (heartbeats, fetches, acknowledgements) while it holds the forecaster still: copying the
   * state of an idle close of 200k series at once blocked the thread for seconds.
   */
  *freezeSlices(capture: UpstreamCapture, size: number): Generator<FrozenState[]> {
    const f = this.cores.forecaster;
    const model = { kind: f.info.kind, version: f.info.version };
    let states: FrozenState[] = [];
    for (const [series, partition] of capture.tombstones) if (this.registry.owns(partition)) states.push({ series, partition, state: null });
    for (const [series, u] of capture.series) {
      if (states.length >= size) {
        yield states;
        states = [];
      }
      if (!this.registry.owns(u.partition)) continue;
      const forecaster = f.snapshot(series);
      const lastStep = this.lastStep.get(series);
      // Built field by field: this runs for every changed series at every checkpoint.
      const state: Mutable<SeriesState> = { model };
      if (this.shape !== undefined) state.shape = this.shape;
      if (u.resampler !== undefined) state.resampler = u.resampler;
      if (u.imputer !== undefined) state.imputer = u.imputer;
      if (u.normalizer !== undefined) state.normalizer = u.normalizer;
      if (forecaster !== undefined) state.forecaster = forecaster;
      if (lastStep !== undefined) state.lastStep = lastStep;
      states.push({ series, partition: u.partition, state });
    }
    yield states;
  }

  /** Encodes frozen states [from, to) (default all); pure: the store's state is not read. */
  encode(frozen: FrozenStates, from = 0, to = frozen.length): EncodedState[] {
    const out: EncodedState[] = [];
    for (let i = from; i < Math.min(to, frozen.length); i++) {
      const { series, partition, state } = frozen[i]!;
      out.push({ series, partition, value: state === null ? null : encodeSeriesState(state) });
    }
    return out;
  }

  /**
   * Restores one series from a changelog record. A frame this build cannot read, or a core
   * snapshot its core rejects, leaves the series empty ('invalid': it starts afresh). Forecaster
   * state from another model kind or version, or that the forecaster refuses, is not restored
   * ('rewarm'): the pipeline cores are, and the forecaster warms the series up again. A frame
   * written under a spec change that voids its state (StateShape) is 'discarded' (window.step:
   * every core's state is on the old grid) or 'rewarm' (the forecaster's fields); either way the
   * change is tallied for `takeSpecChanges`, so that the caller can say what changed.
   */
  restore(series: SeriesId, partition: number, bytes: Uint8Array): RestoreOutcome {
    const { resampler, imputer, normalizer, forecaster } = this.cores;
    this.dropSeries(series);
    let state;
    let forecasterVoid = false;
    try {
      state = decodeSeriesState(bytes);
      if (this.shape !== undefined && state.shape !== undefined) {
        const changes = shapeChanges(state.shape, this.shape);
        for (const c of changes) this.noteChange(partition, c);
        if (changes.some((c) => c.drops === 'all')) return 'discarded';
        forecasterVoid = changes.length > 0;
      }
      // The idle timer restarts now: during the downtime nothing could arrive, and closing the
      // series' open windows at once would make the records about to be re-read late.
      if (state.resampler !== undefined) resampler.restore(series, { ...state.resampler, lastArrival: this.now() });
      if (state.imputer !== undefined) imputer.restore(series, state.imputer);
      if (state.normalizer !== undefined) normalizer.restore(series, state.normalizer);
    } catch (err) {
      void err; // the cores throw `fatal` StreamcastErrors for state they cannot take: start afresh
      this.dropSeries(series);
      return 'invalid';
    }
    this.registry.assign(series, partition);
    // Seen now: its ttl and its place in the eviction order start at the restore.
    this.seen.set(series, this.now());
    if (state.lastStep !== undefined) this.lastStep.set(series, state.lastStep);
    const info = forecaster.info;
    if (state.forecaster === undefined) return 'restored'; // no step forecast yet: nothing to re-warm
    if (state.model.kind !== info.kind) {
      // Another kind of model serves now (a version change alone is a routine promotion: no note).
      this.noteChange(partition, { field: 'model.kind', old: state.model.kind, new: info.kind, drops: 'forecaster' });
      return 'rewarm';
    }
    if (forecasterVoid || state.model.version !== info.version) return 'rewarm';
    try {
      forecaster.restore(series, state.forecaster);
    } catch (err) {
      void err; // another forecaster's snapshot: misusing it would be worse than re-warming
      forecaster.drop(series);
      return 'rewarm';
    }
    return 'restored';
  }

  /** Forgets one series everywhere, without a tombstone (its changelog key has one: a restore read it). */
  forget(series: SeriesId): void {
    this.dropSeries(series);
  }

  /** Forgets every series of these partitions (revoked); returns how many. */
  dropPartitions(partitions: Iterable<number>): number {
    return this.registry.dropPartitions(partitions).length;
  }

  private dropSeries(series: SeriesId): void {
    this.registry.drop(series);
  }

  /**
   * The store's part of a drop: its cores (idempotent, so cores that heard the registry
   * themselves take no harm) and its own per-series maps.
   */
  private forgetHere(series: SeriesId): void {
    const { resampler, imputer, normalizer, forecaster } = this.cores;
    resampler.drop(series);
    imputer.drop(series);
    normalizer.drop(series);
    forecaster.drop(series);
    this.lastStep.delete(series);
    this.seen.delete(series);
    this.dirty.delete(series);
  }
}
