/**
 * One GRU step for a batch of B series whose hidden states were gathered into a dense B×H
 * buffer. Implementations compute exactly the tf.layers GRU cell (see gruWeights.ts for the
 * equations) and differ only in speed: tf ops pay a fixed per-op cost that amortizes over large
 * batches, a plain Float32Array loop pays nothing per call but more per series.
 */
export interface StepKernel {
  /** For logs and metric labels. */
  readonly name: 'js' | 'tf';
  /**
   * Reads x (B×I) and hIn (B×H), writes hOut (B×H). Buffers may be longer than needed; only
   * the first B rows are read or written. hOut must not alias x or hIn.
   */
  step(x: Float32Array, hIn: Float32Array, hOut: Float32Array, B: number): void;
  /** Releases backend memory (tf tensors); idempotent. */
  dispose(): void;
}

/**
 * Largest batch for which the Float32Array kernel beats tf ops on wasm+SIMD. Measured with
 * `npx tsx bench/gruStep.bench.ts --crossover` (H=64, I=8) on the shared 2-core dev machine,
 * fastest of 7 trials, µs per batch:
 *     B     1    2    3    4    5    6    8   12
 *     js   16   20   31   44   49   57   82  116
 *     tf  266   56   46   50   66   45   48   77
 * The loop costs ~10 µs per series; tf ops cost ~45 µs per call plus ~1–3 µs per series.
 * A fixed threshold rather than a start-up measurement keeps forecasts reproducible run to run
 * (the two kernels agree to ~1e-7, not bit for bit).
 */
export const JS_KERNEL_MAX_BATCH = 5;

export interface StepKernels {
  readonly js: StepKernel;
  /** Absent on the tfjs `cpu` backend, where tf ops are ~50× slower than the loop at every B. */
  readonly tf?: StepKernel;
}

/** The faster kernel for a batch of B series. */
export function chooseKernel(B: number, kernels: StepKernels, crossover: number = JS_KERNEL_MAX_BATCH): StepKernel {
  return kernels.tf === undefined || B <= crossover ? kernels.js : kernels.tf;
}
