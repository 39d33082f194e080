import { ConfigError, StreamcastError } from '../../domain/errors.js';
import { quantileKey } from '../../domain/forecast.js';
import type { Forecast, HorizonForecast, ModelInfo, QuantileKey } from '../../domain/forecast.js';
import type { SeriesId } from '../../domain/point.js';
import { encloseMean, sanitizeQuantileValues } from '../../domain/quantiles.js';
import type { NormalizedStep } from '../../domain/step.js';
import type { Forecaster, ForecasterOptions } from '../forecaster.js';
import { frameBytes } from '../../platform/frameArena.js';
import { ResidualQuantileConfig, ResidualQuantiles } from './residualQuantiles.js';

export interface BaselineOptions extends ForecasterOptions {
  /** R: residuals kept per horizon for the empirical bands (default 100). */
  readonly residualWindow?: number;
  /** Residuals a horizon needs before its band is empirical rather than Gaussian (default 10). */
  readonly minResiduals?: number;
}

/**
 * Snapshot layout version; bump on any change to the byte layout. 2: the season ring and the
 * residual rings hold only what is filled (1 held them at full size: ≈ 18 KB for a series of
 * one point under a 1-day season of 1-minute steps). `restore` reads both.
 */
export const BASELINE_SNAPSHOT_VERSION = 2;
const HEADER_BYTES = 16;
/** Per series: last ts, last value, steps since reset. */
const COMMON_BYTES = 8 + 8 + 8;

/** One series' state: the common part here, the model's part in `model`. */
interface SeriesState<S> {
  /** ts of the last step learned; NaN before the first. */
  lastTs: number;
  lastValue: number;
  /** Steps learned since the last reset. */
  steps: number;
  readonly model: S;
  readonly residuals: ResidualQuantiles;
}

/**
 * Shared machinery of the point baselines: per-series state, reset handling, forecast-then-learn
 * sequencing, empirical residual bands, output hygiene and binary snapshots. A subclass supplies
 * only its point model (learn one value, forecast H points, serialize).
 *
 * Per step, in order: (1) on `reset` — or a step that does not follow the previous one by exactly
 * one step, which the pipeline never emits but which would silently misalign every ring — the
 * series starts afresh; (2) an observed value is scored against the forecasts that targeted it;
 * (3) the value (imputed or not) is learned; (4) H points are forecast from it and remembered for
 * scoring. All O(1) per step in the series count; O(H·(Q + log R)) in the model's sizes.
 */
export abstract class PointBaselineForecaster<S> implements Forecaster {
  readonly info: ModelInfo;
  readonly horizon: number;
  readonly quantiles: readonly number[];
  protected readonly stepMs: number;
  private readonly keys: readonly QuantileKey[];
  private readonly residualConfig: ResidualQuantileConfig;
  private readonly series = new Map<SeriesId, SeriesState<S>>();
  private readonly points: Float64Array;
  private readonly offsets: Float64Array;
  private readonly values: Float64Array;

  /** Identifies the subclass in snapshots so one kind's state never restores into another. */
  protected abstract readonly kindByte: number;
  /** A model parameter that must match between snapshot and restore (e.g. season steps). */
  protected abstract readonly layoutParam: number;

  constructor(opts: BaselineOptions) {
    if (typeof opts.name !== 'string' || opts.name.length === 0) throw new ConfigError('a forecaster needs a non-empty name');
    this.residualConfig = new ResidualQuantileConfig({
      horizon: opts.horizon,
      stepMs: opts.stepMs,
      quantiles: opts.quantiles,
      ...(opts.residualWindow !== undefined ? { window: opts.residualWindow } : {}),
      ...(opts.minResiduals !== undefined ? { minResiduals: opts.minResiduals } : {}),
    });
    this.info = Object.freeze({ name: opts.name, version: 0, kind: 'baseline' as const });
    this.horizon = opts.horizon;
    this.quantiles = Object.freeze([...opts.quantiles]);
    this.stepMs = opts.stepMs;
    this.keys = this.quantiles.map(quantileKey);
    this.points = new Float64Array(opts.horizon);
    this.offsets = new Float64Array(opts.quantiles.length);
    this.values = new Float64Array(opts.quantiles.length);
  }

