import { ConfigError, StreamcastError } from '../../domain/errors.js';
import { normalQuantile } from '../../domain/quantiles.js';

export const DEFAULT_RESIDUAL_WINDOW = 100;
export const DEFAULT_MIN_RESIDUALS = 10;

/** The largest finite float32: residuals are stored as float32 and must not overflow to ±Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;

export interface ResidualQuantileOptions {
  readonly horizon: number;
  readonly stepMs: number;
  /** Sorted ascending, each in (0, 1). */
  readonly quantiles: readonly number[];
  /** R: the most recent residuals kept per horizon (default 100, at most 65535). */
  readonly window?: number;
  /** Below this many residuals a horizon uses the Gaussian fallback band (default 10). */
  readonly minResiduals?: number;
}

/** Settings shared by every series' `ResidualQuantiles`; validated once. */
export class ResidualQuantileConfig {
  readonly horizon: number;
  readonly stepMs: number;
  readonly window: number;
  readonly minResiduals: number;
  readonly levels: Float64Array;
  /** Φ⁻¹(level) per level, for the fallback band. */
  readonly z: Float64Array;
  /** √h per horizon index: the fallback band widens like a random walk's. */
  readonly sqrtH: Float64Array;

  constructor(opts: ResidualQuantileOptions) {
    const window = opts.window ?? DEFAULT_RESIDUAL_WINDOW;
    const minResiduals = opts.minResiduals ?? DEFAULT_MIN_RESIDUALS;
    if (!Number.isInteger(opts.horizon) || opts.horizon < 1) throw new ConfigError(`horizon must be a positive integer, got ${opts.horizon}`);
    if (!Number.isFinite(opts.stepMs) || opts.stepMs <= 0) throw new ConfigError(`stepMs must be positive, got ${opts.stepMs}`);
    if (!Number.isInteger(window) || window < 2 || window > 65_535) {
      throw new ConfigError(`residual window must be an integer in [2, 65535], got ${window}`);
    }
    if (!Number.isInteger(minResiduals) || minResiduals < 1 || minResiduals > window) {
      throw new ConfigError(`minResiduals must be an integer in [1, window=${window}], got ${minResiduals}`);
    }
    opts.quantiles.forEach((q, i) => {
      if (!(q > 0 && q < 1)) throw new ConfigError(`quantile levels must be in (0, 1), got ${q}`);
      if (i > 0 && !(q > opts.quantiles[i - 1]!)) throw new ConfigError('list quantile levels in increasing order without repeats');
    });
    this.horizon = opts.horizon;
    this.stepMs = opts.stepMs;
    this.window = window;
    this.minResiduals = minResiduals;
    this.levels = Float64Array.from(opts.quantiles);
    this.z = Float64Array.from(opts.quantiles, normalQuantile);
    this.sqrtH = Float64Array.from({ length: opts.horizon }, (_, i) => Math.sqrt(i + 1));
  }

  /** Bytes of a layout-1 residual state (every ring at full size), which `read` still accepts. */
  get legacyByteLength(): number {
    const H = this.horizon;
    return 8 * H + 8 * H * H + H * (4 + 4 + 4 * this.window);
  }
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

/**
 * One series' empirical forecast-error distribution per horizon.
 *
 * It keeps the point forecasts made at the last H origins (an H×H ring, slot = grid index of the
 * origin mod H, with the origin's ts stored to detect stale slots) and, per horizon, the most
 * recent R residuals `actual − forecast made h steps earlier` in a float32 ring plus a sorted
 * float32 copy maintained incrementally (binary search + one memmove per insert/evict), so a
 * quantile is an O(1) lookup instead of a sort per step. Memory: 8H + 8H² + H(8 + 8R) bytes
 * (≈ 11 KiB for H = 12, R = 100), of which the 8HR of residuals only from the first residual on;
 * its snapshot holds only the origins recorded and the residuals kept (`write`).
 */
export class ResidualQuantiles {
  private readonly originTs: Float64Array;
  private readonly points: Float64Array;
  /**
   * The residual rings and their sorted copies: allocated at the first residual (H steps into a
   * series), so that the many series that never get that far do not carry H·R·8 bytes of zeros.
   */
  private ring: Float32Array | undefined;
  private sorted: Float32Array | undefined;
  private readonly counts: Uint32Array;
  private readonly heads: Uint32Array;

  constructor(private readonly cfg: ResidualQuantileConfig) {
    const H = cfg.horizon;
    // One backing store for both (views): one is made per new series, and each off-heap typed
    // array costs an allocation and an ArrayBuffer of its own.
    const origins = new Float64Array(H + H * H);
    this.originTs = origins.subarray(0, H).fill(Number.NaN);
    this.points = origins.subarray(H);
    this.counts = new Uint32Array(H);
    this.heads = new Uint32Array(H);
  }

  /** Forgets everything (a reset: nothing from before the gap may be scored or used). */
  clear(): void {
    this.originTs.fill(Number.NaN);
    this.points.fill(0);
    this.ring = undefined;
    this.sorted = undefined;
    this.counts.fill(0);
    this.heads.fill(0);
  }

