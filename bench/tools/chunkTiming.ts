/**
 * Milliseconds per TBPTT chunk at a backtest's shapes (`npx tsx bench/tools/chunkTiming.ts
 * <backend> [B]`): GruTrainingModel.trainChunk and evalChunk, H = 64, T = 96, 12 horizons × 3
 * quantiles, B lanes (default 3: one hourly series' lanes, as nyc_taxi trains), median of 15 after
 * a warm-up, every run listed; and a checksum of the loss and weights after 5 steps, to compare
 * two builds' numbers.
 */
import { selectBackend } from '../../src/forecasting/gru/backend.js';
import type { BackendRequest } from '../../src/forecasting/gru/backend.js';
import { mulberry32 } from '../../src/domain/random.js';
import { featureLayout, layoutInputSize } from '../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../src/forecasting/gru/gruWeights.js';
import { GruTrainingModel } from '../../src/training/gruTrainingModel.js';

const backend = (process.argv[2] ?? 'wasm') as BackendRequest;
const B = Number(process.argv[3] ?? 3);
const T = 96;
const choice = await selectBackend({ request: backend, role: 'train' });
const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 48);
const I = layoutInputSize(layout);
const u = mulberry32(7);
const model = new GruTrainingModel(initGruModelWeights({ layout, units: 64, horizon: 12, quantiles: [0.1, 0.5, 0.9] }, 1));
const x = Float32Array.from({ length: B * T * I }, () => u() * 2 - 1);
const h0 = new Float32Array(B * 64);
const y = Float32Array.from({ length: B * T * 12 }, () => u() * 2 - 1);
const w = new Float32Array(B * T * 12).fill(1);
const time = (f: () => void): number => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
const losses: number[] = [];
for (let i = 0; i < 5; i++) losses.push(model.trainChunk(x, h0, y, w, B, T).lossSum);
const train = Array.from({ length: 15 }, () => time(() => model.trainChunk(x, h0, y, w, B, T)));
const evals = Array.from({ length: 15 }, () => time(() => model.evalChunk(x, h0, y, w, B, T)));
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const k = model.weights().cell.kernel;
console.log(JSON.stringify({
  backend: choice.candidate,
  B,
  trainMs: +med(train).toFixed(1),
  evalMs: +med(evals).toFixed(1),
  trainRuns: train.map((t) => +t.toFixed(1)),
  evalRuns: evals.map((t) => +t.toFixed(1)),
  losses: losses.map((l) => +l.toFixed(6)),
  kernelSum: k.reduce((a, b) => a + b, 0),
}));
model.dispose();