  protected abstract newModel(): S;
  protected abstract clearModel(model: S): void;
  protected abstract learn(model: S, value: number): void;
  /** Writes the point forecast for h = 1..H into `out[h − 1]`; `last` is the value just learned. */
  protected abstract forecastPoints(model: S, last: number, out: Float64Array): void;
  /** Whether the model has the history it needs to forecast as designed (not a fallback). */
  protected abstract isWarm(model: S, steps: number): boolean;
  /** Bytes `writeModel` writes for `model` (the current layout). */
  protected abstract modelByteLength(model: S): number;
  /** Bytes of the model's state in layout 1, which has a fixed size per configuration. */
  protected abstract legacyModelByteLength(): number;
  protected abstract writeModel(model: S, view: DataView, offset: number): number;
  /** Reads what `writeModel` wrote in snapshot layout `layout`; throws a `fatal` StreamcastError if corrupt or truncated. */
  protected abstract readModel(model: S, view: DataView, offset: number, layout: 1 | 2): number;

  get size(): number {
    return this.series.size;
  }

  /** True once the series has enough history since its last reset for the model proper. */
  warm(series: SeriesId): boolean {
    const st = this.series.get(series);
    return st !== undefined && this.isWarm(st.model, st.steps);
  }

  step(batch: readonly NormalizedStep[]): Forecast[] {
    const out: Forecast[] = new Array<Forecast>(batch.length);
    for (let i = 0; i < batch.length; i++) out[i] = this.stepOne(batch[i]!);
    return out;
  }

  private stepOne(s: NormalizedStep): Forecast {
    let st = this.series.get(s.series);
    if (st === undefined) {
      st = this.newSeries();
      this.series.set(s.series, st);
    } else if (s.reset || s.ts - this.stepMs !== st.lastTs) {
      this.clearSeries(st);
    }
    // The pipeline guarantees a finite value; if a bug upstream breaks that, carry the last
    // value forward and do not score it rather than poison every ring with NaN.
    const finite = Number.isFinite(s.value);
    const value = finite ? s.value : st.steps > 0 ? st.lastValue : 0;
    if (s.observed && finite) st.residuals.score(s.ts, value);
    this.learn(st.model, value);
    st.lastTs = s.ts;
    st.lastValue = value;
    st.steps++;

    const points = this.points;
    this.forecastPoints(st.model, value, points);
    for (let i = 0; i < points.length; i++) if (!Number.isFinite(points[i])) points[i] = value;
    st.residuals.record(s.ts, points);

    const std = s.scale?.std ?? 0;
    const keys = this.keys;
    const L = keys.length;
    const { offsets, values } = this;
    const horizons: HorizonForecast[] = new Array<HorizonForecast>(this.horizon);
    for (let hi = 0; hi < this.horizon; hi++) {
      const mean = points[hi]!;
      st.residuals.offsets(hi, std, offsets);
      for (let j = 0; j < L; j++) values[j] = mean + offsets[j]!;
      sanitizeQuantileValues(values, mean, L);
      // Offsets are quantiles of recent residuals: a biased sample (a trend, a level shift) puts
      // all of them on one side of 0 and the band beside the mean; widen it to reach the mean.
      encloseMean(values, mean, this.quantiles, L);
      const q: Record<QuantileKey, number> = {};
      for (let j = 0; j < L; j++) q[keys[j]!] = values[j]!;
      const h = hi + 1;
      horizons[hi] = { h, ts: s.ts + h * this.stepMs, mean, q };
    }
    return { series: s.series, ts: s.ts, step: this.stepMs, forecast: horizons, model: this.info, imputed: s.imputed };
  }

  private newSeries(): SeriesState<S> {
    return {
      lastTs: Number.NaN,
      lastValue: 0,
      steps: 0,
      model: this.newModel(),
      residuals: new ResidualQuantiles(this.residualConfig),
    };
  }

  private clearSeries(st: SeriesState<S>): void {
    st.lastTs = Number.NaN;
    st.lastValue = 0;
    st.steps = 0;
    this.clearModel(st.model);
    st.residuals.clear();
  }

