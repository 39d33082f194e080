import { formatDuration } from '../domain/duration.js';
import { isStreamcastError, StreamcastError } from '../domain/errors.js';
import type { Forecast, HorizonForecast, ModelInfo } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';
import type { EventListener } from '../observability/events.js';
import type { LogSink } from '../observability/logger.js';
import type { PipelineSpec } from '../pipeline/spec/pipelineSpec.js';
import type { ArtifactInfo, ArtifactStore } from '../training/artifactStore.js';
import { specHash } from '../training/artifactStore.js';
import { buildDatasets, rebaseDataset } from '../training/datasetBuilder.js';
import { baselineLoss, promotionDecision } from '../training/evaluateLoss.js';
import { SeriesHistory } from '../state/seriesHistory.js';
import { windowSteps } from '../state/seriesWindow.js';
import type { SeriesWindow } from '../state/seriesWindow.js';
import type { TrainCancelled, TrainProgress, TrainRequest, TrainResult } from '../training/trainer.js';
import { createBaseline } from './baseline/createBaseline.js';
import type { Forecaster } from './forecaster.js';
import { selectBackend } from './gru/backend.js';
import type { BackendChoice, BackendRequest } from './gru/backend.js';
import { DEFAULT_Z_CLIP, featureLayout } from './gru/featureLayout.js';
import type { FeatureLayout } from './gru/featureLayout.js';
import { GruForecaster } from './gru/gruForecaster.js';
import { initGruModelWeights } from './gru/gruWeights.js';
import type { GruModelWeights } from './gru/gruWeights.js';
import { alignedRawWindow, baseLag, baseName, LagRing, rebaseStep, rebaseWindow } from './gru/residualBase.js';
import type { ResidualBase } from './gru/residualBase.js';
import { fitCalibration } from './gru/calibration.js';
import type { Calibration } from './gru/calibration.js';
import { OnlineCalibrator } from './gru/onlineCalibrator.js';
import { replayForCalibration } from '../training/calibrationReplay.js';
import { frameBytes } from '../state/frameArena.js';

/** What one retrain did (`retrainNow`). Losses: mean pinball per cell and level, normalized units, held-out slice. */
export interface RetrainReport {
  readonly outcome: 'promoted' | 'rejected' | 'skipped' | 'failed';
  readonly reason: string;
  /** The promoted model's version. */
  readonly version?: number;
  readonly valLoss?: number | undefined;
  readonly initialValLoss?: number | undefined;
  readonly currentValLoss?: number | undefined;
  readonly baselineLoss?: number | undefined;
  readonly validationCells?: number;
  readonly epochs?: number;
  readonly bestEpoch?: number;
  readonly durationMs?: number;
  readonly backend?: string;
  /** The residual base, as in meta.json. */
  readonly base?: string;
}

/** What ModelRuntime needs of the trainer (the real one is training/trainer.ts' Trainer). */
export interface TrainerLike {
  train(request: TrainRequest, onProgress?: (p: TrainProgress) => void): Promise<TrainResult | TrainCancelled>;
  cancel(): void;
  close(): Promise<void>;
  /** The backend it trains on, once chosen (the real Trainer's worker reports it). */
  backend?(): Promise<BackendChoice>;
}

/**
 * `blocking`: the batch after the one that triggers a retrain waits for it (backtests, replays:
 * deterministic, and each retrain sees exactly the past); `background`: training runs beside the
 * stream and the new model is swapped in between micro-batches when done (live `run`); `off`:
 * never retrain (serve the loaded model or the baseline).
 */
export type RetrainMode = 'blocking' | 'background' | 'off';

export interface ModelRuntimeOptions {
  readonly spec: PipelineSpec;
  readonly retrain?: RetrainMode;
  /** Loads `current` at start; promoted models are saved here when `persist`. */
  readonly store?: ArtifactStore;
  /** Save promoted models to `store` and point `current` at them (default true with a store). */
  readonly persist?: boolean;
  /** Ablation: every GRU step starts from h₀ = 0 (no state carried between messages). */
  readonly stateless?: boolean;
  /**
   * Steps of history in each series' snapshot (checkpoints): default model.context + the seasonal
   * base's lag + 1 (a re-warm's needs); `all` writes the whole history every time.
   */
  readonly snapshotHistorySteps?: number | 'all';
  /** Steps of history kept per series for retraining and re-warming (default: see defaultHistorySteps). */
  readonly historySteps?: number;
  /** Seeds the initial weights and the lane order. */
  readonly seed?: number;
  /** Epochs per retrain (default retrain.epochs). */
  readonly epochs?: number;
  /** Held-out newest fraction of each series' history, on which promotion is decided (default 0.15). */
  readonly valFraction?: number;
  /** What the head corrects; `auto` (default) picks the best baseline on the history at the first retrain. */
  readonly base?: ResidualBase | 'auto';
  /**
   * Fit the held-out blend and interval calibration (gru/calibration.ts) into each promoted model
   * (default true; false is the ablation: the head's own quantiles).
   */
  readonly calibrate?: boolean;
  /** Start serving these weights (tests; a CLI loads from `store`). */
  readonly initial?: GruModelWeights;
  readonly trainer?: () => TrainerLike;
  /** The default trainer's backend (`--train-backend`; default `auto`: native where installed). */
  readonly trainBackend?: BackendRequest;
  /**
   * Called once per promotion made here (after it is persisted), with the versioned weights and
   * their meta.json summary: e.g. to publish it to the other instances (src/runtime/modelDistribution.ts).
   */
  readonly onPromoted?: (weights: GruModelWeights, info: ArtifactInfo) => void;
  readonly events?: EventListener;
  readonly logger?: LogSink;
  /** Progress of each scheduled retrain's training (backtest progress): `run` counts retrains from 1. */
  readonly onTrainProgress?: (p: TrainProgress & { readonly run: number }) => void;
}

