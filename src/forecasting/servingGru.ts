import type { Forecast, HorizonForecast, ModelInfo } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';
import type { SeriesHistory } from '../state/seriesHistory.js';
import type { SeriesRegistry } from '../state/seriesRegistry.js';
import { windowSteps } from '../state/seriesWindow.js';
import { GruForecaster } from './gru/gruForecaster.js';
import type { GruModelWeights } from './gru/gruWeights.js';
import { ChangeScales } from './gru/changeScale.js';
import type { GruInputStep } from './gru/featureLayout.js';
import { lagInputColumns, lagSpan, windowLagInputs, writeBaseInputs, writeLagInputs } from './gru/featureLayout.js';
import { baseLag, baseName, changeHalfLife, LagRing, rebaseStep, rebaseWindow } from './gru/residualBase.js';
import type { ResidualBase } from './gru/residualBase.js';

export interface ServingGruOptions {
  readonly name: string;
  readonly stepMs: number;
  readonly horizon: number;
  readonly quantiles: readonly number[];
  /** Steps of history a re-warm replays (model.context). */
  readonly context: number;
  /** Ablation: every step starts from h₀ = 0. */
  readonly stateless: boolean;
  /** The pipeline's series index, whose slots the hidden states take. */
  readonly registry?: SeriesRegistry;
}

/**
 * One set of GRU weights in service on its residual base (gru/residualBase.ts): the seasonal lag
 * ring, the model version each series' hidden state was computed under, and the lazy re-warm of
 * a series whose state belongs to another version (its last `context` steps of history replayed
 * under these weights on its first step here). ModelRuntime holds one, and builds the next one
 * when weights are swapped in (`takeOver`).
 */
export class ServingGru {
  readonly weights: GruModelWeights;
  readonly base: ResidualBase;
  readonly #gru: GruForecaster;
  readonly #opts: ServingGruOptions;
  readonly #history: SeriesHistory;
  /** The model version each series' hidden state was computed under (kept across swaps). */
  #stateVersion = new Map<SeriesId, number>();
  #lags: LagRing | undefined;
  /**
   * The lag inputs' values (featureLayout.ts): each series in the model's view (the seasonal
   * difference under a seasonal base, the value otherwise), the lags' span of them.
   */
  #lagIn: LagRing | undefined;
  /** Seasonal-lag and base columns per step (0: the layout has none). */
  readonly #lagColumns: number;
  /** Base columns among them (the last ones). */
  readonly #baseColumns: number;
  /** Under a change-scale base: each series' change scale (kept across swaps of the same half-life). */
  #changes: ChangeScales | undefined;

  constructor(weights: GruModelWeights, opts: ServingGruOptions, history: SeriesHistory) {
    this.weights = weights;
    this.base = weights.layout.base ?? { kind: 'none' };
    this.#opts = opts;
    this.#history = history;
    this.#gru = new GruForecaster({ name: opts.name, stepMs: opts.stepMs, horizon: opts.horizon, quantiles: opts.quantiles, weights, ...(opts.registry !== undefined ? { registry: opts.registry } : {}) });
    const k = changeHalfLife(this.base);
    if (k !== undefined) this.#changes = new ChangeScales(k, opts.stepMs);
    this.#lagColumns = lagInputColumns(weights.layout);
    this.#baseColumns = weights.layout.baseOffsets?.length ?? 0;
  }


  get info(): ModelInfo {
    return this.#gru.info;
  }

