import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Clock } from '../domain/clock.js';
import { ConfigError } from '../domain/errors.js';
import type { FeatureLayout } from '../forecasting/gru/featureLayout.js';
import { baseOffsetsFromNames, featureLayout, inputNames, lagsFromNames, layoutInputSize } from '../forecasting/gru/featureLayout.js';
import { baseName, parseBase } from '../forecasting/gru/residualBase.js';
import { calibrationFromJson, calibrationToJson } from '../forecasting/gru/calibration.js';
import type { CalibrationJson } from '../forecasting/gru/calibration.js';
import { fileSystemIOHandler } from '../forecasting/gru/fileSystemIOHandler.js';
import { assignToLayersModel, weightsFromLayersModel } from '../forecasting/gru/gruWeights.js';
import type { GruModelWeights } from '../forecasting/gru/gruWeights.js';

export const META_JSON = 'meta.json';
export const CURRENT_FILE = 'current';
const FORMAT = 'streamcast-gru';
const FORMAT_VERSION = 1;

/** What a trained model was trained for and on; stored as meta.json beside the weights. */
export interface ArtifactMeta {
  readonly format: typeof FORMAT;
  readonly formatVersion: typeof FORMAT_VERSION;
  readonly pipeline: string;
  readonly version: number;
  /** sha256 of the pipeline spec (see specHash); informative: compatibility is the layout's. */
  readonly specHash: string;
  readonly layout: {
    readonly inputNames: readonly string[];
    readonly timeFeatures: FeatureLayout['timeFeatures'];
    readonly maxGapSteps: number;
    readonly zClip: number;
    /** What the head corrects (residualBase.ts): none, last-value, seasonal:<steps>; absent = none. */
    readonly base?: string;
    readonly hidden: number;
    readonly horizon: number;
    readonly quantiles: readonly number[];
  };
  readonly training: {
    readonly firstTs: number | null;
    readonly lastTs: number | null;
    readonly series: number;
    readonly steps: number;
    readonly epochs: number;
    readonly durationMs: number;
  };
  /** Mean pinball loss per cell and level, normalized units, on the held-out slice. */
  readonly validation: {
    readonly loss: number | null;
    readonly baselineLoss: number | null;
    readonly currentLoss: number | null;
  };
  readonly backend: string;
  /** Held-out blend and interval calibration (calibration.ts); absent = none. */
  readonly calibration?: CalibrationJson;
  /** ISO-8601, from the injected clock. */
  readonly createdAt: string;
}

/** The caller's side of meta.json; the store fills in format, pipeline, version, layout, createdAt. */
export interface ArtifactInfo {
  readonly specHash: string;
  readonly training: ArtifactMeta['training'];
  readonly validation: ArtifactMeta['validation'];
  readonly backend: string;
}

/** What the loading pipeline needs a model to have been trained for. */
export interface ExpectedModel {
  readonly layout: FeatureLayout;
  /** Hidden units the pipeline can serve (one size, or any of several: gruMembers.ts' servableUnits). */
  readonly hidden?: number | readonly number[];
  readonly horizon: number;
  readonly quantiles: readonly number[];
  /**
   * Accept whichever residual base the artifact was trained with (the loaded weights' layout then
   * carries it) instead of requiring `layout.base`.
   */
  readonly anyBase?: boolean;
}

export interface LoadedModel {
  readonly version: number;
  readonly weights: GruModelWeights;
  readonly meta: ArtifactMeta;
}

/** Stable sha256 of a spec (object keys sorted), for meta.json. */
export function specHash(spec: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canon(spec))).digest('hex');
}

/**
 * Trained models on disk, without tfjs-node:
 *   <root>/<pipeline>/<version>/model.json, weights.bin   a tf.layers model (GRU + TimeDistributed
 *                                                          Dense), loadable by tf.loadLayersModel
 *   <root>/<pipeline>/<version>/meta.json                 ArtifactMeta
 *   <root>/<pipeline>/current                              {"version": N}: the model in service
 * A version folder is written under a temporary name and renamed into place, and `current` is
 * replaced by rename, so readers never see half an artifact. Needs a tfjs backend (selectBackend)
 * to build the layers model.
 */
export class ArtifactStore {
  readonly root: string;
  readonly #clock: Clock;

  constructor(root: string, clock: Clock) {
    this.root = root;
    this.#clock = clock;
  }

