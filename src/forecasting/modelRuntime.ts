import { StreamcastError } from '../domain/errors.js';
import type { Forecast, ModelInfo } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';
import type { LogSink } from '../observability/logger.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import { SeriesHistory } from '../state/seriesHistory.js';
import { SeriesRegistry } from '../state/seriesRegistry.js';
import { createBaseline } from './baseline/createBaseline.js';
import { servableUnits } from './gru/gruMembers.js';
import { arExpertOrder, baselineSeasonSteps, lagExperts, meanExperts, seasonalMeanExperts } from './combiner/lagExperts.js';
import { OnlineCombiner } from './combiner/onlineCombiner.js';
import type { Forecaster } from './forecaster.js';
import { featureLayout, lagSpan, sameLayout } from './gru/featureLayout.js';
import type { GruModelWeights } from './gru/gruWeights.js';
import { baseLag, baseName } from './gru/residualBase.js';
import type { ResidualBase } from './gru/residualBase.js';
import { decodeRuntimeSnapshot, encodeRuntimeSnapshot } from './modelRuntimeSnapshot.js';
import type { RetrainHooks } from './retrainHooks.js';
import { ServingGru } from './servingGru.js';

/** See ModelRuntime.observeBeforeCalibration. */
export type BeforeCalibrationListener = (batch: readonly NormalizedStep[], forecasts: readonly Forecast[]) => void;

export interface ModelRuntimeOptions {
  readonly spec: PipelineSpec;
  /** Ablation: every GRU step starts from h₀ = 0 (no state carried between messages). */
  readonly stateless?: boolean;
  /**
   * Steps of history in each series' snapshot (checkpoints): default model.context + the seasonal
   * base's lag + 1 (a re-warm's needs; a number below it counts as it); `all` writes the whole
   * history every time.
   */
  readonly snapshotHistorySteps?: number | 'all';
  /** Steps of history kept per series for retraining and re-warming (default: see defaultHistorySteps). */
  readonly historySteps?: number;
  /**
   * The residual base of the first model when it is fixed (`auto`, the default: the retrainer
   * chooses it at its first retrain). Until a model serves, it sizes the snapshots' history tail.
   */
  readonly base?: ResidualBase | 'auto';
  /** Calibrate the GRU's forecasts online from the stream (default true; false: the head's own quantiles). */
  readonly calibrate?: boolean;
  /** Start serving these weights (tests, the calibration replay; a CLI loads them through its retrainer). */
  readonly initial?: GruModelWeights;
  readonly logger?: LogSink;
  /**
   * The pipeline's series index (state/seriesRegistry.ts): the history and hidden states take its
   * slots, and a series it drops is forgotten here too (default: an index of the runtime's own).
   */
  readonly registry?: SeriesRegistry;
}

const DAY = 86_400_000;

/** History per series: enough for a few TBPTT lanes plus the longest season it may difference by. */
export function defaultHistorySteps(spec: PipelineSpec): number {
  const week = (7 * DAY) / spec.window.step;
  const lag = Number.isInteger(week) && week <= 20_000 ? week : 0;
  return Math.max(2 * spec.retrain.minHistory, 10 * spec.model.context) + lag;
}

/** What a retrainer reads of the serving history (the runtime appends every step to it). */
export type HistoryView = Pick<SeriesHistory, 'capacity' | 'series' | 'windowOf' | 'segmentsOf' | 'lengthOf' | 'heldOf'>;

/**
 * The forecaster a pipeline serves with (DESIGN.md "Model"): it always steps the spec's baseline
 * (the fallback and the yardstick), appends every step to a per-series history, and serves the
 * GRU once one is installed (`model.kind: "gru"`, version N) — else the baseline. Weights come
 * from `initial`, from `adopt` (trained elsewhere) or from the retrainer attached to it
 * (training/retrainer.ts: loaded from the artifact store, or promoted); this class only serves
 * and swaps them.
 *
 * Installed weights are swapped in at the start of the next `step` (between micro-batches).
 * Hidden states are re-warmed lazily: a series whose state was computed under an older version is
 * re-run over its last `model.context` steps of history under the new weights on its first step
 * after the swap, together with the other such series of that batch, so no message waits for
 * more than the re-warm of its own batch.
 */