  /** Residuals currently held for horizon index `hi` (0-based). */
  count(hi: number): number {
    return this.counts[hi] ?? 0;
  }

  /**
   * Scores an observed actual at `ts` against every stored forecast that targeted it
   * (made at ts − h·step for h = 1..H). Call before `record` for the same step.
   */
  score(ts: number, actual: number): void {
    const { horizon: H, stepMs } = this.cfg;
    const k = Math.round(ts / stepMs);
    for (let h = 1; h <= H; h++) {
      const slot = mod(k - h, H);
      if (this.originTs[slot] !== ts - h * stepMs) continue;
      let r = actual - this.points[slot * H + h - 1]!;
      if (!Number.isFinite(r)) continue;
      if (r > FLOAT32_MAX) r = FLOAT32_MAX;
      else if (r < -FLOAT32_MAX) r = -FLOAT32_MAX;
      this.push(h - 1, r);
    }
  }

  /** Remembers the point forecasts `points[h−1]` made at origin `ts`. */
  record(ts: number, points: Float64Array): void {
    const H = this.cfg.horizon;
    const slot = mod(Math.round(ts / this.cfg.stepMs), H);
    this.originTs[slot] = ts;
    this.points.set(points.subarray(0, H), slot * H);
  }

  /**
   * Writes, for horizon index `hi`, the offset to add to the point forecast for each level:
   * the type-7 (linear interpolation) empirical quantile of the residuals once there are at
   * least `minResiduals`, else z_q · std · √h. Offsets are non-decreasing in the level.
   */
  offsets(hi: number, std: number, out: Float64Array): void {
    const { levels, z, minResiduals, window: R } = this.cfg;
    const n = this.counts[hi]!;
    const L = levels.length;
    const sorted = this.sorted;
    if (n >= minResiduals && sorted !== undefined) {
      const base = hi * R;
      for (let j = 0; j < L; j++) {
        const pos = levels[j]! * (n - 1);
        const lo = Math.floor(pos);
        const a = sorted[base + lo]!;
        out[j] = lo + 1 < n ? a + (sorted[base + lo + 1]! - a) * (pos - lo) : a;
      }
      return;
    }
    const s = Number.isFinite(std) && std > 0 ? std * this.cfg.sqrtH[hi]! : 0;
    // `+ 0` turns −0 (z < 0 times a zero band) into 0.
    for (let j = 0; j < L; j++) out[j] = z[j]! * s + 0;
  }

  /** The residual rings and their sorted copies, in one backing store. */
  private allocateRings(): void {
    const n = this.cfg.horizon * this.cfg.window;
    const both = new Float32Array(2 * n);
    this.ring = both.subarray(0, n);
    this.sorted = both.subarray(n);
  }

  private push(hi: number, residual: number): void {
    const R = this.cfg.window;
    const base = hi * R;
    // float32 and no negative zero, so that the ring and the sorted copy compare exactly and a
    // restored instance (which re-sorts the ring) holds bit-identical values.
    const r = Math.fround(residual) || 0;
    const n = this.counts[hi]!;
    const head = this.heads[hi]!;
    if (this.ring === undefined) this.allocateRings();
    const ring = this.ring!;
    const sorted = this.sorted!;
    let len = n;
    if (n === R) {
      const old = ring[base + head]!;
      const i = lowerBound(sorted, base, base + len, old);
      sorted.copyWithin(i, i + 1, base + len);
      len--;
    }
    ring[base + head] = r;
    this.heads[hi] = head + 1 === R ? 0 : head + 1;
    const j = upperBound(sorted, base, base + len, r);
    sorted.copyWithin(j + 1, j, base + len);
    sorted[j] = r;
    this.counts[hi] = len + 1;
  }

  /** Bytes `write` produces now: what is filled, not the capacity (see `write`). */
  get byteLength(): number {
    const { horizon: H, window: R } = this.cfg;
    let n = 4 + 4 * H;
    for (let i = 0; i < H; i++) if (!Number.isNaN(this.originTs[i]!)) n += 4 + 8 + 8 * H;
    for (let hi = 0; hi < H; hi++) n += 4 * Math.min(this.counts[hi]!, R);
    return n;
  }

