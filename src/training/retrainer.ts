import { availableParallelism } from 'node:os';
import { isStreamcastError } from '../domain/errors.js';
import type { Forecast } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import type { NormalizedStep } from '../domain/step.js';
import { selectBackend } from '../forecasting/gru/backend.js';
import type { BackendChoice, BackendRequest } from '../forecasting/gru/backend.js';
import { describeCalibration } from '../forecasting/gru/calibration.js';
import { DEFAULT_Z_CLIP, featureLayout, sameLayout } from '../forecasting/gru/featureLayout.js';
import { memberInit, servableUnits } from '../forecasting/gru/gruMembers.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';
import { alignedRawWindow, baseName, changeHalfLife, rebaseWindow } from '../forecasting/gru/residualBase.js';
import type { ResidualBase } from '../forecasting/gru/residualBase.js';
import { baseOffsets } from '../forecasting/gru/seasonalLags.js';
import type { ModelRuntime } from '../forecasting/modelRuntime.js';
import type { RetrainHooks } from '../forecasting/retrainHooks.js';
import type { EventListener } from '../observability/events.js';
import type { LogSink } from '../observability/logger.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import type { SeriesWindow } from '../state/seriesWindow.js';
import type { ArtifactInfo, ArtifactStore } from './artifactStore.js';
import { specHash } from './artifactStore.js';
import { bestBaselineLoss, chooseBase, chooseLags, originScaleOf } from './baseChoice.js';
import { calibrateCandidate } from './calibrateCandidate.js';
import type { ServingCopy } from './calibrateCandidate.js';
import { buildDatasets, copyDataset, rebaseDataset, unitRatio } from './datasetBuilder.js';
import type { DatasetInfo, TbpttDataset } from './datasetBuilder.js';
import { promotionDecision, weightsLoss } from './evaluateLoss.js';
import { mergePeerWindows } from './peerWindows.js';
import type { MergedWindows, PeerWindows, PeerWindowSource } from './peerWindows.js';
import type { TrainerLike, TrainProgress, TrainResult } from './trainer.js';

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
  /**
   * A first model on the last value trains in both units (change scale and std) and keeps the one
   * with the lower held-out loss in std units (`change`, `std`); `ms`: both trainings and the comparison.
   */
  readonly unitChoice?: { readonly change: number | undefined; readonly std: number | undefined; readonly chosen: 'change' | 'std'; readonly ms: number };
  /** Series and steps trained on from this instance's own history, and from the other instances' (`peerWindows`). */
  readonly own?: { readonly series: number; readonly steps: number };
  readonly peer?: { readonly series: number; readonly steps: number };
}

/**
 * `blocking`: the batch after the one that triggers a retrain waits for it (backtests, replays:
 * deterministic, and each retrain sees exactly the past); `background`: training runs beside the
 * stream and the new model is swapped in between micro-batches when done (live `run`); `off`:
 * never retrain (serve the loaded model or the baseline).
 */
export type RetrainMode = 'blocking' | 'background' | 'off';