export class ModelRuntime implements Forecaster {
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly #spec: PipelineSpec;
  readonly #opts: ModelRuntimeOptions;
  readonly #baseline: Forecaster;
  readonly #history: SeriesHistory;
  readonly #registry: SeriesRegistry;
  readonly #step = (batch: readonly NormalizedStep[]): Forecast[] => this.step(batch);
  #hooks: RetrainHooks | undefined;
  /** The GRU in service (undefined: the baseline serves), and the one to swap in before the next step. */
  #serving: ServingGru | undefined;
  #swap: ServingGru | undefined;
  #fixedBase: ResidualBase | undefined;
  #eventTime = Number.NEGATIVE_INFINITY;
  #longest = 0;
  #closing: Promise<void> | undefined;
  #backend = 'js';
  /** Chooses or blends the served forecast among the GRU and every cheap baseline, per series (combiner/onlineCombiner.ts); off with `calibrate: false`. */
  readonly #online: OnlineCombiner | undefined;
  /** Whether the combiner took the first GRU's offline calibration. */
  #initialSet = false;
  #beforeCalibration: BeforeCalibrationListener | undefined;

  constructor(opts: ModelRuntimeOptions) {
    const spec = opts.spec;
    this.#spec = spec;
    this.#opts = opts;
    this.horizon = spec.model.horizon;
    this.quantiles = Object.freeze([...spec.model.quantiles]);
    this.#baseline = createBaseline(
      { type: spec.baseline.type, seasonMs: spec.baseline.season },
      { name: spec.name, stepMs: spec.window.step, horizon: spec.model.horizon, quantiles: spec.model.quantiles },
    );
    this.#registry = opts.registry ?? new SeriesRegistry();
    this.#history = new SeriesHistory({ stepMs: spec.window.step, capacity: Math.max(opts.historySteps ?? defaultHistorySteps(spec), spec.model.context + 2) }, this.#registry);
    // The history hears of drops itself; the runtime forgets what it keeps beside it.
    this.#registry.onDrop((series) => this.#forget(series));
    if (opts.calibrate !== false) {
      this.#online = new OnlineCombiner({ horizon: spec.model.horizon, quantiles: spec.model.quantiles, stepMs: spec.window.step, lags: lagExperts(spec), means: meanExperts(spec), seasonalMeans: seasonalMeanExperts(spec), ar: arExpertOrder(spec), baselineSeason: baselineSeasonSteps(spec), registry: this.#registry });
    }
    if (opts.base !== undefined && opts.base !== 'auto') this.#fixedBase = opts.base;
    if (opts.initial !== undefined) this.install(opts.initial);
  }

  /** Attaches the retrainer that keeps this runtime's model fresh (once; its constructor does it). */
  attach(hooks: RetrainHooks): void {
    if (this.#hooks !== undefined) throw new StreamcastError('fatal', `model runtime of pipeline "${this.#spec.name}" already has a retrainer`);
    this.#hooks = hooks;
  }

  get info(): ModelInfo {
    return (this.#swap ?? this.#serving)?.info ?? this.#baseline.info;
  }

  get size(): number {
    return this.#baseline.size;
  }

  /** Compute backend of the GRU in service (for model metrics); `js` while the baseline serves. */
  get backend(): string {
    return this.#serving !== undefined ? this.#backend : 'js';
  }

  /** The backend training runs on (for model metrics): the retrainer's, `none` without one or before it started. */
  get trainBackend(): string {
    return this.#hooks?.trainBackend ?? 'none';
  }

  /** The weights in service or about to be swapped in, if any. */
  get weights(): GruModelWeights | undefined {
    return (this.#swap ?? this.#serving)?.weights;
  }

  /** The weights in service now, not a pending swap: what a retrain fine-tunes. */
  get servedWeights(): GruModelWeights | undefined {
    return this.#serving?.weights;
  }

  /** The residual base of the model in service, else the fixed one of the options (undefined: to be chosen). */
  get residualBase(): ResidualBase | undefined {
    return this.#fixedBase;
  }

  /** Every step served so far, per series (read-only for the retrainer). */
  get history(): HistoryView {
    return this.#history;
  }

  /** The newest event time served. */
  get eventTime(): number {
    return this.#eventTime;
  }

  /** The most steps any series' history has held after an append (all its segments: see SeriesHistory.segmentsOf). */
  get longestHistory(): number {
    return this.#longest;
  }

  /** Names the compute backend the installed weights run on (chosen by whoever loads or promotes them). */
  useBackend(name: string): void {
    this.#backend = name;
  }

  /**
   * Serves `weights` (trained elsewhere, e.g. published by the training instance) through the
   * same path as a local promotion: swapped in before the next step, hidden states re-warmed
   * lazily. Ignored (false) when it is not newer than the model in service or pending, or when
   * it does not fit this pipeline (horizon, quantiles, hidden size, time features, gap scale).
   */
  adopt(weights: GruModelWeights): boolean {
    const spec = this.#spec;
    if (spec.model.type !== 'gru' || this.#closing !== undefined) return false;
    if (weights.version <= (this.weights?.version ?? 0)) return false;
    const expected = featureLayout(spec.model.timeFeatures, spec.impute.maxGap / spec.window.step);
    const fits =
      servableUnits(spec).includes(weights.cell.units) &&
      weights.head.horizon === spec.model.horizon &&
      weights.head.quantiles.length === spec.model.quantiles.length &&
      weights.head.quantiles.every((q, i) => q === spec.model.quantiles[i]) &&
      sameLayout(weights.layout, { ...expected, zClip: weights.layout.zClip, ...(weights.layout.base !== undefined ? { base: weights.layout.base } : {}), ...(weights.layout.diff === true ? { diff: true } : {}), ...(weights.layout.lags !== undefined ? { lags: weights.layout.lags } : {}) });
    if (!fits) {
      this.#opts.logger?.warn({ pipeline: spec.name, version: weights.version }, `model v${weights.version} does not fit this pipeline's spec; the model in service stays`);
      return false;
    }
    this.install(weights);
    this.#opts.logger?.info({ pipeline: spec.name, version: weights.version, base: baseName(weights.layout.base) }, `adopted model v${weights.version}`);
    return true;
  }

  /** Queues `weights` to be swapped in before the next step (replacing any swap still pending). */
  install(weights: GruModelWeights): void {
    this.#swap?.dispose();
    const { name, window, model } = this.#spec;
    const opts = { name, stepMs: window.step, horizon: model.horizon, quantiles: model.quantiles, context: model.context, stateless: this.#opts.stateless === true, registry: this.#registry };
    this.#swap = new ServingGru(weights, opts, this.#history);
  }

  /** Swaps pending weights in now rather than at the next step (so that `weights`/`info` show them at once). */
  applyPendingSwap(): void {
    if (this.#swap !== undefined) this.#applySwap();
  }

  pendingWork(): Promise<void> | undefined {
    return this.#hooks?.pendingWork();
  }

  /**
   * `step`, but pausing inside the batch where the retrainer must land a retrain first (blocking
   * mode), so results do not depend on where the micro-batcher cut the stream.
   */
  async stepAsync(batch: readonly NormalizedStep[]): Promise<Forecast[]> {
    const hooks = this.#hooks;
    return hooks === undefined ? this.step(batch) : hooks.stepAsync(batch, this.#step);
  }

  /**
   * Hears each stepped batch's forecasts as the model made them, before online calibration (the
   * backtest scores them as `gru-uncalibrated`): one call per `step`, in stream order, with a copy
   * of the forecasts (the baseline's where it served). One listener; undefined removes it.
   */
  observeBeforeCalibration(listener: BeforeCalibrationListener | undefined): void {
    this.#beforeCalibration = listener;
  }

  step(batch: readonly NormalizedStep[]): Forecast[] {
    if (this.#swap !== undefined) this.#applySwap();
    const fallback = this.#baseline.step(batch);
    const out = this.#serving !== undefined ? this.#serving.step(batch, fallback) : fallback;
    this.#beforeCalibration?.(batch, out.slice());
    const online = this.#online;
    if (online !== undefined) {
      // In stream order, so that how the stream is cut into batches does not matter: each step's
      // actual is scored before the forecast made at it is served.
      // Before the first GRU is installed the spec's baseline is served as is (that is all per-series
      // state a checkpoint restores, so a restart serves exactly what an uninterrupted run would),
      // and the combiner only keeps each series' lag values and scale, so that its seasonal
      // experts are ready when a GRU arrives; it scores and serves from then on.
      const installed = this.#serving !== undefined;
      for (let i = 0; i < batch.length; i++) {
        online.observe(batch[i]!);
        if (installed) out[i] = online.serve(out[i]!, fallback[i]!, out[i] !== fallback[i]);
      }
    }
    for (const s of batch) {
      if (this.#history.append(s)) this.#longest = Math.max(this.#longest, this.#history.heldOf(s.series));
      if (s.ts > this.#eventTime) this.#eventTime = s.ts;
    }
    this.#hooks?.afterStep();
    return out;
  }

  snapshot(series: SeriesId): Uint8Array | undefined {
    const baseline = this.#baseline.snapshot(series);
    if (baseline === undefined) return undefined;
    const history = this.#history.snapshot(series, this.#snapshotHistorySteps());
    const gru = this.#serving?.snapshot(series);
    return encodeRuntimeSnapshot({ baseline, history, gru: gru?.state, version: gru?.version ?? 0 });
  }

  /**
   * Steps of history a snapshot carries: what a re-warm and the seasonal base need (context plus
   * the season), not the whole training history — the changelog holds a history tail, so a
   * checkpoint stays a few hundred bytes per series however long the history kept for retraining.
   * After a restore, the training history grows back from the stream.
   */
  #snapshotHistorySteps(): number {
    const o = this.#opts.snapshotHistorySteps;
    if (o === 'all') return Number.POSITIVE_INFINITY;
    // The lag inputs read the model's view of the series (the seasonal difference under a
    // seasonal base): their span on top of the base's season.
    const rewarm = this.#spec.model.context + baseLag(this.weights?.layout.base ?? this.#fixedBase) + lagSpan(this.weights?.layout) + 1;
    // A longer tail is asked for so that the trainer of another instance learns more of this
    // instance's series (runtime/peerHistory.ts); never shorter than a re-warm needs.
    return o === undefined ? rewarm : Math.max(o, rewarm);
  }

  restore(series: SeriesId, snapshot: Uint8Array): void {
    const { baseline, history, gru, version } = decodeRuntimeSnapshot(snapshot, series);
    if (baseline === undefined) throw new StreamcastError('fatal', `snapshot of series "${series}" has no baseline state; drop its changelog entry`);
    this.#baseline.restore(series, baseline);
    if (history !== undefined) this.#history.restore(series, history);
    else this.#history.drop(series);
    this.#serving?.restore(series, gru, version);
  }

  /**
   * Forgets the forecaster's state of `series` (the Forecaster contract: the pipeline cores keep
   * theirs). A drop through the registry (SeriesRegistry.drop) reaches the same parts unasked.
   */
  drop(series: SeriesId): void {
    this.#history.drop(series);
    this.#forget(series);
  }

  /** What the runtime keeps per series beside the history (which the registry reaches itself). */
  #forget(series: SeriesId): void {
    this.#baseline.drop(series);
    this.#serving?.drop(series);
    this.#online?.drop(series);
  }

  /** Closes the retrainer (cancelling a running retrain, terminating its worker) and releases the model; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#hooks?.close();
      this.#serving?.dispose();
      this.#swap?.dispose();
    })();
    return this.#closing;
  }

  #applySwap(): void {
    const next = this.#swap!;
    this.#swap = undefined;
    const old = this.#serving;
    next.takeOver(old);
    this.#serving = next;
    this.#fixedBase = next.base;
    if (this.#online !== undefined && !this.#initialSet) {
      // Only the first model's: the combiner's errors are kept across later swaps (a retrained
      // model is mostly the previous one fine-tuned), so a new model is not served on its offline
      // blend again for the first cells of every retrain period.
      this.#initialSet = true;
      this.#online.setInitial(next.weights.calibration);
    }
    // model_info is announced by the metrics decorator (instrumentForecaster) when `info` changes.
    old?.dispose();
  }
}