  /** Size of every layout-1 snapshot under this configuration. */
  private get legacySnapshotBytes(): number {
    return HEADER_BYTES + COMMON_BYTES + this.legacyModelByteLength() + this.residualConfig.legacyByteLength;
  }

  /**
   * Layout (little-endian): u8 version, u8 kind, u16 0, u32 horizon, u32 residual window,
   * u32 model parameter; f64 last ts, f64 last value, f64 steps; the model's state; the
   * residual state (see ResidualQuantiles.write). Sized by what the series holds.
   */
  snapshot(series: SeriesId): Uint8Array | undefined {
    const st = this.series.get(series);
    if (st === undefined) return undefined;
    const size = HEADER_BYTES + COMMON_BYTES + this.modelByteLength(st.model) + st.residuals.byteLength;
    // Carved from a shared chunk: a checkpoint snapshots every changed series, and the caller
    // (ModelRuntime) copies the bytes into its frame at once.
    const bytes = frameBytes(size);
    const view = new DataView(bytes.buffer, bytes.byteOffset, size);
    view.setUint8(0, BASELINE_SNAPSHOT_VERSION);
    view.setUint8(1, this.kindByte);
    view.setUint16(2, 0, true);
    view.setUint32(4, this.horizon, true);
    view.setUint32(8, this.residualConfig.window, true);
    view.setUint32(12, this.layoutParam, true);
    let o = HEADER_BYTES;
    view.setFloat64(o, st.lastTs, true);
    view.setFloat64(o + 8, st.lastValue, true);
    view.setFloat64(o + 16, st.steps, true);
    o += COMMON_BYTES;
    o = this.writeModel(st.model, view, o);
    st.residuals.write(view, o);
    return bytes;
  }

  /**
   * Throws a `fatal` StreamcastError when the snapshot was taken by another kind of baseline or
   * under another horizon, residual window or season. Operator action: after such a config
   * change, discard the series' stored state; the baseline re-warms from the stream.
   */
  restore(series: SeriesId, snapshot: Uint8Array): void {
    const fail = (what: string): never => {
      throw new StreamcastError('fatal', `cannot restore ${this.info.name} state of series ${JSON.stringify(series)}: ${what}`);
    };
    if (snapshot.byteLength < HEADER_BYTES) fail(`snapshot has ${snapshot.byteLength} bytes, shorter than its header`);
    const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    const version = view.getUint8(0);
    if (version !== 1 && version !== 2) fail(`snapshot version ${version}, this build reads 1 and 2`);
    const layout = version as 1 | 2;
    const kind = view.getUint8(1);
    if (kind !== this.kindByte) fail(`snapshot is of baseline kind ${kind}, this is kind ${this.kindByte}`);
    const horizon = view.getUint32(4, true);
    const window = view.getUint32(8, true);
    const param = view.getUint32(12, true);
    if (horizon !== this.horizon || window !== this.residualConfig.window || param !== this.layoutParam) {
      fail(
        `snapshot has horizon ${horizon}, residual window ${window}, model parameter ${param}; ` +
          `this forecaster has ${this.horizon}, ${this.residualConfig.window}, ${this.layoutParam}`,
      );
    }
    if (layout === 1 && snapshot.byteLength !== this.legacySnapshotBytes) {
      fail(`snapshot has ${snapshot.byteLength} bytes, expected ${this.legacySnapshotBytes}`);
    }
    if (snapshot.byteLength < HEADER_BYTES + COMMON_BYTES) fail(`snapshot has ${snapshot.byteLength} bytes, shorter than its common part`);
    const st = this.newSeries();
    let o = HEADER_BYTES;
    st.lastTs = view.getFloat64(o, true);
    st.lastValue = view.getFloat64(o + 8, true);
    st.steps = view.getFloat64(o + 16, true);
    o += COMMON_BYTES;
    try {
      o = this.readModel(st.model, view, o, layout);
      o = st.residuals.read(view, o, layout);
    } catch (err) {
      if (err instanceof StreamcastError) fail(err.message);
      throw err;
    }
    if (o !== snapshot.byteLength) fail(`snapshot has ${snapshot.byteLength - o} trailing bytes`);
    this.series.set(series, st);
  }

  drop(series: SeriesId): void {
    this.series.delete(series);
  }
}