export interface RetrainerOptions {
  readonly spec: PipelineSpec;
  readonly retrain?: RetrainMode;
  /** Loads `current` at start; promoted models are saved here when `persist`. */
  readonly store?: ArtifactStore;
  /** Save promoted models to `store` and point `current` at them (default true with a store). */
  readonly persist?: boolean;
  /** Seeds the initial weights and the lane order. */
  readonly seed?: number;
  /** Epochs per retrain (default retrain.epochs). */
  readonly epochs?: number;
  /** Held-out newest fraction of each series' history, on which promotion is decided (default 0.15). */
  readonly valFraction?: number;
  /**
   * Fit the held-out blend and interval calibration (gru/calibration.ts) into each promoted model
   * (default true; false is the ablation: the head's own quantiles).
   */
  readonly calibrate?: boolean;
  /** Serves a candidate as production does, for the held-out calibration replay. */
  readonly servingCopy: ServingCopy;
  readonly trainer?: () => TrainerLike;
  /** The default trainer's backend (`--train-backend`; default `auto`: native where installed). */
  readonly trainBackend?: BackendRequest;
  /**
   * Threads a training job may use to train a model's members at once (default: every core while
   * the stream waits for the retrain, `blocking`; all but one beside a serving stream, `background`).
   */
  readonly trainThreads?: number;
  /**
   * Called once per promotion made here (after it is persisted), with the versioned weights and
   * their meta.json summary: e.g. to publish it to the other instances (src/runtime/modelDistribution.ts).
   */
  readonly onPromoted?: (weights: GruModelWeights, info: ArtifactInfo) => void;
  /**
   * Windows of the series other instances hold, added to this instance's own at every retrain
   * (under Kafka: src/runtime/peerHistory.ts), so that one trainer learns across all series. A
   * failure is logged and the retrain goes on with its own history.
   */
  readonly peerWindows?: PeerWindowSource;
  readonly events?: EventListener;
  readonly logger?: LogSink;
  /** Progress of each scheduled retrain's training (backtest progress): `run` counts retrains from 1. */
  readonly onTrainProgress?: (p: TrainProgress & { readonly run: number }) => void;
}

const DEFAULT_VAL_FRACTION = 0.15;

/**
 * Keeps one ModelRuntime's model fresh (DESIGN.md "Model"): loads the artifact store's `current`
 * model into it at start; on an event-time schedule (`retrain.every`, once some series holds
 * `retrain.minHistory` steps) trains a candidate on the runtime's history in the trainer worker
 * (fine-tuning the model in service, else from a seeded init on a residual base chosen from the
 * baselines), promotes it only if it beats `retrain.promote.mustBeat` on the newest held-out
 * slice, fits its offline calibration, saves it, and installs it in the runtime, which swaps it
 * in between micro-batches. The constructor attaches it to the runtime, whose `step`, `stepAsync`,
 * `pendingWork` and `close` then call it (forecasting/retrainHooks.ts).
 */
export class Retrainer implements RetrainHooks {
  readonly #runtime: ModelRuntime;
  readonly #spec: PipelineSpec;
  readonly #opts: RetrainerOptions;
  readonly #events: EventListener;
  readonly #seed: number;
  #mode: RetrainMode;
  #loading: Promise<void> | undefined;
  #training: Promise<void> | undefined;
  #trainer: TrainerLike | undefined;
  #nextRetrainAt: number | undefined;
  #closing: Promise<void> | undefined;
  #trainBackend = 'none';
  /** Stops the peer-windows read of the retrain in progress (closing, retraining turned off). */
  #peerRead: AbortController | undefined;
  readonly #runs = { promoted: 0, rejected: 0, failed: 0 };
  #started = 0;
  /** Training range (meta.json `training`) of each version served here: loaded or promoted. */
  readonly #trained = new Map<number, { readonly firstTs: number; readonly lastTs: number }>();

