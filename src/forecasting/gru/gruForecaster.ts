import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../domain/errors.js';
import { quantileKey } from '../../domain/forecast.js';
import type { Forecast, HorizonForecast, ModelInfo, QuantileKey } from '../../domain/forecast.js';
import type { SeriesId } from '../../domain/point.js';
import { sanitizeMean, sanitizeQuantileValues } from '../../domain/quantiles.js';
import type { NormalizedStep } from '../../domain/step.js';
import { splitWaves } from '../../domain/waves.js';
import type { SeriesRegistry } from '../../state/seriesRegistry.js';
import type { Forecaster, ForecasterOptions } from '../forecaster.js';
import { layoutInputSize, writeInput } from './featureLayout.js';
import type { FeatureLayout } from './featureLayout.js';
import { chooseKernel, JS_KERNEL_MAX_BATCH } from './gruStep.js';
import type { StepKernel, StepKernels } from './gruStep.js';
import type { GruModelWeights } from './gruWeights.js';
import { HiddenStateSlab } from './hiddenStateSlab.js';
import { JsStepKernel } from './jsStepKernel.js';
import { QuantileHead } from './quantileHead.js';
import { TfStepKernel } from './tfStepKernel.js';

/** Rows per tf-kernel call; see bench/gruStep.bench.ts (B=1024 vs B=10000 rows of the table). */
const MAX_TF_CHUNK = 1024;

export interface GruForecasterOptions extends ForecasterOptions {
  readonly weights: GruModelWeights;
  /**
   * `auto` (default) picks per wave by batch size (see JS_KERNEL_MAX_BATCH) and never uses tf ops
   * on the tfjs `cpu` backend; `js` / `tf` pin one kernel (benchmarks, tests).
   */
  readonly kernel?: 'auto' | 'js' | 'tf';
  /** Largest wave served by the loop kernel under `auto`. */
  readonly crossover?: number;
  /** Initial slab capacity in series; it doubles as needed. */
  readonly initialCapacity?: number;
  /** The pipeline's series index, whose slots the hidden states take (default: the slab's own). */
  readonly registry?: SeriesRegistry;
}

/**
 * The stateful GRU forecaster for serving. Per wave (each series at most once; see splitWaves):
 * gather the wave's hidden states from the slab, one batched GRU step, scatter them back, apply
 * the quantile head, denormalize with each step's scale. O(1) work per point. Call
 * `selectBackend()` before constructing one, so the tf kernel lands on wasm rather than cpu.
 */
export class GruForecaster implements Forecaster {
  readonly info: ModelInfo;
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly #stepMs: number;
  readonly #layout: FeatureLayout;
  readonly #I: number;
  readonly #H: number;
  readonly #slab: HiddenStateSlab;
  readonly #head: QuantileHead;
  readonly #keys: readonly QuantileKey[];
  readonly #mode: 'auto' | 'js' | 'tf';
  readonly #crossover: number;
  readonly #weights: GruModelWeights;
  readonly #js: JsStepKernel;
  #tf: TfStepKernel | undefined;
  #tfChecked = false;
  // Scratch buffers sized for the largest wave seen; reused so a wave allocates only its outputs.
  #cap = 0;
  #slots = new Int32Array(0);
  #x = new Float32Array(0);
  #hIn = new Float32Array(0);
  #hOut = new Float32Array(0);
  #q = new Float32Array(0);
  readonly #vals: Float64Array;
  /** `diff` layouts: each slot's previous column-0 input (NaN: none since a reset). */
  #prevZ = new Float32Array(0);