  /**
   * Writes the state at `offset` (little-endian) in the compact layout (2); returns the offset
   * after it. Only what is filled is written, so a new series costs a few hundred bytes, not the
   * rings' capacity (≈ 6 KiB for H = 12, R = 100):
   *   u32 U, then U × (u32 slot, f64 origin ts, f64×H points)   the origins recorded (ts not NaN)
   *   H × (u16 count, u16 head)                                  per horizon
   *   H × count × f32                                            ring[0, count) per horizon
   * A slot never recorded (or cleared) has a NaN ts and zero points, so it need not be written;
   * a ring that is not full has head = count and its values at [0, count).
   */
  write(view: DataView, offset: number): number {
    const { horizon: H, window: R } = this.cfg;
    let used = 0;
    for (let i = 0; i < H; i++) if (!Number.isNaN(this.originTs[i]!)) used++;
    view.setUint32(offset, used, true);
    let o = offset + 4;
    for (let slot = 0; slot < H; slot++) {
      const ts = this.originTs[slot]!;
      if (Number.isNaN(ts)) continue;
      view.setUint32(o, slot, true);
      view.setFloat64(o + 4, ts, true);
      o += 12;
      for (let i = slot * H; i < slot * H + H; i++, o += 8) view.setFloat64(o, this.points[i]!, true);
    }
    for (let hi = 0; hi < H; hi++, o += 4) {
      view.setUint16(o, this.counts[hi]!, true);
      view.setUint16(o + 2, this.heads[hi]!, true);
    }
    const ring = this.ring;
    if (ring === undefined) return o;
    for (let hi = 0; hi < H; hi++) {
      const n = this.counts[hi]!;
      for (let i = hi * R; i < hi * R + n; i++, o += 4) view.setFloat32(o, ring[i]!, true);
    }
    return o;
  }

  /**
   * Replaces the state with one written by `write` under the same config, in snapshot layout
   * `layout` (1: every ring at full size; 2: compact). Returns the offset after it. Throws a
   * `fatal` StreamcastError for a corrupt or truncated state.
   */
  read(view: DataView, offset: number, layout: 1 | 2 = 2): number {
    const { horizon: H, window: R } = this.cfg;
    const corrupt = (what: string): never => {
      throw new StreamcastError('fatal', `corrupt residual snapshot: ${what}`);
    };
    const need = (at: number, n: number) => {
      if (at + n > view.byteLength) corrupt(`truncated at byte ${at} (needs ${n} more of ${view.byteLength})`);
    };
    const checkRing = (hi: number, n: number, head: number) => {
      if (n > R || head >= R || (n < R && head !== n)) corrupt(`horizon ${hi + 1} has count ${n}, head ${head}, window ${R}`);
    };
    let o = offset;
    if (layout === 1) {
      need(o, this.cfg.legacyByteLength);
      for (let i = 0; i < H; i++, o += 8) this.originTs[i] = view.getFloat64(o, true);
      for (let i = 0; i < H * H; i++, o += 8) this.points[i] = view.getFloat64(o, true);
    } else {
      need(o, 4);
      const used = view.getUint32(o, true);
      o += 4;
      if (used > H) corrupt(`${used} forecast origins, horizon ${H}`);
      need(o, used * (12 + 8 * H) + 4 * H);
      this.originTs.fill(Number.NaN);
      this.points.fill(0);
      for (let k = 0; k < used; k++) {
        const slot = view.getUint32(o, true);
        if (slot >= H) corrupt(`forecast origin slot ${slot}, horizon ${H}`);
        this.originTs[slot] = view.getFloat64(o + 4, true);
        o += 12;
        for (let i = slot * H; i < slot * H + H; i++, o += 8) this.points[i] = view.getFloat64(o, true);
      }
    }
    // Counts and heads first: the rings are allocated only when some residual exists.
    let any = false;
    let values = 0;
    for (let hi = 0; hi < H; hi++) {
      const at = layout === 1 ? o + hi * (8 + 4 * R) : o + 4 * hi;
      const n = layout === 1 ? view.getUint32(at, true) : view.getUint16(at, true);
      const head = layout === 1 ? view.getUint32(at + 4, true) : view.getUint16(at + 2, true);
      checkRing(hi, n, head);
      this.counts[hi] = n;
      this.heads[hi] = head;
      if (n > 0) any = true;
      values += n;
    }
    if (layout === 2) {
      o += 4 * H;
      need(o, 4 * values);
    }
    if (any) this.allocateRings();
    else this.ring = this.sorted = undefined;
    const ring = this.ring;
    const sorted = this.sorted;
    for (let hi = 0; hi < H; hi++) {
      const n = this.counts[hi]!;
      // Layout 1 holds R values per horizon whatever the count (zeros beyond it).
      const stored = layout === 1 ? R : n;
      if (layout === 1) o += 8;
      if (ring === undefined || sorted === undefined) {
        o += 4 * stored;
        continue;
      }
      for (let i = 0; i < stored; i++, o += 4) {
        const v = view.getFloat32(o, true);
        ring[hi * R + i] = Number.isFinite(v) ? v || 0 : 0;
      }
      // The sorted copy is a function of the multiset alone, so re-sorting reproduces it exactly.
      const sortedPart = sorted.subarray(hi * R, hi * R + n);
      sortedPart.set(ring.subarray(hi * R, hi * R + n));
      sortedPart.sort();
    }
    return o;
  }
}

/** First index in [lo, hi) whose value is ≥ x. */
function lowerBound(a: Float32Array, lo: number, hi: number, x: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in [lo, hi) whose value is > x. */
function upperBound(a: Float32Array, lo: number, hi: number, x: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