  /**
   * Takes over from the GRU served before (if any): every series' state is now stale and is
   * re-warmed lazily on its next step; the lag ring is kept when the season is the same, else
   * seeded from history so that series already running are served by these weights at once.
   */
  takeOver(prev: ServingGru | undefined): void {
    if (prev !== undefined) this.#stateVersion = prev.#stateVersion;
    if (prev !== undefined && prev.#changes !== undefined && changeHalfLife(prev.base) === changeHalfLife(this.base)) this.#changes = prev.#changes;
    const lag = baseLag(this.base);
    if (lag > 0 && prev !== undefined && prev.#lags?.capacity === lag) this.#lags = prev.#lags;
    else if (lag > 0) {
      this.#lags = new LagRing(lag, this.#opts.stepMs);
      for (const series of this.#history.series()) {
        for (const s of this.#history.stepsOf(series).slice(-lag)) this.#lags.push(series, s.ts, s.value);
      }
    }
    const span = lagSpan(this.weights.layout);
    if (span > 0 && prev !== undefined && prev.#lagIn?.capacity === span && baseName(prev.base) === baseName(this.base)) this.#lagIn = prev.#lagIn;
    else if (span > 0) {
      this.#lagIn = new LagRing(span, this.#opts.stepMs);
      for (const series of this.#history.series()) this.#seedLagInputs(series);
    }
  }

  /** Fills `series`' lag-input ring from its history in the model's view (as a training window has it). */
  #seedLagInputs(series: SeriesId): void {
    const ring = this.#lagIn!;
    const w = this.#history.windowOf(series);
    const rw = w === undefined ? undefined : rebaseWindow(w, this.base);
    if (rw === undefined) return;
    for (let i = Math.max(0, rw.length - ring.capacity); i < rw.length; i++) ring.push(series, rw.firstTs + i * rw.stepMs, rw.z[i]! * rw.std[i]! + rw.mean[i]!);
  }

  /** The GRU's forecasts for `batch` where it can serve, the baseline's (`fallback`) elsewhere. */
  step(batch: readonly NormalizedStep[], fallback: readonly Forecast[]): Forecast[] {
    const gru = this.#gru;
    const version = gru.info.version;
    const base = this.base;
    const stateless = this.#opts.stateless;
    const fresh = new Set<SeriesId>();
    if (!stateless) {
      const rewarm: NormalizedStep[] = [];
      for (const s of batch) {
        if (this.#stateVersion.get(s.series) === version) continue;
        this.#stateVersion.set(s.series, version);
        const steps = this.rewarmSteps(s.series, base);
        if (steps.length === 0) fresh.add(s.series);
        else for (const r of steps) rewarm.push(r);
      }
      if (rewarm.length > 0) gru.step(rewarm);
    }
    const lag = baseLag(base);
    const lags = this.#lags;
    const lagIn = this.#lagIn;
    const L = this.#lagColumns;
    const idx: number[] = [];
    const gsteps: GruInputStep[] = [];
    const offsets: Float64Array[] = [];
    const H = this.#opts.horizon;
    for (let i = 0; i < batch.length; i++) {
      const s = batch[i]!;
      let lagged = Number.NaN;
      // Lag and base columns (featureLayout.ts), the base's from the raw ring before s joins it.
      const lagInputs = L > 0 ? new Float32Array(L) : undefined;
      if (lag > 0 && lags !== undefined) {
        const ok = lags.full(s.series, s.ts);
        if (ok) lagged = lags.ago(s.series, lag);
        if (lagInputs !== undefined && this.#baseColumns > 0) writeBaseInputs(this.weights.layout, s.value, s.scale.std, ok, (back) => lags.ago(s.series, back), lagInputs, L - this.#baseColumns);
        lags.push(s.series, s.ts, s.value);
        if (!ok) {
          // Not a season of consecutive values yet: the baseline serves, and the GRU starts
          // afresh (re-warmed from history) once the series has one.
          this.#stateVersion.delete(s.series);
          fresh.delete(s.series);
          continue;
        }
        const off = new Float64Array(H);
        for (let h = 1; h <= H; h++) off[h - 1] = lags.ago(s.series, lag - h + 1);
        offsets.push(off);
      }
      let g: GruInputStep = rebaseStep(s, base, lagged, this.#changes === undefined ? Number.NaN : this.#changeAt(s));
      if (lagInputs !== undefined) {
        if (lagIn !== undefined) {
          // Seasonal lags of the model's view of the series (g's value) in the step's std, from the
          // ring before g joins it.
          const series = s.series;
          writeLagInputs(this.weights.layout, g.value, s.scale.std, lagIn.held(series, s.ts), (back) => lagIn.ago(series, back), lagInputs, 0);
          lagIn.push(series, s.ts, g.value);
        }
        g = { ...g, lagInputs };
      }
      if (stateless || fresh.delete(s.series)) g = { ...g, reset: true };
      gsteps.push(g);
      idx.push(i);
    }
    const out = fallback.slice();
    if (gsteps.length === 0) return out;
    const fc = gru.step(gsteps);
    for (let k = 0; k < fc.length; k++) {
      const f = fc[k]!;
      const i = idx[k]!;
      out[i] = lag > 0 ? offsetForecast(f, offsets[k]!, batch[i]!.value) : f;
    }
    return out;
  }

  /**
   * `s`'s change scale, after folding it in; a series met for the first time is first seeded from
   * its history (the steps before `s`), as training computes it from the window's start.
   */
  #changeAt(s: NormalizedStep): number {
    const changes = this.#changes!;
    if (!changes.has(s.series)) {
      for (const h of this.#history.stepsOf(s.series)) if (h.ts < s.ts) changes.push(h.series, h.ts, h.value, h.observed, h.scale.std);
    }
    return changes.push(s.series, s.ts, s.value, s.observed, s.scale.std);
  }

  /**
   * The steps that re-warm `series` under `base`: its last `context` steps of history in the
   * model's view, the first flagged `reset` (h₀ = 0, as in training). Empty when it has none.
   */
  rewarmSteps(series: SeriesId, base: ResidualBase): NormalizedStep[] {
    const w = this.#history.windowOf(series);
    if (w === undefined) return [];
    const rw = rebaseWindow(w, base);
    if (rw === undefined) return [];
    const from = Math.max(0, rw.length - this.#opts.context);
    const L = this.#lagColumns;
    const unit = L === 0 ? undefined : rw.std;
    return windowSteps(rw, from).map((s, j): GruInputStep => {
      let g: GruInputStep = base.kind === 'last-value' ? rebaseStep(s, base, Number.NaN) : s;
      // As training writes them: from the window's earlier steps, in the origin's target unit.
      if (unit !== undefined) g = { ...g, lagInputs: windowLagInputs(this.weights.layout, rw, from + j, unit, new Float32Array(L), w) };
      return j === 0 ? { ...g, reset: true } : g;
    });
  }

  /** The version `series`' hidden state was computed under (undefined: none), and the state when it is this GRU's. */
  snapshot(series: SeriesId): { readonly version: number | undefined; readonly state: Uint8Array | undefined } {
    const version = this.#stateVersion.get(series);
    return { version, state: version !== undefined && version === this.#gru.info.version ? this.#gru.snapshot(series) : undefined };
  }

  /**
   * After the runtime restored `series`' history: its hidden state from `state` when it was saved
   * under this GRU's version, else marked for a re-warm; its lag ring reseeded from history.
   */
  restore(series: SeriesId, state: Uint8Array | undefined, version: number): void {
    if (state !== undefined && version === this.#gru.info.version) {
      this.#gru.restore(series, state);
      this.#stateVersion.set(series, version);
    } else {
      // Computed under another model (or none): re-warmed from the restored history on its next step.
      this.#stateVersion.delete(series);
    }
    // Reseeded from the restored history on its next step.
    this.#changes?.drop(series);
    if (this.#lags !== undefined) {
      this.#lags.drop(series);
      for (const s of this.#history.stepsOf(series).slice(-this.#lags.capacity)) this.#lags.push(series, s.ts, s.value);
    }
    if (this.#lagIn !== undefined) {
      this.#lagIn.drop(series);
      this.#seedLagInputs(series);
    }
  }

  drop(series: SeriesId): void {
    this.#gru.drop(series);
    this.#lags?.drop(series);
    this.#lagIn?.drop(series);
    this.#changes?.drop(series);
    this.#stateVersion.delete(series);
  }

  dispose(): void {
    this.#gru.dispose();
  }
}

/** A seasonal-base forecast back in the series' units: each horizon plus y[t+h−m]. */
function offsetForecast(f: Forecast, off: Float64Array, last: number): Forecast {
  const horizons = f.forecast.map((hf: HorizonForecast, k): HorizonForecast => {
    const o = off[k]!;
    const q: Record<string, number> = {};
    for (const key of Object.keys(hf.q)) q[key] = hf.q[key]! + o;
    const mean = hf.mean + o;
    return Number.isFinite(mean) ? { h: hf.h, ts: hf.ts, mean, q } : { h: hf.h, ts: hf.ts, mean: last, q: Object.fromEntries(Object.keys(hf.q).map((k2) => [k2, last])) };
  });
  return { ...f, forecast: horizons };
}