const DAY = 86_400_000;
const DEFAULT_VAL_FRACTION = 0.15;
/** Held-out cells per horizon below which no offline calibration is fitted (see #calibrate). */
const OFFLINE_MIN_CELLS = 1000;
/** A seasonal base must beat the last value's held-out loss by this factor (see chooseBase). */
const SEASONAL_MARGIN = 0.85;

/** History per series: enough for a few TBPTT lanes plus the longest season it may difference by. */
export function defaultHistorySteps(spec: PipelineSpec): number {
  const week = (7 * DAY) / spec.window.step;
  const lag = Number.isInteger(week) && week <= 20_000 ? week : 0;
  return Math.max(2 * spec.retrain.minHistory, 10 * spec.model.context) + lag;
}

/**
 * The forecaster a pipeline serves with (DESIGN.md "Model"): it always steps the spec's baseline
 * (the fallback and the yardstick), appends every step to a per-series history, and serves the
 * GRU once one is promoted (`model.kind: "gru"`, version N) — else the baseline. On an event-time
 * schedule (`retrain.every`, once some series holds `retrain.minHistory` steps) it trains a
 * candidate in the trainer worker (fine-tuning the model in service, else from a seeded init),
 * and promotes it only if it beats `retrain.promote.mustBeat` on the newest held-out slice.
 *
 * A promoted model is swapped in at the start of the next `step` (between micro-batches). Hidden
 * states are re-warmed lazily: a series whose state was computed under an older version is
 * re-run over its last `model.context` steps of history under the new weights on its first step
 * after the swap, together with the other such series of that batch, so no message waits for
 * more than the re-warm of its own batch.
 */
export class ModelRuntime implements Forecaster {
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly #spec: PipelineSpec;
  #mode: RetrainMode;
  readonly #baseline: Forecaster;
  readonly #history: SeriesHistory;
  readonly #opts: ModelRuntimeOptions;
  readonly #events: EventListener;
  readonly #seed: number;
  #gru: GruForecaster | undefined;
  #weights: GruModelWeights | undefined;
  #lags: LagRing | undefined;
  /** The model version each series' hidden state was computed under. */
  readonly #stateVersion = new Map<SeriesId, number>();
  #swap: { readonly gru: GruForecaster; readonly weights: GruModelWeights } | undefined;
  #loading: Promise<void> | undefined;
  #training: Promise<void> | undefined;
  #trainer: TrainerLike | undefined;
  #fixedBase: ResidualBase | undefined;
  #eventTime = Number.NEGATIVE_INFINITY;
  #longest = 0;
  #nextRetrainAt: number | undefined;
  #closing: Promise<void> | undefined;
  #backend = 'js';
  #trainBackend = 'none';
  readonly #runs = { promoted: 0, rejected: 0, failed: 0 };
  #started = 0;
  /** Training range (meta.json `training`) of each version served here: loaded or promoted. */
  readonly #trained = new Map<number, { readonly firstTs: number; readonly lastTs: number }>();
  /** Learns the served model's blend and interval scales from the stream (see onlineCalibrator.ts). */
  #online: OnlineCalibrator | undefined;