  constructor(opts: GruForecasterOptions) {
    const w = opts.weights;
    const head = w.head;
    if (opts.horizon !== head.horizon) {
      throw new ConfigError(`pipeline forecasts ${opts.horizon} steps ahead but GRU model v${w.version} was trained for ${head.horizon}; retrain or change forecast.horizon`);
    }
    if (opts.quantiles.length !== head.quantiles.length || opts.quantiles.some((q, i) => q !== head.quantiles[i])) {
      throw new ConfigError(`pipeline quantiles [${opts.quantiles.join(', ')}] differ from GRU model v${w.version}'s [${head.quantiles.join(', ')}]; retrain or change forecast.quantiles`);
    }
    if (w.cell.inputSize !== layoutInputSize(w.layout)) {
      throw new ConfigError(`GRU model v${w.version} takes ${w.cell.inputSize} inputs per step but its feature layout gives ${layoutInputSize(w.layout)}; the artifact is inconsistent`);
    }
    if (head.units !== w.cell.units) throw new ConfigError(`GRU model v${w.version}: head expects ${head.units} units, cell has ${w.cell.units}`);
    if (!(opts.stepMs > 0) || !Number.isFinite(opts.stepMs)) throw new ConfigError(`stepMs is ${opts.stepMs}; it must be a positive number of milliseconds`);
    this.info = Object.freeze({ name: opts.name, version: w.version, kind: 'gru' as const });
    this.horizon = head.horizon;
    this.quantiles = Object.freeze([...head.quantiles]);
    this.#stepMs = opts.stepMs;
    this.#layout = w.layout;
    this.#I = w.cell.inputSize;
    this.#H = w.cell.units;
    this.#slab = new HiddenStateSlab(this.#H, opts.initialCapacity ?? 64, opts.registry);
    this.#head = new QuantileHead(head);
    this.#keys = this.quantiles.map(quantileKey);
    this.#mode = opts.kernel ?? 'auto';
    this.#crossover = opts.crossover ?? JS_KERNEL_MAX_BATCH;
    this.#weights = w;
    this.#js = new JsStepKernel(w.cell);
    this.#vals = new Float64Array(this.quantiles.length);
  }

  get size(): number {
    return this.#slab.size;
  }

  step(batch: readonly NormalizedStep[]): Forecast[] {
    const out = new Array<Forecast>(batch.length);
    const indexed = batch.map((s, i) => ({ series: s.series, i }));
    for (const wave of splitWaves(indexed)) this.#stepWave(batch, wave, out);
    return out;
  }