  constructor(runtime: ModelRuntime, opts: RetrainerOptions) {
    const spec = opts.spec;
    this.#runtime = runtime;
    this.#spec = spec;
    this.#opts = opts;
    this.#mode = spec.model.type === 'gru' ? (opts.retrain ?? 'off') : 'off';
    this.#events = opts.events ?? (() => undefined);
    this.#seed = opts.seed ?? 1;
    runtime.attach(this);
    if (runtime.weights === undefined && opts.store !== undefined && spec.model.type === 'gru') {
      this.#loading = this.#loadCurrent(opts.store).finally(() => (this.#loading = undefined));
    }
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
    if (mode === 'off') {
      this.#peerRead?.abort();
      this.#trainer?.cancel();
    }
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
  async stepAsync(batch: readonly NormalizedStep[], step: (batch: readonly NormalizedStep[]) => Forecast[]): Promise<Forecast[]> {
    if (this.#mode !== 'blocking') return step(batch);
    if (this.#loading !== undefined) await this.#loading;
    const out: Forecast[] = [];
    let start = 0;
    while (start < batch.length) {
      const end = this.#segmentEnd(batch, start);
      const fc = step(start === 0 && end === batch.length ? batch : batch.slice(start, end));
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
      const n = (counts!.get(s.series) ?? this.#runtime.history.heldOf(s.series)) + 1;
      counts!.set(s.series, n);
      if (n >= this.#spec.retrain.minHistory) return i + 1;
    }
    return batch.length;
  }

  /** The retrain schedule, in event time: the first once a series holds minHistory steps, then every retrain.every. */
  afterStep(): void {
    if (this.#mode === 'off' || this.#closing !== undefined) return;
    const spec = this.#spec;
    const eventTime = this.#runtime.eventTime;
    if (this.#nextRetrainAt === undefined) {
      if (this.#runtime.longestHistory < spec.retrain.minHistory) return;
      this.#nextRetrainAt = eventTime;
    }
    if (eventTime < this.#nextRetrainAt || this.#training !== undefined) return;
    this.#nextRetrainAt = eventTime + spec.retrain.every;
    this.#training = this.#retrain(this.#windows(), {})
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
    const run = this.#retrain(this.#windows(), { explicit: true, ...opts });
    this.#training = run.then(() => undefined).finally(() => (this.#training = undefined));
    const report = await run;
    // Swapped in now, so that `weights`/`info` show the outcome at once.
    this.#runtime.applyPendingSwap();
    return report;
  }

  /** Cancels a running retrain and terminates the trainer worker; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const trainer = this.#trainer;
      this.#peerRead?.abort();
      trainer?.cancel();
      await trainer?.close();
      await this.#training?.catch(() => undefined);
      await this.#loading?.catch(() => undefined);
    })();
    return this.#closing;
  }

  #windows(): SeriesWindow[] {
    const history = this.#runtime.history;
    // Every segment: the steps before a series' last gap train too (SeriesHistory.segmentsOf).
    return [...history.series()].flatMap((s) => history.segmentsOf(s)).filter((w) => w.length >= 2);
  }

  /**
   * This instance's windows with the peers' (`peerWindows`): a read that fails or is stopped
   * costs only the peers' windows. Own windows are taken before (at the trigger), so a blocking
   * retrain still sees exactly the steps up to it.
   */
  async #withPeers(own: SeriesWindow[]): Promise<MergedWindows & { readonly peerMs?: number; readonly peerSkipped?: number; readonly peerSampledOut?: number }> {
    const source = this.#opts.peerWindows;
    if (source === undefined) return mergePeerWindows(own, undefined);
    const t0 = performance.now();
    const read = new AbortController();
    this.#peerRead = read;
    let peer: PeerWindows | undefined;
    try {
      peer = await source({ capacity: this.#runtime.history.capacity, signal: read.signal });
    } catch (err) {
      // Operator action: none needed (the model still trains, on this instance's series); if it
      // persists, check that this instance can read the state changelog.
      if (!read.signal.aborted) this.#opts.logger?.warn({ pipeline: this.#spec.name, err }, `cannot read the other instances' series (${err instanceof Error ? err.message : String(err)}); this retrain uses this instance's own history only`);
    } finally {
      if (this.#peerRead === read) this.#peerRead = undefined;
    }
    const merged = mergePeerWindows(own, peer);
    return { ...merged, peerMs: Math.round(performance.now() - t0), ...(peer !== undefined ? { peerSkipped: peer.skipped, peerSampledOut: peer.sampledOut } : {}) };
  }

  async #retrain(own: SeriesWindow[], how: { explicit?: boolean; force?: boolean; onProgress?: (p: TrainProgress) => void }): Promise<RetrainReport> {
    const started = performance.now();
    const spec = this.#spec;
    const runtime = this.#runtime;
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
      const gathered = await this.#withPeers(own);
      // prepareMs stays the datasets' and baselines' time (the peers' read is peerMs).
      const prepareFrom = performance.now();
      if (this.#closing !== undefined) return { outcome: 'skipped', reason: 'closing' };
      if (abandoned()) return { outcome: 'skipped', reason: 'cancelled' };
      const windows = gathered.windows;
      // Whose series this retrain learns from: this instance's and the other instances' (peerWindows).
      const origin = { own: gathered.own, peer: gathered.peer };
      const originLog = {
        ownSeries: origin.own.series,
        ownSteps: origin.own.steps,
        ...(this.#opts.peerWindows !== undefined
          ? { peerSeries: origin.peer.series, peerSteps: origin.peer.steps, peerMs: gathered.peerMs, peerSkipped: gathered.peerSkipped, peerSampledOut: gathered.peerSampledOut }
          : {}),
      };
      // Chosen on this instance's own windows only: the peers' are short tails (snapshot tails),
      // too short for some seasonal candidates, so with them the candidates would be scored on
      // different cells (test/unit/training/retrainerPeers.test.ts).
      const chosen = runtime.residualBase ?? chooseBase(own, spec, runtime.history.capacity, valFraction);
      // Base columns (a seasonal base only) are chosen with the first model and kept with it, as
      // its lags are: a model in service on this base keeps its own (none for one from before them).
      const inService = runtime.servedWeights;
      const keptOffsets = inService !== undefined && baseName(inService.layout.base) === baseName(chosen) ? [...(inService.layout.baseOffsets ?? [])] : undefined;
      const offered = keptOffsets ?? baseOffsets(chosen, spec.model.horizon);
      const candidates = [this.#candidate(chosen, own, windows, valFraction, offered)];
      // A first model trains a second candidate and keeps the one with the lower held-out loss.
      // On the last value: the other unit, the std (neither wins everywhere; DESIGN.md "change
      // units"), compared in std units. On a seasonal base: the same base without the base
      // columns, which let the model forecast the last value where a season ago is poor
      // (ambient_temperature, nyc_taxi) but can cost the near horizons (docs/benchmarks.md).
      const unitChoosing = runtime.residualBase === undefined && changeHalfLife(chosen) !== undefined;
      if (unitChoosing) candidates.push(this.#candidate({ kind: 'last-value' }, own, windows, valFraction, []));
      else if (keptOffsets === undefined && offered.length > 0) candidates.push(this.#candidate(chosen, own, windows, valFraction, []));
      const first = candidates[0]!;
      if (first.train.cells === 0 || first.validation.cells === 0) {
        const info = first.info;
        this.#opts.logger?.info({ pipeline: spec.name, steps: info.steps, ...originLog }, 'retrain skipped: not enough history for training and held-out cells');
        return { outcome: 'skipped', reason: `not enough history: ${info.steps} steps over ${info.series} series give ${first.train.cells} training and ${first.validation.cells} held-out cells`, ...origin };
      }
      // Per origin, change unit / std: turns the change candidate's held-out loss into std units.
      const toStd = unitChoosing ? unitRatio(first.validation, candidates[1]!.validation) : undefined;
      const changeValidation = toStd !== undefined ? copyDataset(first.validation) : undefined;
      const prepareMs = performance.now() - prepareFrom;
      this.#trainer ??= this.#opts.trainer?.() ?? (await defaultTrainer(this.#opts.trainBackend));
      if (this.#closing !== undefined) return { outcome: 'skipped', reason: 'closing' };
      if (abandoned()) return { outcome: 'skipped', reason: 'cancelled' };
      const trained: { readonly c: Candidate; readonly res: TrainResult }[] = [];
      for (const c of candidates) {
        const r = await this.#trainer.train(
          {
            train: c.train,
            validation: c.validation,
            init: c.init,
            ...(c.current !== undefined ? { current: c.current } : {}),
            memberUnits: spec.model.hidden,
            threads: this.#opts.trainThreads ?? (this.#mode === 'background' ? Math.max(1, availableParallelism() - 1) : availableParallelism()),
            options: { epochs: this.#opts.epochs ?? spec.retrain.epochs, seed: this.#seed },
          },
          // Two candidates share the bar: the first fills its first half.
          onProgress === undefined || candidates.length === 1 ? onProgress : (p: TrainProgress) => onProgress({ ...p, fraction: (trained.length + p.fraction) / candidates.length }),
        );
        // Retraining turned off meanwhile (another instance trains now, or a backtest was interrupted): its candidate is not ours to promote.
        if (r.status === 'cancelled' || abandoned()) return { outcome: 'skipped', reason: 'cancelled' };
        trained.push({ c, res: r });
      }
      let pick = trained[0]!;
      let unitChoice: { change: number | undefined; std: number | undefined; chosen: 'change' | 'std'; ms: number } | undefined;
      let columnsChoice: { withBaseColumns: number | null; withoutBaseColumns: number | null; chosen: 'with' | 'without' } | undefined;
      if (toStd !== undefined && changeValidation !== undefined && trained.length === 2) {
        const evalFrom = performance.now();
        const change = await weightsLoss(trained[0]!.res.weights, changeValidation, undefined, undefined, toStd);
        const std = trained[1]!.res.valLoss;
        if (abandoned()) return { outcome: 'skipped', reason: 'cancelled' };
        // The change unit stays on a tie or without a finite loss to compare.
        const useStd = std !== undefined && Number.isFinite(std) && (change === undefined || !Number.isFinite(change) || std < change);
        if (useStd) pick = trained[1]!;
        unitChoice = { change, std, chosen: useStd ? 'std' : 'change', ms: Math.round(trained[0]!.res.durationMs + trained[1]!.res.durationMs + performance.now() - evalFrom) };
      } else if (trained.length === 2) {
        // With and without base columns: same base, cells and unit; a tie keeps the columns.
        const withLoss = trained[0]!.res.valLoss ?? Number.POSITIVE_INFINITY;
        const withoutLoss = trained[1]!.res.valLoss ?? Number.POSITIVE_INFINITY;
        if (withoutLoss < withLoss) pick = trained[1]!;
        columnsChoice = { withBaseColumns: trained[0]!.res.valLoss ?? null, withoutBaseColumns: trained[1]!.res.valLoss ?? null, chosen: pick === trained[0] ? 'with' : 'without' };
      }
      const { base, validation, info, current, bestBaseline } = pick.c;
      const res = pick.res;
      this.#trainBackend = res.backend;
      // The promotion gate.
      // Fine-tuning keeps the best epoch's weights, and the initial ones (the model in service) win
      // when no epoch beat them: the candidate is then the current model, not a new one that tied.
      const unimproved = current !== undefined && res.bestEpoch === 0 ? { epochs: res.epochs, bestEpochLoss: bestEpochLoss(res.history) } : undefined;
      const decision = promotionDecision({ candidate: res.valLoss, current: res.currentValLoss, baseline: bestBaseline, mustBeat: spec.retrain.promote.mustBeat, ...(unimproved !== undefined ? { unimproved } : {}) });
      // Where a retrain's time goes (dataset and baseline losses, the worker's epochs and evaluations, the calibration replay).
      // unitChoice: both candidates' held-out losses in std units, and their training and comparison time (ms).
      const log: Record<string, unknown> = { pipeline: spec.name, ...originLog, base: baseName(base), valLoss: res.valLoss, currentValLoss: res.currentValLoss, baselineLoss: bestBaseline, epochs: res.epochs, bestEpoch: res.bestEpoch, ...((res.averaged ?? 1) > 1 ? { averaged: res.averaged } : {}), ms: Math.round(res.durationMs), prepareMs: Math.round(prepareMs), ...(res.kernel !== undefined ? { kernel: res.kernel } : {}), ...((res.membersElsewhere ?? 0) > 0 ? { membersElsewhere: res.membersElsewhere } : {}), ...(unitChoice !== undefined ? { unitChoice } : {}), ...(columnsChoice !== undefined ? { baseColumns: columnsChoice } : {}) };
      const losses = { ...origin, valLoss: res.valLoss, initialValLoss: res.initialValLoss, currentValLoss: res.currentValLoss, baselineLoss: bestBaseline, validationCells: validation.cells, epochs: res.epochs, bestEpoch: res.bestEpoch, durationMs: res.durationMs, backend: res.backend, base: baseName(base), ...(unitChoice !== undefined ? { unitChoice } : {}) };
      report = { outcome: 'rejected', reason: decision.reason, ...losses };
      if (!decision.promote && how.force !== true) {
        outcome('rejected');
        log['totalMs'] = Math.round(performance.now() - started);
        this.#opts.logger?.info(log, `candidate rejected: ${decision.reason}`);
        return report;
      }
      const calibrating = performance.now();
      const offline = this.#opts.calibrate === false ? undefined : await calibrateCandidate(res.weights, windows, { spec, valFraction, serve: this.#opts.servingCopy });
      log['calibrateMs'] = Math.round(performance.now() - calibrating);
      const weights: GruModelWeights = offline === undefined ? res.weights : { ...res.weights, calibration: offline };
      if (abandoned()) return { outcome: 'skipped', reason: 'cancelled' };
      // Never below the version in service: it may have been adopted from another instance.
      let version = (runtime.weights?.version ?? 0) + 1;
      const artifact: ArtifactInfo = {
        specHash: specHash(spec),
        training: { firstTs: info.firstTs ?? null, lastTs: info.lastTs ?? null, series: info.series, steps: info.steps, epochs: res.epochs, durationMs: Math.round(res.durationMs) },
        validation: { loss: res.valLoss ?? null, baselineLoss: bestBaseline ?? null, currentLoss: res.currentValLoss ?? null },
        backend: res.backend,
      };
      const store = this.#opts.store;
      const persist = store !== undefined && this.#opts.persist !== false;
      if (persist) version = await store.save(spec.name, weights, artifact, { makeCurrent: true, minVersion: version });
      // Once saved as current, only closing stops the promotion (the store already points at it).
      const stopNow = (): boolean => (persist ? this.#closing !== undefined : abandoned());
      if (stopNow()) return { outcome: 'skipped', reason: 'cancelled' };
      runtime.useBackend((await selectBackend()).name);
      if (stopNow()) return { outcome: 'skipped', reason: 'cancelled' };
      const promoted = { ...weights, version };
      if (info.firstTs !== undefined && info.lastTs !== undefined) this.#trained.set(version, { firstTs: info.firstTs, lastTs: info.lastTs });
      runtime.install(promoted);
      this.#opts.onPromoted?.(promoted, artifact);
      outcome('promoted');
      const reason = decision.promote ? decision.reason : `${decision.reason} (forced)`;
      log['totalMs'] = Math.round(performance.now() - started);
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
   * What training on `base` needs: its lags and layout, datasets, initial weights (the model in
   * service where its layout matches), and the best baseline's held-out loss in its unit.
   */
  #candidate(base: ResidualBase, own: readonly SeriesWindow[], windows: readonly SeriesWindow[], valFraction: number, offsets: readonly number[]): Candidate {
    const spec = this.#spec;
    const { horizon, hidden, quantiles, context } = spec.model;
    // Under `auto` the lags are chosen with the first model and kept with it, as its base is (on own windows, as the base).
    const inService = this.#runtime.servedWeights;
    const lags = spec.model.lags === 'auto' && inService !== undefined && baseName(inService.layout.base) === baseName(base) ? [...(inService.layout.lags ?? [])] : chooseLags(own, spec, base, valFraction);
    const layout = featureLayout(spec.model.timeFeatures, spec.impute.maxGap / spec.window.step, DEFAULT_Z_CLIP, base, spec.model.diff, lags, offsets);
    const rawOf = new Map<SeriesWindow, SeriesWindow>();
    const rebased: SeriesWindow[] = [];
    for (const w of windows) {
      const r = rebaseWindow(w, base);
      if (r === undefined) continue;
      rebased.push(r);
      rawOf.set(r, w);
    }
    const raw = windows.map((w) => alignedRawWindow(w, base)).filter((w): w is SeriesWindow => w !== undefined);
    const originScale = originScaleOf(base);
    const { train, validation, info } = buildDatasets(rebased, { layout, horizon, context, valFraction, raw: rawOf, ...(originScale !== undefined ? { originScale } : {}) });
    rebaseDataset(train, base);
    rebaseDataset(validation, base);
    const bestBaseline = train.cells === 0 || validation.cells === 0 ? undefined : bestBaselineLoss(raw, spec, valFraction, base);
    const served = inService;
    const current = served !== undefined && sameLayout(served.layout, layout) ? served : undefined;
    // The model in service is fine-tuned member by member (more members than it has start afresh).
    const members = spec.model.members;
    const init = current !== undefined && current.cell.units === hidden * members ? current : memberInit(current, { layout, units: hidden, horizon, quantiles }, members, this.#seed);
    return { base, train, validation, info, init, current, bestBaseline };
  }

  async #loadCurrent(store: ArtifactStore): Promise<void> {
    const spec = this.#spec;
    const layout = featureLayout(spec.model.timeFeatures, spec.impute.maxGap / spec.window.step);
    try {
      if ((await store.currentVersion(spec.name)) === undefined) return;
      // Before loading: the artifact store builds a tfjs model, and a tensor made before a backend is
      // chosen starts tfjs' slow cpu backend (which prints its "install tfjs-node" banner).
      this.#runtime.useBackend((await selectBackend()).name);
      const loaded = await store.loadCurrent(spec.name, { layout, hidden: servableUnits(spec), horizon: spec.model.horizon, quantiles: spec.model.quantiles, anyBase: true });
      if (loaded === undefined) return;
      if (this.#closing !== undefined) return;
      const t = loaded.meta.training;
      if (t.firstTs !== null && t.lastTs !== null) this.#trained.set(loaded.version, { firstTs: t.firstTs, lastTs: t.lastTs });
      this.#runtime.install(loaded.weights);
      this.#opts.logger?.info({ pipeline: spec.name, version: loaded.version, base: baseName(loaded.weights.layout.base) }, `loaded model v${loaded.version} from ${store.root}`);
    } catch (err) {
      if (!isStreamcastError(err)) throw err;
      // Operator action: fix or retrain the artifact (`streamcast train`), or point `current` at a good version.
      this.#opts.logger?.warn({ pipeline: spec.name, err: err.message }, 'cannot load the current model; the baseline stays in service');
    }
  }
}

/** One residual base's training inputs (Retrainer's #candidate). */
interface Candidate {
  readonly base: ResidualBase;
  readonly train: TbpttDataset;
  readonly validation: TbpttDataset;
  readonly info: DatasetInfo;
  readonly init: GruModelWeights;
  readonly current: GruModelWeights | undefined;
  readonly bestBaseline: number | undefined;
}

/** The lowest held-out loss any epoch reached (undefined when none had one). */
function bestEpochLoss(history: readonly { readonly valLoss: number | undefined }[]): number | undefined {
  let best: number | undefined;
  for (const e of history) if (e.valLoss !== undefined && Number.isFinite(e.valLoss) && (best === undefined || e.valLoss < best)) best = e.valLoss;
  return best;
}

async function defaultTrainer(backend: BackendRequest | undefined): Promise<TrainerLike> {
  // Loaded on first use: a process that never trains never loads the worker's code.
  const { Trainer } = await import('./trainer.js');
  return new Trainer(backend !== undefined ? { backend } : {});
}