  constructor(opts: ModelRuntimeOptions) {
    const spec = opts.spec;
    this.#spec = spec;
    this.#opts = opts;
    this.#mode = spec.model.type === 'gru' ? (opts.retrain ?? 'off') : 'off';
    this.#events = opts.events ?? (() => undefined);
    this.#seed = opts.seed ?? 1;
    this.horizon = spec.model.horizon;
    this.quantiles = Object.freeze([...spec.model.quantiles]);
    this.#baseline = createBaseline(
      { type: spec.baseline.type, seasonMs: spec.baseline.season },
      { name: spec.name, stepMs: spec.window.step, horizon: spec.model.horizon, quantiles: spec.model.quantiles },
    );
    this.#history = new SeriesHistory({ stepMs: spec.window.step, capacity: Math.max(opts.historySteps ?? defaultHistorySteps(spec), spec.model.context + 2) });
    if (opts.base !== undefined && opts.base !== 'auto') this.#fixedBase = opts.base;
    if (opts.initial !== undefined) this.#install(opts.initial);
    else if (opts.store !== undefined && spec.model.type === 'gru') this.#loading = this.#loadCurrent(opts.store).finally(() => (this.#loading = undefined));
  }

  get info(): ModelInfo {
    return (this.#swap?.gru ?? this.#gru)?.info ?? this.#baseline.info;
  }

  get size(): number {
    return this.#baseline.size;
  }

  /** Compute backend of the GRU in service (for model metrics); `js` while the baseline serves. */
  get backend(): string {
    return this.#gru !== undefined ? this.#backend : 'js';
  }

  /** The backend training runs on (for model metrics): known once the trainer started, `none` before. */
  get trainBackend(): string {
    return this.#trainBackend;
  }

  /**
   * Starts the trainer now and returns the backend it chose, so that a missing backend that was
   * asked for by name fails at start-up (a ConfigError with the install command), not at the
   * first retrain. Undefined for a trainer that does not say (test fakes).
   */
  async startTrainer(): Promise<BackendChoice | undefined> {
    this.#trainer ??= this.#opts.trainer?.() ?? (await defaultTrainer(this.#opts.trainBackend));
    const choice = await this.#trainer.backend?.();
    if (choice !== undefined) this.#trainBackend = choice.candidate;
    return choice;
  }

  /** Retraining outcomes so far (also emitted as `training_run` events). */
  get trainingRuns(): Readonly<{ promoted: number; rejected: number; failed: number }> {
    return { ...this.#runs };
  }

  /** First and last event time of the data the model `version` was trained on, when known (in-sample checks). */
  trainedRange(version: number): { readonly firstTs: number; readonly lastTs: number } | undefined {
    return this.#trained.get(version);
  }

  /** The retrain mode now in force (see setRetrain). */
  get retrainMode(): RetrainMode {
    return this.#mode;
  }

  /**
   * Turns retraining on or off while running (one trainer per pipeline across instances: only the
   * owner of input partition 0 trains). Turning it off cancels a retrain in progress; its
   * candidate is discarded. A baseline-only spec stays off.
   */
  setRetrain(mode: RetrainMode): void {
    if (this.#spec.model.type !== 'gru' || this.#closing !== undefined || mode === this.#mode) return;
    this.#mode = mode;
    if (mode === 'off') this.#trainer?.cancel();
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
      weights.cell.units === spec.model.hidden &&
      weights.head.horizon === spec.model.horizon &&
      weights.head.quantiles.length === spec.model.quantiles.length &&
      weights.head.quantiles.every((q, i) => q === spec.model.quantiles[i]) &&
      sameLayout(weights.layout, { ...expected, zClip: weights.layout.zClip, ...(weights.layout.base !== undefined ? { base: weights.layout.base } : {}), ...(weights.layout.diff === true ? { diff: true } : {}) });
    if (!fits) {
      this.#opts.logger?.warn({ pipeline: spec.name, version: weights.version }, `model v${weights.version} does not fit this pipeline's spec; the model in service stays`);
      return false;
    }
    this.#install(weights);
    this.#opts.logger?.info({ pipeline: spec.name, version: weights.version, base: baseName(weights.layout.base) }, `adopted model v${weights.version}`);
    return true;
  }

  /** The weights in service, if any (tests, `train`). */
  get weights(): GruModelWeights | undefined {
    return this.#swap?.weights ?? this.#weights;
  }

  pendingWork(): Promise<void> | undefined {
    if (this.#loading !== undefined) return this.#loading;
    return this.#mode === 'blocking' ? this.#training : undefined;
  }

  /**
   * Blocking mode: steps the batch in segments that end at a step which may trigger a retrain,
   * awaiting each retrain before the next segment, so a retrain sees exactly the steps up to its
   * trigger and the next step is already served by its outcome — whatever the batch boundaries.
   */
  async stepAsync(batch: readonly NormalizedStep[]): Promise<Forecast[]> {
    if (this.#mode !== 'blocking') return this.step(batch);
    if (this.#loading !== undefined) await this.#loading;
    const out: Forecast[] = [];
    let start = 0;
    while (start < batch.length) {
      const end = this.#segmentEnd(batch, start);
      const fc = this.step(start === 0 && end === batch.length ? batch : batch.slice(start, end));
      for (const f of fc) out.push(f);
      if (this.#training !== undefined) await this.#training;
      start = end;
    }
    return out;
  }

  /** Index after the first step at or after `start` that may trigger a retrain (or the end). */
  #segmentEnd(batch: readonly NormalizedStep[], start: number): number {
    if (this.#closing !== undefined) return batch.length;
    const next = this.#nextRetrainAt;
    const counts = next === undefined ? new Map<SeriesId, number>() : undefined;
    for (let i = start; i < batch.length; i++) {
      const s = batch[i]!;
      if (next !== undefined) {
        if (s.ts >= next) return i + 1;
        continue;
      }
      // An over-estimate (restarts ignored): an early cut only costs a check.
      const n = (counts!.get(s.series) ?? this.#history.lengthOf(s.series)) + 1;
      counts!.set(s.series, n);
      if (n >= this.#spec.retrain.minHistory) return i + 1;
    }
    return batch.length;
  }

  step(batch: readonly NormalizedStep[]): Forecast[] {
    if (this.#swap !== undefined) this.#applySwap();
    const fallback = this.#baseline.step(batch);
    const out = this.#gru !== undefined ? this.#stepGru(batch, fallback) : fallback;
    const online = this.#online;
    if (online !== undefined) {
      // In stream order, so that how the stream is cut into batches does not matter: each step's
      // actual is scored before the forecast made at it is calibrated.
      for (let i = 0; i < batch.length; i++) {
        const s = batch[i]!;
        online.observe(s.series, s.ts, s.value, s.observed);
        if (out[i] !== fallback[i]) out[i] = online.serve(out[i]!, s.value, fallback[i]);
      }
    }
    if (this.#gru === undefined && this.#lags !== undefined) for (const s of batch) this.#lags.push(s.series, s.ts, s.value);
    for (const s of batch) {
      if (this.#history.append(s)) this.#longest = Math.max(this.#longest, this.#history.lengthOf(s.series));
      if (s.ts > this.#eventTime) this.#eventTime = s.ts;
    }
    this.#maybeRetrain();
    return out;
  }

  snapshot(series: SeriesId): Uint8Array | undefined {
    const b = this.#baseline.snapshot(series);
    if (b === undefined) return undefined;
    const h = this.#history.snapshot(series, this.#snapshotHistorySteps());
    const version = this.#stateVersion.get(series);
    const g = version !== undefined && version === this.#gru?.info.version ? this.#gru.snapshot(series) : undefined;
    return packParts([b, h, g], version ?? 0);
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
    return o ?? this.#spec.model.context + baseLag(this.weights?.layout.base ?? this.#fixedBase) + 1;
  }

  restore(series: SeriesId, snapshot: Uint8Array): void {
    const { parts, version } = unpackParts(snapshot, series);
    const [b, h, g] = parts;
    if (b === undefined) throw new StreamcastError('fatal', `snapshot of series "${series}" has no baseline state; drop its changelog entry`);
    this.#baseline.restore(series, b);
    if (h !== undefined) this.#history.restore(series, h);
    else this.#history.drop(series);
    if (g !== undefined && this.#gru !== undefined && version === this.#gru.info.version) {
      this.#gru.restore(series, g);
      this.#stateVersion.set(series, version);
    } else {
      // Computed under another model (or none): re-warmed from the restored history on its next step.
      this.#stateVersion.delete(series);
    }
    if (this.#lags !== undefined) {
      this.#lags.drop(series);
      for (const s of this.#history.stepsOf(series).slice(-this.#lags.capacity)) this.#lags.push(series, s.ts, s.value);
    }
  }

  drop(series: SeriesId): void {
    this.#baseline.drop(series);
    this.#history.drop(series);
    this.#gru?.drop(series);
    this.#lags?.drop(series);
    this.#online?.drop(series);
    this.#stateVersion.delete(series);
  }

  /** Cancels a running retrain and terminates the trainer worker; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const trainer = this.#trainer;
      trainer?.cancel();
      await trainer?.close();
      await this.#training?.catch(() => undefined);
      await this.#loading?.catch(() => undefined);
      this.#gru?.dispose();
      this.#swap?.gru.dispose();
    })();
    return this.#closing;
  }

  // ---- serving ------------------------------------------------------------------------------

  #install(weights: GruModelWeights): void {
    this.#swap?.gru.dispose();
    const spec = this.#spec;
    const gru = new GruForecaster({ name: spec.name, stepMs: spec.window.step, horizon: spec.model.horizon, quantiles: spec.model.quantiles, weights });
    this.#swap = { gru, weights };
  }

  #applySwap(): void {
    const next = this.#swap!;
    this.#swap = undefined;
    const old = this.#gru;
    this.#gru = next.gru;
    this.#weights = next.weights;
    this.#fixedBase = next.weights.layout.base ?? { kind: 'none' };
    if (this.#opts.calibrate !== false && this.#online === undefined) {
      // Kept across later swaps: a retrained model is mostly the previous one fine-tuned, and
      // starting the blend and spreads over at every promotion would serve each new model
      // uncalibrated for its first cells (most of a weekly retrain period on hourly data).
      const spec = this.#spec;
      this.#online = new OnlineCalibrator({ horizon: spec.model.horizon, quantiles: spec.model.quantiles, stepMs: spec.window.step }, next.weights.calibration);
    }
    const lag = baseLag(next.weights.layout.base);
    if (lag > 0 && this.#lags?.capacity !== lag) {
      // Seeded from history so that series already running are served by the new model at once.
      this.#lags = new LagRing(lag, this.#spec.window.step);
      for (const series of this.#history.series()) {
        for (const s of this.#history.stepsOf(series).slice(-lag)) this.#lags.push(series, s.ts, s.value);
      }
    } else if (lag === 0) {
      this.#lags = undefined;
    }
    // Every series' state is now stale: re-warmed lazily on its next step (#stepGru).
    // model_info is announced by the metrics decorator (instrumentForecaster) when `info` changes.
    old?.dispose();
  }

  #stepGru(batch: readonly NormalizedStep[], fallback: readonly Forecast[]): Forecast[] {
    const gru = this.#gru!;
    const version = gru.info.version;
    const base: ResidualBase = this.#weights!.layout.base ?? { kind: 'none' };
    const stateless = this.#opts.stateless === true;
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
    const idx: number[] = [];
    const gsteps: NormalizedStep[] = [];
    const offsets: Float64Array[] = [];
    const H = this.horizon;
    for (let i = 0; i < batch.length; i++) {
      const s = batch[i]!;
      let lagged = Number.NaN;
      if (lag > 0 && lags !== undefined) {
        const ok = lags.full(s.series, s.ts);
        if (ok) lagged = lags.ago(s.series, lag);
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
      let g = rebaseStep(s, base, lagged);
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
   * The steps that re-warm `series` under `base`: its last `model.context` steps of history in the
   * model's view, the first flagged `reset` (h₀ = 0, as in training). Empty when it has none.
   */
  rewarmSteps(series: SeriesId, base: ResidualBase): NormalizedStep[] {
    const w = this.#history.windowOf(series);
    if (w === undefined) return [];
    const rw = rebaseWindow(w, base);
    if (rw === undefined) return [];
    const from = Math.max(0, rw.length - this.#spec.model.context);
    return windowSteps(rw, from).map((s, k) => {
      const g = base.kind === 'last-value' ? rebaseStep(s, base, Number.NaN) : s;
      return k === 0 ? { ...g, reset: true } : g;
    });
  }

  // ---- retraining ---------------------------------------------------------------------------

  #maybeRetrain(): void {
    if (this.#mode === 'off' || this.#closing !== undefined) return;
    const spec = this.#spec;
    if (this.#nextRetrainAt === undefined) {
      if (this.#longest < spec.retrain.minHistory) return;
      this.#nextRetrainAt = this.#eventTime;
    }
    if (this.#eventTime < this.#nextRetrainAt || this.#training !== undefined) return;
    this.#nextRetrainAt = this.#eventTime + spec.retrain.every;
    const windows = [...this.#history.series()].map((s) => this.#history.windowOf(s)!).filter((w) => w.length >= 2);
    this.#training = this.#retrain(windows, {})
      .then(() => undefined)
      .finally(() => (this.#training = undefined));
  }

  /**
   * One retrain now on the history held, whatever the schedule and retrain mode (`streamcast
   * train`): the same path as a scheduled one (residual base, datasets, trainer worker, promotion
   * gate, calibration, artifact). `force` promotes a candidate the gate rejects.
   */
  async retrainNow(opts: { force?: boolean; onProgress?: (p: TrainProgress) => void } = {}): Promise<RetrainReport> {
    await this.#loading;
    await this.#training;
    const windows = [...this.#history.series()].map((s) => this.#history.windowOf(s)!).filter((w) => w.length >= 2);
    const run = this.#retrain(windows, { explicit: true, ...opts });
    this.#training = run.then(() => undefined).finally(() => (this.#training = undefined));
    const report = await run;
    // Swapped in now, so that `weights`/`info` show the outcome at once.
    if (this.#swap !== undefined) this.#applySwap();
    return report;
  }

  async #retrain(windows: SeriesWindow[], how: { explicit?: boolean; force?: boolean; onProgress?: (p: TrainProgress) => void }): Promise<RetrainReport> {
    const started = performance.now();
    const spec = this.#spec;
    const { horizon, quantiles, hidden, context } = spec.model;
    const valFraction = this.#opts.valFraction ?? DEFAULT_VAL_FRACTION;
    // Retraining turned off (another instance trains now, or a signal stops a backtest) or closing:
    // a candidate is not ours to promote any more.
    const abandoned = (): boolean => this.#closing !== undefined || (this.#mode === 'off' && how.explicit !== true);
    const run = ++this.#started;
    const onProgress = how.onProgress ?? (this.#opts.onTrainProgress === undefined ? undefined : (p: TrainProgress) => this.#opts.onTrainProgress?.({ ...p, run }));
    const outcome = (o: 'promoted' | 'rejected' | 'failed'): void => {
      this.#runs[o]++;
      this.#events({ type: 'training_run', outcome: o, durationSeconds: (performance.now() - started) / 1000 });
    };
    let report: RetrainReport = { outcome: 'skipped', reason: 'not run' };
    try {
      const base = this.#fixedBase ?? chooseBase(windows, spec, this.#history.capacity, valFraction);
      const layout = featureLayout(spec.model.timeFeatures, spec.impute.maxGap / spec.window.step, DEFAULT_Z_CLIP, base, spec.model.diff);
      const rebased = windows.map((w) => rebaseWindow(w, base)).filter((w): w is SeriesWindow => w !== undefined);
      const raw = windows.map((w) => alignedRawWindow(w, base)).filter((w): w is SeriesWindow => w !== undefined);
      const { train, validation, info } = buildDatasets(rebased, { layout, horizon, context, valFraction });
      if (train.cells === 0 || validation.cells === 0) {
        this.#opts.logger?.info({ pipeline: spec.name, steps: info.steps }, 'retrain skipped: not enough history for training and held-out cells');
        return { outcome: 'skipped', reason: `not enough history: ${info.steps} steps over ${info.series} series give ${train.cells} training and ${validation.cells} held-out cells` };
      }
      rebaseDataset(train, base);
      rebaseDataset(validation, base);
      const bestBaseline = bestBaselineLoss(raw, spec, valFraction);
      const current = this.#weights !== undefined && sameLayout(this.#weights.layout, layout) ? this.#weights : undefined;
      const init = current ?? initGruModelWeights({ layout, units: hidden, horizon, quantiles }, this.#seed);
      this.#trainer ??= this.#opts.trainer?.() ?? (await defaultTrainer(this.#opts.trainBackend));
      if (this.#closing !== undefined) return { outcome: 'skipped', reason: 'closing' };
      if (abandoned()) return { outcome: 'skipped', reason: 'cancelled' };
      const res = await this.#trainer.train(
        {
          train,
          validation,
          init,
          ...(current !== undefined ? { current } : {}),
          options: { epochs: this.#opts.epochs ?? spec.retrain.epochs, seed: this.#seed },
        },
        onProgress,
      );
      // Retraining turned off meanwhile (another instance trains now, or a backtest was interrupted): its candidate is not ours to promote.
      if (res.status === 'cancelled' || abandoned()) return { outcome: 'skipped', reason: 'cancelled' };
      this.#trainBackend = res.backend;
      const decision = promotionDecision({ candidate: res.valLoss, current: res.currentValLoss, baseline: bestBaseline, mustBeat: spec.retrain.promote.mustBeat });
      const log = { pipeline: spec.name, base: baseName(base), valLoss: res.valLoss, currentValLoss: res.currentValLoss, baselineLoss: bestBaseline, epochs: res.epochs, ms: Math.round(res.durationMs) };
      const losses = { valLoss: res.valLoss, initialValLoss: res.initialValLoss, currentValLoss: res.currentValLoss, baselineLoss: bestBaseline, validationCells: validation.cells, epochs: res.epochs, bestEpoch: res.bestEpoch, durationMs: res.durationMs, backend: res.backend, base: baseName(base) };
      report = { outcome: 'rejected', reason: decision.reason, ...losses };
      if (!decision.promote && how.force !== true) {
        outcome('rejected');
        this.#opts.logger?.info(log, `candidate rejected: ${decision.reason}`);
        return report;
      }
      const offline = this.#opts.calibrate === false ? undefined : await this.#calibrate(res.weights, windows, valFraction);
      const weights: GruModelWeights = offline === undefined ? res.weights : { ...res.weights, calibration: offline };
      if (abandoned()) return { outcome: 'skipped', reason: 'cancelled' };
      // Never below the version in service: it may have been adopted from another instance.
      let version = (this.weights?.version ?? 0) + 1;
      const artifact: ArtifactInfo = {
        specHash: specHash(spec),
        training: { firstTs: info.firstTs ?? null, lastTs: info.lastTs ?? null, series: info.series, steps: info.steps, epochs: res.epochs, durationMs: Math.round(res.durationMs) },
        validation: { loss: res.valLoss ?? null, baselineLoss: bestBaseline ?? null, currentLoss: res.currentValLoss ?? null },
        backend: res.backend,
      };
      const store = this.#opts.store;
      if (store !== undefined && this.#opts.persist !== false) {
        version = await store.save(spec.name, weights, artifact, { makeCurrent: true, minVersion: version });
      }
      // Once saved as current, only closing stops the promotion (the store already points at it).
      const stopNow = (): boolean => (store !== undefined && this.#opts.persist !== false ? this.#closing !== undefined : abandoned());
      if (stopNow()) return { outcome: 'skipped', reason: 'cancelled' };
      this.#backend = (await selectBackend()).name;
      if (stopNow()) return { outcome: 'skipped', reason: 'cancelled' };
      const promoted = { ...weights, version };
      if (info.firstTs !== undefined && info.lastTs !== undefined) this.#trained.set(version, { firstTs: info.firstTs, lastTs: info.lastTs });
      this.#install(promoted);
      this.#opts.onPromoted?.(promoted, artifact);
      outcome('promoted');
      const reason = decision.promote ? decision.reason : `${decision.reason} (forced)`;
      this.#opts.logger?.info({ ...log, version, ...(weights.calibration !== undefined ? { calibration: describeCalibration(weights.calibration) } : {}) }, `model v${version} promoted: ${reason}`);
      return { ...report, outcome: 'promoted', reason, version };
    } catch (err) {
      outcome('failed');
      this.#opts.logger?.error({ pipeline: spec.name, err }, `retraining failed (${isStreamcastError(err) ? err.kind : 'fatal'}); the model in service stays`);
      if (how.explicit === true) throw err;
      return { outcome: 'failed', reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * The candidate's held-out blend and interval calibration: its newest slice of each series'
   * history replayed through a serving copy of the candidate (uncalibrated) and the baseline.
   */
  async #calibrate(candidate: GruModelWeights, windows: readonly SeriesWindow[], valFraction: number): Promise<Calibration | undefined> {
    const spec = this.#spec;
    const plain: GruModelWeights = { version: Math.max(1, candidate.version), layout: candidate.layout, cell: candidate.cell, head: candidate.head };
    const serving = new ModelRuntime({ spec, retrain: 'off', initial: plain, ...(this.#opts.stateless === true ? { stateless: true } : {}) });
    const baseline = createBaseline({ type: spec.baseline.type, seasonMs: spec.baseline.season }, { name: spec.name, stepMs: spec.window.step, horizon: spec.model.horizon, quantiles: spec.model.quantiles });
    const season = Math.round(spec.baseline.season / spec.window.step);
    try {
      const cells = await replayForCalibration(windows, {
        model: serving,
        baseline,
        horizon: spec.model.horizon,
        quantiles: spec.model.quantiles,
        valFraction,
        warmup: Math.max(baseLag(candidate.layout.base), season) + 2 * spec.model.context,
      });
      // A few hundred correlated cells per horizon make a noisy fit (nyc_taxi: worse than none);
      // then the online calibrator starts from the identity instead.
      return cells.size >= OFFLINE_MIN_CELLS * spec.model.horizon ? fitCalibration(cells) : undefined;
    } finally {
      await serving.close();
    }
  }

  async #loadCurrent(store: ArtifactStore): Promise<void> {
    const spec = this.#spec;
    const layout = featureLayout(spec.model.timeFeatures, spec.impute.maxGap / spec.window.step);
    try {
      if ((await store.currentVersion(spec.name)) === undefined) return;
      // Before loading: the artifact store builds a tfjs model, and a tensor made before a backend is
      // chosen starts tfjs' slow cpu backend (which prints its "install tfjs-node" banner).
      this.#backend = (await selectBackend()).name;
      const loaded = await store.loadCurrent(spec.name, { layout, hidden: spec.model.hidden, horizon: spec.model.horizon, quantiles: spec.model.quantiles, anyBase: true });
      if (loaded === undefined) return;
      if (this.#closing !== undefined) return;
      const t = loaded.meta.training;
      if (t.firstTs !== null && t.lastTs !== null) this.#trained.set(loaded.version, { firstTs: t.firstTs, lastTs: t.lastTs });
      this.#install(loaded.weights);
      this.#opts.logger?.info({ pipeline: spec.name, version: loaded.version, base: baseName(loaded.weights.layout.base) }, `loaded model v${loaded.version} from ${store.root}`);
    } catch (err) {
      if (!isStreamcastError(err)) throw err;
      // Operator action: fix or retrain the artifact (`streamcast train`), or point `current` at a good version.
      this.#opts.logger?.warn({ pipeline: spec.name, err: err.message }, 'cannot load the current model; the baseline stays in service');
    }
  }
}

async function defaultTrainer(backend: BackendRequest | undefined): Promise<TrainerLike> {
  const { Trainer } = await import('../training/trainer.js');
  return new Trainer(backend !== undefined ? { backend } : {});
}

function sameLayout(a: FeatureLayout, b: FeatureLayout): boolean {
  return (
    baseName(a.base) === baseName(b.base) &&
    (a.diff === true) === (b.diff === true) &&
    a.maxGapSteps === b.maxGapSteps &&
    a.zClip === b.zClip &&
    a.timeFeatures.length === b.timeFeatures.length &&
    a.timeFeatures.every((f, i) => f === b.timeFeatures[i])
  );
}

/** Seasons (in steps) the baselines use: one day and one week where the step divides them. */
function seasonCandidates(spec: PipelineSpec, maxSteps: number): number[] {
  const out = new Set<number>();
  for (const ms of [DAY, 7 * DAY, spec.baseline.season]) {
    const m = ms / spec.window.step;
    if (Number.isInteger(m) && m >= 2 && m <= maxSteps) out.add(m);
  }
  return [...out];
}

/** The best baseline's loss on the held-out slice (mean pinball, normalized units). */
export function bestBaselineLoss(windows: readonly SeriesWindow[], spec: PipelineSpec, valFraction: number): number | undefined {
  const common = { horizon: spec.model.horizon, quantiles: spec.model.quantiles, valFraction };
  let best: number | undefined;
  for (const m of [1, ...seasonCandidates(spec, Number.POSITIVE_INFINITY)]) {
    const l = baselineLoss(windows, { ...common, seasonSteps: m });
    if (l !== undefined && (best === undefined || l < best)) best = l;
  }
  return best;
}

/**
 * The residual base for a pipeline's first model: the baseline with the lowest held-out loss on
 * the history (a season only where it is at least the horizon, leaves half the history, and
 * beats the last value by a margin).
 */
export function chooseBase(windows: readonly SeriesWindow[], spec: PipelineSpec, capacity: number, valFraction: number): ResidualBase {
  const common = { horizon: spec.model.horizon, quantiles: spec.model.quantiles, valFraction };
  let best: { loss: number; base: ResidualBase } = { loss: baselineLoss(windows, { ...common, seasonSteps: 1 }) ?? Number.POSITIVE_INFINITY, base: { kind: 'last-value' } };
  for (const m of seasonCandidates(spec, Math.floor(capacity / 2))) {
    if (m < spec.model.horizon) continue;
    const l = baselineLoss(windows, { ...common, seasonSteps: m });
    // A seasonal base hides the last value from the model (it sees differences only), which
    // costs the short horizons; it has to win clearly to be worth that.
    if (l !== undefined && l < SEASONAL_MARGIN * best.loss) best = { loss: l / SEASONAL_MARGIN, base: { kind: 'seasonal', steps: m } };
  }
  return best.base;
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

const SNAP_MAGIC = 0x31524d53; // "SMR1": Streamcast Model Runtime, format 1
const ABSENT = 0xffffffff;

function packParts(parts: readonly (Uint8Array | undefined)[], version: number): Uint8Array {
  let size = 8;
  for (const p of parts) size += 4 + (p?.byteLength ?? 0);
  // Carved from a shared chunk: checkpoints snapshot every changed series.
  const out = frameBytes(size);
  const dv = new DataView(out.buffer, out.byteOffset, size);
  dv.setUint32(0, SNAP_MAGIC, true);
  dv.setUint32(4, version, true);
  let o = 8;
  for (const p of parts) {
    dv.setUint32(o, p === undefined ? ABSENT : p.byteLength, true);
    o += 4;
    if (p !== undefined) {
      out.set(p, o);
      o += p.byteLength;
    }
  }
  return out;
}

function unpackParts(snap: Uint8Array, series: SeriesId): { parts: (Uint8Array | undefined)[]; version: number } {
  const bad = (): never => {
    throw new StreamcastError('fatal', `model runtime snapshot of series "${series}" is corrupt; drop its changelog entry`);
  };
  if (snap.byteLength < 8) bad();
  const dv = new DataView(snap.buffer, snap.byteOffset, snap.byteLength);
  if (dv.getUint32(0, true) !== SNAP_MAGIC) bad();
  const version = dv.getUint32(4, true);
  const parts: (Uint8Array | undefined)[] = [];
  let o = 8;
  for (let i = 0; i < 3; i++) {
    if (o + 4 > snap.byteLength) bad();
    const len = dv.getUint32(o, true);
    o += 4;
    if (len === ABSENT) {
      parts.push(undefined);
      continue;
    }
    if (o + len > snap.byteLength) bad();
    parts.push(snap.slice(o, o + len));
    o += len;
  }
  return { parts, version };
}

/** For the promotion log line: held-out cells, the model's share of each horizon's centre, the outer quantiles' scales. */
function describeCalibration(cal: Calibration): Record<string, unknown> {
  const Q = cal.quantiles.length;
  const r = (x: number): number => Math.round(x * 100) / 100;
  return {
    cells: cal.cells,
    model: Array.from({ length: cal.horizon }, (_, h) => r(cal.blend[h * 3]!)),
    lastValue: Array.from({ length: cal.horizon }, (_, h) => r(cal.blend[h * 3 + 1]!)),
    lower: Array.from({ length: cal.horizon }, (_, h) => r(cal.scale[h * Q]!)),
    upper: Array.from({ length: cal.horizon }, (_, h) => r(cal.scale[h * Q + Q - 1]!)),
  };
}

/** For log lines: `7d`. */
export function describeSchedule(spec: PipelineSpec): string {
  return `every ${formatDuration(spec.retrain.every)} once ${spec.retrain.minHistory} steps exist`;
}
