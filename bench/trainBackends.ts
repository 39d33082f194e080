/**
 * Training and serving per compute backend, side by side, in one run (`npm run bench -- train`):
 *
 * 1. `streamcast train` end to end on NAB nyc_taxi (pipelines/nyc-taxi.yaml), each backend in
 *    its own process (`--backend <b>`), alternating, BENCH_TRAIN_RUNS times (default 3):
 *    the training seconds the command reports (worker thread, all epochs, validation
 *    included) and the command's wall time, every run and the median.
 * 2. One TBPTT training step (GruTrainingModel.trainChunk: forward, backward, Adam) at the
 *    pipeline's shapes (H = 64, T = 96 context steps, 12 horizons × 3 quantiles) for batches of
 *    32 and 256 lanes: milliseconds per chunk, median of 5 runs after a warm-up, every run listed.
 * 3. Serving: GruForecaster.step (auto kernel) series-steps/s at B = 64, 1,024 and 10,000
 *    (BENCH_SERVE_B=1000,100000 to choose).
 *
 * Since the training kernel (src/training/trainingKernel.ts), part 1 trains nyc_taxi (a few lanes)
 * with the hand-written kernel on both backends, so it measures little but start-up; part 2 is
 * the tf ops alone (`npm run bench -- train-kernel` compares them with the hand-written kernel).
 * Parts 2 and 3 switch backends in this process (switchBackend). Backends: wasm, and tensorflow
 * when `npm run native:install` has been run; BENCH_GPU=1: wasm and tensorflow-gpu (bench/gpu-check.sh).
 * BENCH_TRAIN_EPOCHS (default 3), BENCH_TRAIN_INPUT (default the shared nyc_taxi.csv).
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NormalizedStep } from '../src/domain/step.js';
import { mulberry32 } from '../src/domain/random.js';
import { switchBackend } from '../src/forecasting/gru/backend.js';
import type { BackendCandidate } from '../src/forecasting/gru/backend.js';
import { featureLayout, layoutInputSize } from '../src/forecasting/gru/featureLayout.js';
import { GruForecaster } from '../src/forecasting/gru/gruForecaster.js';
import { initGruModelWeights } from '../src/forecasting/gru/gruWeights.js';
import { GruTrainingModel } from '../src/training/gruTrainingModel.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const H = 64;
const T = 96;
const HORIZON = 12;
const QUANTILES = [0.1, 0.5, 0.9];

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return false;
    throw err;
  }
}

function backends(): BackendCandidate[] {
  // One libtensorflow per process (both packages' libraries have the same soname): BENCH_GPU=1
  // compares wasm with the GPU package only.
  if (process.env['BENCH_GPU'] === '1') return ['wasm', 'tensorflow-gpu'];
  return installed('@tensorflow/tfjs-node') ? ['wasm', 'tensorflow'] : ['wasm'];
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);

/** Part 1: the CLI in a child process per run; returns the training seconds it reports. */
function trainOnce(backend: BackendCandidate, input: string, epochs: number): { trainS: number; wallS: number; line: string } {
  const out = mkdtempSync(path.join(tmpdir(), 'streamcast-bench-train-'));
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), 'train', path.join(root, 'pipelines/nyc-taxi.yaml'), '-i', input, '--epochs', String(epochs), '-o', out, '-q', '--force', '--backend', backend], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    });
    const wallS = (performance.now() - t0) / 1000;
    const line = r.stdout.split('\n').find((l) => / s on /.test(l)) ?? '';
    const m = /, ([\d.]+) s on ([\w-]+)/.exec(line);
    if (r.status !== 0 || m === null) throw new Error(`streamcast train --backend ${backend} failed (${r.status}): ${r.stderr.slice(-2000)}`);
    if (m[2] !== backend) throw new Error(`asked for ${backend}, trained on ${m[2]}`);
    return { trainS: Number(m[1]), wallS, line };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function chunkTimes(B: number, runs: number): number[] {
  const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 48);
  const I = layoutInputSize(layout);
  const u = mulberry32(7);
  const model = new GruTrainingModel(initGruModelWeights({ layout, units: H, horizon: HORIZON, quantiles: QUANTILES }, 1));
  const x = Float32Array.from({ length: B * T * I }, () => u() * 2 - 1);
  const h0 = new Float32Array(B * H);
  const y = Float32Array.from({ length: B * T * HORIZON }, () => u() * 2 - 1);
  const w = new Float32Array(B * T * HORIZON).fill(1);
  try {
    model.trainChunk(x, h0, y, w, B, T); // warm-up: kernels compiled, buffers allocated
    return Array.from({ length: runs }, () => {
      const t0 = performance.now();
      model.trainChunk(x, h0, y, w, B, T);
      return performance.now() - t0;
    });
  } finally {
    model.dispose();
  }
}

