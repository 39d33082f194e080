import { ConfigError, StreamcastError } from '../../domain/errors.js';
import type { BaselineOptions } from './pointBaseline.js';
import { PointBaselineForecaster } from './pointBaseline.js';

export interface SeasonalNaiveOptions extends BaselineOptions {
  /** m: the season in steps (e.g. 1440 for a day of 1-minute steps). */
  readonly seasonSteps: number;
}

/** Values a ring starts with; it doubles while its first season fills, up to m. */
const INITIAL_VALUES = 16;

/**
 * The last m values of one series, oldest overwritten first. While the first season fills
 * (head = filled < m), `values` holds only what was learned so far (grown by doubling): a series
 * that sends a few points costs a few values, not a season of them.
 */
interface SeasonRing {
  values: Float64Array;
  /** Values learned since the reset, capped at m. */
  filled: number;
  /** Next write position. */
  head: number;
}

/**
 * Forecasts y(t+h) = y(t + h − m·⌈h/m⌉): the value one (or more, when h > m) season earlier.
 * Until a full season has been seen since the series' last reset it forecasts the last value;
 * `warm(series)` says when that is over (after `warmupSteps` = m steps). Memory: up to 8m bytes
 * per series (float64, so forecasts reproduce the inputs exactly), as the series fills its season.
 */
export class SeasonalNaiveForecaster extends PointBaselineForecaster<SeasonRing> {
  protected readonly kindByte = 2;
  protected readonly layoutParam: number;
  readonly seasonSteps: number;

  constructor(opts: SeasonalNaiveOptions) {
    super(opts);
    if (!Number.isInteger(opts.seasonSteps) || opts.seasonSteps < 1 || opts.seasonSteps > 0xffff_ffff) {
      throw new ConfigError(`seasonSteps must be a positive integer number of steps, got ${opts.seasonSteps}`);
    }
    this.seasonSteps = opts.seasonSteps;
    this.layoutParam = opts.seasonSteps;
  }

  /** Steps after a reset before forecasts are seasonal rather than last-value. */
  get warmupSteps(): number {
    return this.seasonSteps;
  }

  protected newModel(): SeasonRing {
    return { values: new Float64Array(Math.min(INITIAL_VALUES, this.seasonSteps)), filled: 0, head: 0 };
  }

  protected clearModel(ring: SeasonRing): void {
    ring.values.fill(0);
    ring.filled = 0;
    ring.head = 0;
  }

  protected learn(ring: SeasonRing, value: number): void {
    const m = this.seasonSteps;
    if (ring.head >= ring.values.length) {
      // Only while filling (head = filled): a full ring has length m and head < m.
      const next = new Float64Array(Math.min(m, 2 * ring.values.length));
      next.set(ring.values);
      ring.values = next;
    }
    ring.values[ring.head] = value;
    ring.head = ring.head + 1 === m ? 0 : ring.head + 1;
    if (ring.filled < m) ring.filled++;
  }

  protected forecastPoints(ring: SeasonRing, last: number, out: Float64Array): void {
    const m = this.seasonSteps;
    if (ring.filled < m) {
      out.fill(last);
      return;
    }
    // After learning y(t), values[head − 1 − j] holds y(t − j) for j in [0, m).
    // The target t+h reads y(t − j) with j = m·⌈h/m⌉ − h.
    for (let h = 1; h <= out.length; h++) {
      const j = m * Math.ceil(h / m) - h;
      let idx = ring.head - 1 - j;
      if (idx < 0) idx += m;
      out[h - 1] = ring.values[idx]!;
    }
  }

  protected isWarm(ring: SeasonRing): boolean {
    return ring.filled >= this.seasonSteps;
  }

  /** Layout 2 writes the values learned, not the season's capacity (see writeModel). */
  protected modelByteLength(ring: SeasonRing): number {
    return 8 + 8 * ring.filled;
  }

  protected legacyModelByteLength(): number {
    return 8 + 8 * this.seasonSteps;
  }

  /**
   * u32 filled, u32 head, then values[0, filled): while the first season fills, head = filled and
   * the values learned are at [0, filled); once full, all m of them (head is where the oldest is).
   */
  protected writeModel(ring: SeasonRing, view: DataView, offset: number): number {
    view.setUint32(offset, ring.filled, true);
    view.setUint32(offset + 4, ring.head, true);
    let o = offset + 8;
    const n = ring.filled;
    for (let i = 0; i < n; i++, o += 8) view.setFloat64(o, ring.values[i]!, true);
    return o;
  }

  /** Layout 1 (the first build's) held m values whatever `filled`, zeros beyond it. */
  protected readModel(ring: SeasonRing, view: DataView, offset: number, layout: 1 | 2): number {
    const m = this.seasonSteps;
    if (offset + 8 > view.byteLength) throw new StreamcastError('fatal', 'corrupt seasonal-naive snapshot: truncated');
    const filled = view.getUint32(offset, true);
    const head = view.getUint32(offset + 4, true);
    if (filled > m || head >= m || (filled < m && head !== filled)) {
      throw new StreamcastError('fatal', `corrupt seasonal-naive snapshot: filled ${filled}, head ${head}, season ${m} steps`);
    }
    const stored = layout === 1 ? m : filled;
    const o = offset + 8;
    if (o + 8 * stored > view.byteLength) throw new StreamcastError('fatal', `corrupt seasonal-naive snapshot: ${filled} values truncated`);
    ring.filled = filled;
    ring.head = head;
    let size = Math.min(INITIAL_VALUES, m);
    while (size < filled) size = Math.min(m, 2 * size);
    ring.values = new Float64Array(size);
    for (let i = 0; i < filled; i++) ring.values[i] = view.getFloat64(o + 8 * i, true);
    return o + 8 * stored;
  }
}
