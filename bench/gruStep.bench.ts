/**
 * GRU serving step throughput: series-steps/s for both step kernels at several batch sizes, and
 * the per-message cost of the stateful step vs re-running a 96-step window (what a stateless
 * model does on every message).
 *
 *   npx tsx bench/gruStep.bench.ts            # the table
 *   npx tsx bench/gruStep.bench.ts --crossover  # B = 1..32, to place JS_KERNEL_MAX_BATCH
 *   npx tsx bench/gruStep.bench.ts --leak       # 1M tf-kernel steps, tensor count before/after
 *
 * Config as in issue 3: H = 64, I = 8 inputs, 12 head outputs (4 horizons × 3 quantiles).
 * "step" = one GRU step on gathered states; "served" adds gather/scatter through the slab and the
 * quantile head, i.e. the whole per-wave model cost of GruForecaster minus object building;
 * "forecaster" is GruForecaster.step end to end (input features, Forecast objects included),
 * with I = 11 (4 time features) and 4 horizons × 3 quantiles.
 */
import * as tf from '@tensorflow/tfjs';
import type { NormalizedStep } from '../src/domain/step.js';
import { selectBackend } from '../src/forecasting/gru/backend.js';
import { featureLayout } from '../src/forecasting/gru/featureLayout.js';
import { GruForecaster } from '../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../src/forecasting/gru/gruWeights.js';
import type { StepKernel } from '../src/forecasting/gru/gruStep.js';
import type { GruCellWeights, HeadWeights } from '../src/forecasting/gru/gruWeights.js';
import { HiddenStateSlab } from '../src/forecasting/gru/hiddenStateSlab.js';
import { JsStepKernel } from '../src/forecasting/gru/jsStepKernel.js';
import { mulberry32 } from '../src/domain/random.js';
import { headBiasInit, QuantileHead } from '../src/forecasting/gru/quantileHead.js';
import { TfStepKernel } from '../src/forecasting/gru/tfStepKernel.js';

const H = 64;
const I = 8;
const HORIZON = 4;
const QUANTILES = [0.1, 0.5, 0.9];
const WINDOW = 96;

const u = mulberry32(42);
const rand = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (2 * u() - 1) * scale);
const cell: GruCellWeights = { inputSize: I, units: H, kernel: rand(I * 3 * H, 0.3), recurrentKernel: rand(H * 3 * H, 0.15), bias: rand(3 * H, 0.1) };
const head: HeadWeights = { units: H, horizon: HORIZON, quantiles: QUANTILES, kernel: rand(H * HORIZON * QUANTILES.length, 0.2), bias: headBiasInit(QUANTILES, HORIZON) };

/**
 * Seconds per call of `fn`: the fastest of several short trials after warm-up. The dev machine is
 * shared (2 cores, other jobs), and interference only ever adds time, so the minimum is the
 * estimate least polluted by it.
 */
function time(fn: () => void, minMs = 400, trials = 7): number {
  for (let i = 0; i < 5; i++) fn();
  let best = Infinity;
  for (let r = 0; r < trials; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < minMs / trials || n === 0) {
      fn();
      n++;
      t = performance.now();
    }
    best = Math.min(best, (t - t0) / 1000 / n);
  }
  return best;
}

function stepOnly(kernel: StepKernel, B: number): () => void {
  const x = rand(B * I, 1);
  const h = new Float32Array(B * H);
  const out = new Float32Array(B * H);
  return () => kernel.step(x, h, out, B);
}

function served(kernel: StepKernel, B: number): () => void {
  const slab = new HiddenStateSlab(H, B);
  const slots = new Int32Array(B);
  for (let b = 0; b < B; b++) slots[b] = slab.slotOf(`s${b}`);
  const qh = new QuantileHead(head);
  const x = rand(B * I, 1);
  const hIn = new Float32Array(B * H);
  const hOut = new Float32Array(B * H);
  const q = new Float32Array(B * qh.outputs);
  return () => {
    slab.gather(slots, B, hIn);
    kernel.step(x, hIn, hOut, B);
    slab.scatter(slots, B, hOut);
    qh.apply(hOut, B, q);
  };
}

/** The stateless alternative: a tf.layers GRU + dense head predicting from a 96-step window. */
function windowRerun(B: number): { fn: () => void; dispose: () => void } {
  const model = tf.sequential({
    layers: [
      tf.layers.gru({ units: H, recurrentActivation: 'sigmoid', inputShape: [WINDOW, I] }),
      tf.layers.dense({ units: HORIZON * QUANTILES.length }),
    ],
  });
  const xs = tf.tensor3d(rand(B * WINDOW * I, 1), [B, WINDOW, I]);
  return {
    fn: () => {
      tf.tidy(() => (model.predict(xs) as tf.Tensor).dataSync());
    },
    dispose: () => {
      xs.dispose();
      model.dispose();
    },
  };
}