function servingRate(B: number): number {
  const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 48);
  const weights = initGruModelWeights({ layout, units: H, horizon: HORIZON, quantiles: QUANTILES }, 1, 1);
  const f = new GruForecaster({ name: 'bench', stepMs: 1_800_000, horizon: HORIZON, quantiles: QUANTILES, weights, initialCapacity: B });
  let t = 0;
  const batch = (): NormalizedStep[] => {
    t++;
    return Array.from({ length: B }, (_, b) => ({ series: `s${b}`, ts: t * 1_800_000, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: false, z: Math.sin(b + t), scale: { mean: 0, std: 1 } }));
  };
  const batches = Array.from({ length: 4 }, batch);
  try {
    for (let i = 0; i < 3; i++) f.step(batches[i % 4]!);
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1500 || n < 3) f.step(batches[n++ % 4]!);
    return (n * B) / ((performance.now() - t0) / 1000);
  } finally {
    f.dispose();
  }
}

export async function benchTrain(): Promise<Record<string, unknown>[]> {
  const list = backends();
  if (list.length === 1) console.log('native backend not installed (`npm run native:install`): wasm only');
  const input = process.env['BENCH_TRAIN_INPUT'] ?? path.join(root, '..', 'shared', 'datasets', 'nab', 'realKnownCause', 'nyc_taxi.csv');
  const epochs = Number(process.env['BENCH_TRAIN_EPOCHS'] ?? 3);
  const runs = Number(process.env['BENCH_TRAIN_RUNS'] ?? 3);

  if (existsSync(input)) {
    console.log(`\n1. streamcast train pipelines/nyc-taxi.yaml -i ${path.relative(root, input)} --epochs ${epochs} --backend <b>: ${runs} runs each, alternating`);
    const got = new Map<BackendCandidate, { trainS: number[]; wallS: number[] }>(list.map((b) => [b, { trainS: [], wallS: [] }]));
    for (let r = 0; r < runs; r++) {
      for (const b of list) {
        const one = trainOnce(b, input, epochs);
        got.get(b)!.trainS.push(one.trainS);
        got.get(b)!.wallS.push(one.wallS);
      }
    }
    console.log('backend          training s (median)   every run               command wall s (median)   every run');
    for (const [b, g] of got) {
      console.log(`${b.padEnd(16)} ${f1(median(g.trainS)).padStart(19)}   ${g.trainS.map(f1).join(', ').padEnd(22)}  ${f1(median(g.wallS)).padStart(23)}   ${g.wallS.map(f1).join(', ')}`);
    }
    const wasm = median(got.get('wasm')!.trainS);
    for (const b of list.filter((x) => x !== 'wasm')) console.log(`training speed-up of ${b} over wasm (median/median): ${f2(wasm / median(got.get(b)!.trainS))}×`);
  } else {
    console.log(`\n1. skipped: ${input} not found (BENCH_TRAIN_INPUT)`);
  }

  const rows: Record<string, unknown>[] = [];
  console.log(`\n2. one TBPTT training chunk (forward + backward + Adam), H=${H}, T=${T}, ${HORIZON}×${QUANTILES.length} outputs: ms per chunk, median of 5 (every run)`);
  for (const b of list) {
    await switchBackend(b);
    for (const B of [32, 256]) {
      const ts = chunkTimes(B, 5);
      console.log(`${b.padEnd(16)} B=${String(B).padEnd(4)} ${f1(median(ts)).padStart(8)} ms   (${ts.map(f1).join(', ')})`);
      rows.push({ part: 'train chunk', backend: b, B, 'ms (median)': Number(f1(median(ts))) });
    }
  }

  console.log('\n3. serving: GruForecaster.step (auto kernel), series-steps/s');
  for (const b of list) {
    await switchBackend(b);
    for (const B of (process.env['BENCH_SERVE_B'] ?? '64,1024,10000').split(',').map(Number)) {
      const rate = servingRate(B);
      console.log(`${b.padEnd(16)} B=${String(B).padEnd(6)} ${Math.round(rate).toLocaleString('en-US').padStart(12)}`);
      rows.push({ part: 'serve', backend: b, B, 'series-steps/s': Math.round(rate) });
    }
  }
  if (tf.memory().numTensors > 1000) console.log(`warning: ${tf.memory().numTensors} tensors alive at the end`);
  return rows;
}
