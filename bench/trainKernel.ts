/**
 * The two training kernels on the same chunks, same process (`npm run bench -- train-kernel`):
 * GruTrainingModel (tf ops) on every tfjs backend installed here, and JsGruTrainingModel (the
 * hand-written forward and backward pass), one TBPTT training step (forward, backward, Adam) and
 * one evaluation at a backtest's shapes (H = 64, T = 96, 12 horizons × 3 quantiles), for B = 3
 * lanes (one hourly series, as nyc_taxi trains), 12 (trainingKernel.ts' threshold) and 32 (the default batch). Kernels alternate
 * within each run; BENCH_KERNEL_RUNS runs (default 5) of 5 steps each after a warm-up; every
 * run's median step is listed, and the ratio tf / js of the medians.
 */
import { createRequire } from 'node:module';
import { mulberry32 } from '../src/domain/random.js';
import { switchBackend } from '../src/forecasting/gru/backend.js';
import type { BackendCandidate } from '../src/forecasting/gru/backend.js';
import { featureLayout, layoutInputSize } from '../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../src/forecasting/gru/gruWeights.js';
import { GruTrainingModel } from '../src/training/gruTrainingModel.js';
import { JsGruTrainingModel } from '../src/training/jsGruTrainingModel.js';
import type { TrainingModel } from '../src/training/trainingModel.js';

const T = 96;
const HORIZON = 12;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function nativeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

export async function benchTrainKernel(): Promise<Record<string, unknown>[]> {
  const runs = Number(process.env['BENCH_KERNEL_RUNS'] ?? 5);
  const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 48);
  const I = layoutInputSize(layout);
  const init = initGruModelWeights({ layout, units: 64, horizon: HORIZON, quantiles: [0.1, 0.5, 0.9] }, 1);
  const backends: BackendCandidate[] = nativeInstalled() ? ['wasm', 'tensorflow'] : ['wasm'];
  const rows: Record<string, unknown>[] = [];
  for (const B of [3, 12, 32]) {
    const u = mulberry32(7 + B);
    const x = Float32Array.from({ length: B * T * I }, () => u() * 2 - 1);
    const h0 = new Float32Array(B * 64);
    const y = Float32Array.from({ length: B * T * HORIZON }, () => u() * 2 - 1);
    const w = new Float32Array(B * T * HORIZON).fill(1);
    const time = (f: () => void): number => {
      const t0 = performance.now();
      f();
      return performance.now() - t0;
    };
    const steps = (m: TrainingModel, kind: 'train' | 'eval'): number =>
      median(Array.from({ length: 5 }, () => time(() => (kind === 'train' ? m.trainChunk(x, h0, y, w, B, T) : m.evalChunk(x, h0, y, w, B, T)))));
    for (const kind of ['train', 'eval'] as const) {
      const got = new Map<string, number[]>();
      for (let r = 0; r < runs; r++) {
        for (const backend of backends) {
          await switchBackend(backend);
          const m = new GruTrainingModel(init);
          steps(m, kind); // warm-up: kernels compiled, optimizer slots created
          (got.get(backend) ?? got.set(backend, []).get(backend)!).push(steps(m, kind));
          m.dispose();
        }
        const js = new JsGruTrainingModel(init);
        steps(js, kind);
        (got.get('js') ?? got.set('js', []).get('js')!).push(steps(js, kind));
      }
      const jsMed = median(got.get('js')!);
      for (const [kernel, ms] of got) {
        rows.push({
          B,
          step: kind,
          kernel: kernel === 'js' ? 'js (hand-written)' : `tf ops on ${kernel}`,
          'ms, median': +median(ms).toFixed(1),
          'runs (ms)': ms.map((v) => v.toFixed(1)).join(' '),
          '× js': +(median(ms) / jsMed).toFixed(2),
        });
      }
    }
  }
  return rows;
}
