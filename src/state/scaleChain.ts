import { Float12 } from './float16.js';

/**
 * The scale path of a series' history ring, coded step by step (see SeriesHistory): each step's
 * change of the normalizer's (mean, std) is predicted from z and the normalizer's learnt weight,
 * and only the residual is stored, in two 12-bit codes. Encoding and decoding share every
 * function here, so that both compute bit-identical chains.
 */

// Beyond these a step's scale change is not representable (the codes' range / sane ratios): the
// ring restarts there rather than store a wrong scale path.
const MAX_MEAN_STEP = 60_000;
const MAX_LOG_STD_STEP = 20;

/** Residual of (mean_t − mean_{t−1}) / std_{t−1}: sign, 5 exponent bits, 6 mantissa bits; ±65024, steps of 2⁻²¹ near 0. */
const D_MEAN = new Float12(5, 16);
/** Residual of log(std_t / std_{t−1}): sign, 4 exponent bits, 7 mantissa bits; ±31.9, steps of 2⁻¹⁷ near 0. */
const D_LOG_STD = new Float12(4, 11);

// The drift predictor (see SeriesHistory): learnt from observed steps with G_MIN_Z ≤ |z| < G_MAX_Z
// (below, the ratio is ill-conditioned; at the clip, z no longer carries the value).
const G_MIN_Z = 0.5;
const G_MAX_Z = 49.9;

/**
 * The decoding state along a ring: [mean, std, g] — the step's decoded scale and the predictor's
 * g ≈ 1/(w − 1) (w: the normalizer's sum of weights), learnt from the decoded drifts.
 */
export type Chain = Float64Array;

function predictedLogStd(z: number, g: number): number {
  // Normalizer update, unfloored: std_t²/std_{t−1}² = 1 / ((1 + g)(1 − z²g)), where z²g < 1; a
  // step beyond that does not follow the rule (at most 2.3 either way).
  const u = 1 - z * z * g;
  return u > 0 ? -0.5 * Math.log((1 + g) * Math.max(0.01, u)) : 0;
}

/**
 * Normalizer update: mean_t − mean_{t−1} = z_t·std_t·g, in std_{t−1}. The ratio is capped so that
 * the prediction (≤ 800), and so the residual, stays well within the codes' range.
 */
function predictedMean(z: number, observed: boolean, g: number, stdRatio: number): number {
  return observed ? z * g * Math.min(stdRatio, 16) : 0;
}

// Encoding and decoding share these, so that both compute bit-identical chains.
function stepStd(std0: number, pl: number, cl: number): number {
  return std0 * Math.exp(pl + D_LOG_STD.decode(cl));
}

function stepMean(mean0: number, std0: number, std1: number, z: number, observed: boolean, g: number, cm: number): number {
  return mean0 + (predictedMean(z, observed, g, std1 / std0) + D_MEAN.decode(cm)) * std0;
}

function moveTo(chain: Chain, mean0: number, mean1: number, std1: number, z: number, observed: boolean): void {
  chain[0] = mean1;
  chain[1] = std1;
  const az = Math.abs(z);
  if (observed && az >= G_MIN_Z && az < G_MAX_Z) chain[2] = learnG(chain[2]!, (mean1 - mean0) / (z * std1));
}

/**
 * The predictor's state in one number: g ≈ 1/(w − 1) in (0, 1] plus c ∈ {0, 1, 2}, how many
 * observed steps in a row implied a g within 25% of the previous one (0: no g). The prediction is
 * used at c = 2 only: the normalizer's w varies smoothly, so its steps agree all along, while
 * steps that do not follow the rule (hand-made, std floor) rarely agree twice in a row by chance.
 */
function usableG(state: number): number {
  return state > 2 ? state - 2 : 0;
}

function learnG(state: number, next: number): number {
  if (!(next > 0 && next <= 1)) return 0;
  if (!(state > 0)) return next;
  const c = Math.ceil(state) - 1;
  const prev = state - c;
  return next >= 0.75 * prev && next <= 1.25 * prev ? next + Math.min(2, c + 1) : next;
}

/** Advances `chain` over one step: z is the step's decoded z, (cm, cl) its residual codes. */
export function advance(chain: Chain, z: number, observed: boolean, cm: number, cl: number): void {
  const mean0 = chain[0]!;
  const std0 = chain[1]!;
  const g = usableG(chain[2]!);
  const std1 = stepStd(std0, observed ? predictedLogStd(z, g) : 0, cl);
  moveTo(chain, mean0, stepMean(mean0, std0, std1, z, observed, g, cm), std1, z, observed);
}

/**
 * The residual codes (cm | cl << 12) that take `chain` to the exact scale (mean, std) as closely
 * as the codes allow, advancing it as `advance` with those codes will; or -1, leaving the chain,
 * when the change is beyond MAX_MEAN_STEP / MAX_LOG_STD_STEP.
 */
export function encodeAdvance(chain: Chain, z: number, observed: boolean, mean: number, std: number): number {
  const mean0 = chain[0]!;
  const std0 = chain[1]!;
  const g = usableG(chain[2]!);
  const dMean = (mean - mean0) / std0;
  const dLogStd = Math.log(std / std0);
  if (!(Math.abs(dMean) <= MAX_MEAN_STEP && Math.abs(dLogStd) <= MAX_LOG_STD_STEP)) return -1;
  const pl = observed ? predictedLogStd(z, g) : 0;
  const cl = D_LOG_STD.encode(dLogStd - pl);
  const std1 = stepStd(std0, pl, cl);
  const cm = D_MEAN.encode(dMean - predictedMean(z, observed, g, std1 / std0));
  moveTo(chain, mean0, stepMean(mean0, std0, std1, z, observed, g, cm), std1, z, observed);
  return cm | (cl << 12);
}

/** A step's two codes packed in 3 bytes at b[q…]: cm in the low 12 bits, cl in the high 12. */
export function codeM(b: Uint8Array, q: number): number {
  return b[q]! | ((b[q + 1]! & 0x0f) << 8);
}

export function codeL(b: Uint8Array, q: number): number {
  return (b[q + 1]! >>> 4) | (b[q + 2]! << 4);
}

export function putCodes(b: Uint8Array, q: number, cm: number, cl: number): void {
  b[q] = cm & 0xff;
  b[q + 1] = (cm >>> 8) | ((cl & 0x0f) << 4);
  b[q + 2] = cl >>> 4;
}