function forecasterRun(B: number): { fn: () => void; dispose: () => void } {
  const layout = featureLayout(['hourOfDay', 'dayOfWeek', 'dayOfYear', 'minuteOfHour'], 24);
  const weights = initGruModelWeights({ layout, units: H, horizon: HORIZON, quantiles: QUANTILES }, 1, 1);
  const f = new GruForecaster({ name: 'bench', stepMs: 3_600_000, horizon: HORIZON, quantiles: QUANTILES, weights, initialCapacity: B });
  let t = 0;
  const batch = (): NormalizedStep[] => {
    t++;
    return Array.from({ length: B }, (_, b) => ({ series: `s${b}`, ts: t * 3_600_000, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: false, z: Math.sin(b + t), scale: { mean: 0, std: 1 } }));
  };
  const batches = Array.from({ length: 4 }, batch);
  let i = 0;
  return { fn: () => void f.step(batches[i++ % 4]!), dispose: () => f.dispose() };
}

const fmt = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3));

async function main(): Promise<void> {
  const backend = await selectBackend();
  console.log(`backend ${backend.name} simd=${backend.simd} threads=${backend.threads}; H=${H} I=${I} outputs=${HORIZON * QUANTILES.length}`);
  const js = new JsStepKernel(cell);
  const tk = new TfStepKernel(cell);
  const tensors0 = tf.memory().numTensors;
  // tfjs' JS side needs ~1 s of calls before V8 has optimized it; without this the first rows lie.
  const warm = stepOnly(tk, 16);
  for (const t0 = performance.now(); performance.now() - t0 < 1500; ) warm();

  if (process.argv.includes('--leak')) {
    const B = 8;
    const x = rand(B * I, 1);
    let h = new Float32Array(B * H);
    let o = new Float32Array(B * H);
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    for (let i = 0; i < 1_000_000; i++) {
      tk.step(x, h, o, B);
      [h, o] = [o, h];
    }
    console.log(`1M tf-kernel steps (B=${B}) in ${((performance.now() - t0) / 1000).toFixed(1)} s: numTensors ${before} → ${tf.memory().numTensors}`);
    return;
  }

  if (process.argv.includes('--crossover')) {
    console.log('B\tjs µs/batch\ttf µs/batch');
    for (let B = 1; B <= 32; B++) {
      console.log(`${B}\t${(time(stepOnly(js, B), 200) * 1e6).toFixed(1)}\t${(time(stepOnly(tk, B), 200) * 1e6).toFixed(1)}`);
    }
    return;
  }

  console.log('\nkernel   B       step series-steps/s   µs/series   served series-steps/s   µs/series');
  const servedCost = new Map<number, number>();
  for (const B of [1, 8, 64, 1024, 10_000]) {
    for (const [name, k] of [['js', js], ['tf', tk]] as const) {
      const s = time(stepOnly(k, B)) / B;
      const v = time(served(k, B)) / B;
      servedCost.set(B, Math.min(servedCost.get(B) ?? Infinity, v));
      console.log(`${name.padEnd(8)} ${String(B).padEnd(7)} ${fmt(1 / s).padStart(22)} ${(s * 1e6).toFixed(2).padStart(11)} ${fmt(1 / v).padStart(23)} ${(v * 1e6).toFixed(2).padStart(11)}`);
    }
  }

  console.log('\nGruForecaster.step end to end (auto kernel)\nB       series-steps/s   µs/series');
  for (const B of [1, 64, 1024, 10_000]) {
    const r = forecasterRun(B);
    const c = time(r.fn, 1500) / B;
    r.dispose();
    console.log(`${String(B).padEnd(7)} ${fmt(1 / c).padStart(14)} ${(c * 1e6).toFixed(2).padStart(11)}`);
  }

  console.log(`\nper-message cost: stateful served step (best kernel) vs tf.layers predict on a ${WINDOW}-step window`);
  console.log('B       stateful µs/msg   window µs/msg   ratio');
  for (const B of [1, 64, 1024]) {
    const w = windowRerun(B);
    const wc = time(w.fn, 1500) / B;
    w.dispose();
    const sc = servedCost.get(B)!;
    console.log(`${String(B).padEnd(7)} ${(sc * 1e6).toFixed(2).padStart(15)} ${(wc * 1e6).toFixed(2).padStart(15)} ${(wc / sc).toFixed(1).padStart(7)}×`);
  }
  if (tf.memory().numTensors !== tensors0) console.log(`WARNING: tensor count grew from ${tensors0} to ${tf.memory().numTensors}`);
  js.dispose();
  tk.dispose();
}

await main();