  /** Existing versions of a pipeline, ascending. */
  async versions(pipeline: string): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir(pipeline));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => /^[1-9][0-9]*$/.test(n)).map(Number).sort((a, b) => a - b);
  }

  /**
   * Writes a new version (the next integer, at least `minVersion`) and returns it; `makeCurrent`
   * also points `current` at it.
   */
  async save(pipeline: string, weights: GruModelWeights, info: ArtifactInfo, opts: { makeCurrent?: boolean; minVersion?: number } = {}): Promise<number> {
    const dir = this.#dir(pipeline);
    await mkdir(dir, { recursive: true });
    for (let attempt = 0; attempt < 5; attempt++) {
      const version = Math.max(((await this.versions(pipeline)).at(-1) ?? 0) + 1, opts.minVersion ?? 1);
      const tmp = path.join(dir, `.tmp-${version}-${process.pid}`);
      await rm(tmp, { recursive: true, force: true });
      const meta = this.#meta(pipeline, version, weights, info);
      await saveLayers(tmp, { ...weights, version });
      await writeFile(path.join(tmp, META_JSON), `${JSON.stringify(meta, null, 2)}\n`);
      try {
        await rename(tmp, path.join(dir, String(version)));
      } catch (err) {
        // Another writer took this version number: try the next one.
        await rm(tmp, { recursive: true, force: true });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') continue;
        throw err;
      }
      if (opts.makeCurrent) await this.setCurrent(pipeline, version);
      return version;
    }
    throw new ConfigError(`could not allocate a model version under ${dir}; is another trainer writing there?`);
  }

  async setCurrent(pipeline: string, version: number): Promise<void> {
    const file = path.join(this.#dir(pipeline), CURRENT_FILE);
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify({ version })}\n`);
    await rename(tmp, file);
  }

  /** The version `current` names, undefined when there is none yet. */
  async currentVersion(pipeline: string): Promise<number | undefined> {
    const file = path.join(this.#dir(pipeline), CURRENT_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ConfigError(`cannot read ${file}`, { cause: err });
    }
    let v: unknown;
    try {
      v = (JSON.parse(text) as { version?: unknown }).version;
    } catch (err) {
      throw new ConfigError(`${file} is not valid JSON; it should hold {"version": N}`, { cause: err });
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(`${file} names version ${JSON.stringify(v)}; it should hold {"version": N} with N ≥ 1`);
    return v;
  }

  /**
   * The model in service for `pipeline`, or undefined when none has been promoted. Throws a
   * ConfigError (kind `config`) for a corrupt artifact or one trained for another feature layout,
   * horizon, quantiles or hidden size: the caller keeps its previous model (or the baseline).
   */
  async loadCurrent(pipeline: string, expected: ExpectedModel): Promise<LoadedModel | undefined> {
    const version = await this.currentVersion(pipeline);
    return version === undefined ? undefined : this.load(pipeline, version, expected);
  }

  async load(pipeline: string, version: number, expected: ExpectedModel): Promise<LoadedModel> {
    const dir = path.join(this.#dir(pipeline), String(version));
    const meta = await readMeta(path.join(dir, META_JSON));
    if (expected.anyBase === true) {
      const l = expected.layout;
      expected = { ...expected, layout: featureLayout(l.timeFeatures, l.maxGapSteps, l.zClip, parseBase(meta.layout.base), meta.layout.inputNames.includes('dz'), lagsFromNames(meta.layout.inputNames), baseOffsetsFromNames(meta.layout.inputNames)) };
    }
    checkCompatible(meta, expected, dir);
    let model: tf.LayersModel | undefined;
    try {
      model = await tf.loadLayersModel(fileSystemIOHandler(dir));
      const weights = weightsFromLayersModel(model, { version, layout: expected.layout, horizon: meta.layout.horizon, quantiles: meta.layout.quantiles });
      if (weights.cell.units !== meta.layout.hidden) throw new ConfigError(`${dir}: weights have ${weights.cell.units} hidden units but meta.json says ${meta.layout.hidden}`);
      for (const a of [weights.cell.kernel, weights.cell.recurrentKernel, weights.cell.bias, weights.head.kernel, weights.head.bias]) {
        if (!a.every(Number.isFinite)) throw new ConfigError(`${dir}: weights contain NaN or Infinity; the artifact is corrupt`);
      }
      const calibrated = meta.calibration === undefined ? weights : { ...weights, calibration: calibrationFromJson(meta.calibration, weights.head.horizon, weights.head.quantiles) };
      return { version, weights: calibrated, meta };
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`${dir}: cannot load the model (${err instanceof Error ? err.message : String(err)}); the artifact is corrupt, retrain or point ${CURRENT_FILE} at another version`, { cause: err });
    } finally {
      model?.dispose();
    }
  }

  #dir(pipeline: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(pipeline) || pipeline.startsWith('.')) throw new ConfigError(`pipeline name "${pipeline}" cannot name a models folder; use letters, digits, '.', '_' or '-'`);
    return path.join(this.root, pipeline);
  }

  #meta(pipeline: string, version: number, w: GruModelWeights, info: ArtifactInfo): ArtifactMeta {
    return {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      pipeline,
      version,
      specHash: info.specHash,
      layout: {
        inputNames: inputNames(w.layout),
        timeFeatures: [...w.layout.timeFeatures],
        maxGapSteps: w.layout.maxGapSteps,
        zClip: w.layout.zClip,
        base: baseName(w.layout.base),
        hidden: w.cell.units,
        horizon: w.head.horizon,
        quantiles: [...w.head.quantiles],
      },
      training: info.training,
      validation: info.validation,
      backend: info.backend,
      ...(w.calibration !== undefined ? { calibration: calibrationToJson(w.calibration) } : {}),
      createdAt: new Date(this.#clock.now()).toISOString(),
    };
  }
}

async function saveLayers(dir: string, weights: GruModelWeights): Promise<void> {
  const I = layoutInputSize(weights.layout);
  const model = tf.sequential({
    name: 'streamcast_gru',
    layers: [
      // Zero initializers: the weights are overwritten at once (and orthogonal init is slow for big H).
      tf.layers.gru({ units: weights.cell.units, inputShape: [null, I], returnSequences: true, recurrentActivation: 'sigmoid', kernelInitializer: 'zeros', recurrentInitializer: 'zeros', name: 'gru' }),
      tf.layers.timeDistributed({ layer: tf.layers.dense({ units: weights.head.horizon * weights.head.quantiles.length, kernelInitializer: 'zeros', name: 'head' }), name: 'quantile_head' }),
    ],
  });
  try {
    assignToLayersModel(model, weights);
    await model.save(fileSystemIOHandler(dir));
  } finally {
    model.dispose();
  }
}

async function readMeta(file: string): Promise<ArtifactMeta> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}; the artifact is incomplete`, { cause: err });
  }
  let m: Partial<ArtifactMeta>;
  try {
    m = JSON.parse(text) as Partial<ArtifactMeta>;
  } catch (err) {
    throw new ConfigError(`${file} is not valid JSON; the artifact is corrupt`, { cause: err });
  }
  const l = m?.layout;
  const ok =
    m !== null &&
    typeof m === 'object' &&
    m.format === FORMAT &&
    m.formatVersion === FORMAT_VERSION &&
    l !== undefined &&
    Array.isArray(l.inputNames) &&
    Array.isArray(l.timeFeatures) &&
    Array.isArray(l.quantiles) &&
    Number.isInteger(l.hidden) &&
    Number.isInteger(l.horizon) &&
    typeof l.maxGapSteps === 'number' &&
    typeof l.zClip === 'number' &&
    (l.base === undefined || typeof l.base === 'string');
  if (!ok) throw new ConfigError(`${file} is not a ${FORMAT} v${FORMAT_VERSION} meta.json (missing or wrong format/layout fields)`);
  return m as ArtifactMeta;
}