  /** The hidden state (HiddenStateSlab's format), then under a `diff` layout the previous input's float32. */
  snapshot(series: SeriesId): Uint8Array | undefined {
    const h = this.#slab.snapshot(series);
    if (h === undefined || this.#layout.diff !== true) return h;
    const out = new Uint8Array(h.byteLength + 4);
    out.set(h);
    new DataView(out.buffer).setFloat32(h.byteLength, this.#prevZ[this.#slab.slotOf(series)] ?? Number.NaN, true);
    return out;
  }

  restore(series: SeriesId, snapshot: Uint8Array): void {
    if (this.#layout.diff !== true) {
      this.#slab.restore(series, snapshot);
      return;
    }
    const n = snapshot.byteLength - 4;
    this.#slab.restore(series, snapshot.subarray(0, Math.max(0, n)));
    const prev = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength).getFloat32(n, true);
    this.#setPrev(this.#slab.slotOf(series), prev);
  }

  drop(series: SeriesId): void {
    if (this.#layout.diff === true && this.#slab.has(series)) this.#setPrev(this.#slab.slotOf(series), Number.NaN);
    this.#slab.free(series);
  }

  #setPrev(slot: number, z: number): void {
    if (slot >= this.#prevZ.length) {
      const grown = new Float32Array(Math.max(64, 2 * (slot + 1))).fill(Number.NaN);
      grown.set(this.#prevZ);
      this.#prevZ = grown;
    }
    this.#prevZ[slot] = z;
  }

  /** Releases the tf kernel's weight tensors; the forecaster must not step afterwards. */
  dispose(): void {
    this.#tf?.dispose();
    this.#slab.close();
  }

  #stepWave(batch: readonly NormalizedStep[], wave: ReadonlyArray<{ readonly i: number }>, out: Forecast[]): void {
    const B = wave.length;
    const I = this.#I;
    const H = this.#H;
    this.#ensure(B);
    const slab = this.#slab;
    const slots = this.#slots;
    for (let b = 0; b < B; b++) {
      const s = batch[wave[b]!.i]!;
      const slot = slab.slotOf(s.series);
      // A reset step (first step, or after a gap past maxGap) starts from h₀ = 0 as in training.
      if (s.reset) slab.zero(slot);
      slots[b] = slot;
      if (this.#layout.diff === true) {
        // A slot never stepped is NaN (grown filled so, and drop() clears one before reuse).
        const prev = s.reset || slot >= this.#prevZ.length ? Number.NaN : this.#prevZ[slot]!;
        writeInput(s, this.#layout, this.#x, b * I, prev);
        this.#setPrev(slot, this.#x[b * I]!);
      } else {
        writeInput(s, this.#layout, this.#x, b * I);
      }
    }
    slab.gather(slots, B, this.#hIn);
    const kernel = this.#kernelFor(B);
    // tf ops get slower per series past ~1–2k rows (the working set leaves cache), so a huge wave
    // is stepped in chunks; the loop kernel does not care.
    const chunk = kernel.name === 'tf' ? MAX_TF_CHUNK : B;
    for (let c = 0; c < B; c += chunk) {
      const n = Math.min(chunk, B - c);
      kernel.step(this.#x.subarray(c * I), this.#hIn.subarray(c * H), this.#hOut.subarray(c * H), n);
    }
    // A non-finite state would poison every later step of its series; start it afresh instead.
    const h = this.#hOut;
    for (let b = 0; b < B; b++) {
      let sum = 0;
      for (let k = b * H; k < (b + 1) * H; k++) sum += h[k]!;
      if (!Number.isFinite(sum)) h.fill(0, b * H, (b + 1) * H);
    }
    slab.scatter(slots, B, h);
    this.#head.apply(h, B, this.#q);
    for (let b = 0; b < B; b++) {
      const i = wave[b]!.i;
      out[i] = this.#forecast(batch[i]!, b);
    }
  }

  #forecast(s: NormalizedStep, b: number): Forecast {
    const Q = this.quantiles.length;
    const anchor = this.#head.anchor;
    const q = this.#q;
    const vals = this.#vals;
    const std = s.scale.std;
    const mu = s.scale.mean;
    const horizons: HorizonForecast[] = new Array<HorizonForecast>(this.horizon);
    for (let t = 0; t < this.horizon; t++) {
      const base = (b * this.horizon + t) * Q;
      for (let j = 0; j < Q; j++) vals[j] = q[base + j]! * std + mu;
      // Non-finite values (corrupt weights, absurd scale) fall back to the last value: a
      // last-value forecast is a poor answer but a valid one.
      const centre = sanitizeMean(vals[anchor]!, s.value);
      sanitizeQuantileValues(vals, centre, Q);
      const qs: Record<QuantileKey, number> = {};
      for (let j = 0; j < Q; j++) qs[this.#keys[j]!] = vals[j]!;
      horizons[t] = { h: t + 1, ts: s.ts + (t + 1) * this.#stepMs, mean: vals[anchor]!, q: qs };
    }
    return { series: s.series, ts: s.ts, step: this.#stepMs, forecast: horizons, model: this.info, imputed: s.imputed };
  }

  #kernelFor(B: number): StepKernel {
    if (this.#mode === 'js') return this.#js;
    if (this.#mode === 'tf') return this.#tfKernel() ?? this.#js;
    const kernels: StepKernels = B > this.#crossover ? { js: this.#js, tf: this.#tfKernel() } : { js: this.#js };
    return chooseKernel(B, kernels, this.#crossover);
  }

  /** The tf kernel, created on first need; undefined under `auto` on the slow `cpu` backend. */
  #tfKernel(): TfStepKernel | undefined {
    if (!this.#tfChecked) {
      this.#tfChecked = true;
      if (this.#mode === 'tf' || tf.getBackend() !== 'cpu') this.#tf = new TfStepKernel(this.#weights.cell);
    }
    return this.#tf;
  }

  #ensure(B: number): void {
    if (B <= this.#cap) return;
    const cap = Math.max(B, this.#cap * 2, 8);
    this.#cap = cap;
    this.#slots = new Int32Array(cap);
    this.#x = new Float32Array(cap * this.#I);
    this.#hIn = new Float32Array(cap * this.#H);
    this.#hOut = new Float32Array(cap * this.#H);
    this.#q = new Float32Array(cap * this.#head.outputs);
  }
}