function checkCompatible(meta: ArtifactMeta, want: ExpectedModel, dir: string): void {
  const l = meta.layout;
  const differs: string[] = [];
  const same = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(l.inputNames, inputNames(want.layout))) differs.push(`inputs [${l.inputNames.join(', ')}] vs [${inputNames(want.layout).join(', ')}]`);
  if (l.maxGapSteps !== want.layout.maxGapSteps) differs.push(`maxGapSteps ${l.maxGapSteps} vs ${want.layout.maxGapSteps}`);
  if (l.zClip !== want.layout.zClip) differs.push(`zClip ${l.zClip} vs ${want.layout.zClip}`);
  if ((l.base ?? 'none') !== baseName(want.layout.base)) differs.push(`base ${l.base ?? 'none'} vs ${baseName(want.layout.base)}`);
  if (l.horizon !== want.horizon) differs.push(`horizon ${l.horizon} vs ${want.horizon}`);
  if (!same(l.quantiles, want.quantiles)) differs.push(`quantiles [${l.quantiles.join(', ')}] vs [${want.quantiles.join(', ')}]`);
  const hidden = want.hidden === undefined ? undefined : typeof want.hidden === 'number' ? [want.hidden] : want.hidden;
  if (hidden !== undefined && !hidden.includes(l.hidden)) differs.push(`hidden ${l.hidden} vs ${hidden.join(' or ')}`);
  if (differs.length > 0) {
    throw new ConfigError(`${dir} was trained for another model shape (artifact vs pipeline: ${differs.join('; ')}); retrain with \`streamcast train\` for this spec`);
  }
}
