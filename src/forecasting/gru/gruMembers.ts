import { ConfigError } from '../../domain/errors.js';
import type { PipelineSpec } from '../../spec/pipelineSpec.js';
import { initGruModelWeights } from './gruWeights.js';
import type { GruModelDims, GruModelWeights } from './gruWeights.js';

/**
 * A model of several members (`model.members`): GRUs of `model.hidden` units trained apart from
 * different seeds, served as one GRU whose members cannot see each other, so the served centre
 * is the mean of theirs. Averaging independently trained networks removes the part of each one's
 * error that comes from its seed (its init and lane order), which a single network cannot tell
 * from signal; the members are trained one by one (training/trainMembers.ts).
 */
/**
 * Independently trained models of one shape as one GRU of K × units whose members cannot see each
 * other: the kernels go side by side per gate, the recurrent kernel block-diagonal (the gates are
 * element-wise and the reset gate scales h before its product, so a zero block keeps each
 * member's state its own), and the head averages the members' raw outputs (kernel rows / K, the
 * mean bias). The anchor quantile (the served centre) is linear in them, so the merged model's
 * centre is exactly the mean of the members' (an ensemble); the other quantiles are the anchor
 * plus the softplus of averaged raw gaps. Version and calibration are the first member's.
 */
export function mergeGruMembers(members: readonly GruModelWeights[]): GruModelWeights {
  const first = members[0];
  if (first === undefined) throw new ConfigError('mergeGruMembers needs at least one model');
  if (members.length === 1) return first;
  const K = members.length;
  const { inputSize: I, units: h } = first.cell;
  const O = first.head.kernel.length / h;
  for (const m of members) {
    if (m.cell.units !== h || m.cell.inputSize !== I || m.head.kernel.length !== h * O) throw new ConfigError('mergeGruMembers: the models differ in shape');
  }
  const U = K * h;
  const kernel = new Float32Array(I * 3 * U);
  const recurrentKernel = new Float32Array(U * 3 * U);
  const bias = new Float32Array(3 * U);
  const headKernel = new Float32Array(U * O);
  const headBias = new Float32Array(O);
  const memberHeadBias = new Float32Array(K * O);
  members.forEach((m, k) => {
    memberHeadBias.set(m.head.bias, k * O);
    for (let g = 0; g < 3; g++) {
      for (let j = 0; j < h; j++) {
        const to = g * U + k * h + j;
        const from = g * h + j;
        for (let i = 0; i < I; i++) kernel[i * 3 * U + to] = m.cell.kernel[i * 3 * h + from]!;
        for (let i = 0; i < h; i++) recurrentKernel[(k * h + i) * 3 * U + to] = m.cell.recurrentKernel[i * 3 * h + from]!;
        bias[to] = m.cell.bias[from]!;
      }
    }
    for (let i = 0; i < h; i++) for (let o = 0; o < O; o++) headKernel[(k * h + i) * O + o] = m.head.kernel[i * O + o]! / K;
    for (let o = 0; o < O; o++) headBias[o]! += m.head.bias[o]! / K;
  });
  return {
    ...first,
    cell: { inputSize: I, units: U, kernel, recurrentKernel, bias },
    head: { ...first.head, units: U, kernel: headKernel, bias: headBias },
    memberHeadBias,
  };
}

/**
 * The members of a model of `units` × K hidden units (mergeGruMembers' inverse, for training each
 * on its own): each member's cell and head kernel exactly, and its own head bias where the model
 * still carries them (`memberHeadBias`, in memory), else the merged head's (their mean). A model
 * of `units` is its own one member.
 */
export function splitGruMembers(merged: GruModelWeights, units: number): GruModelWeights[] {
  const U = merged.cell.units;
  if (U === units) return [merged];
  if (units < 1 || U % units !== 0) throw new ConfigError(`splitGruMembers: ${U} hidden units are not members of ${units}`);
  const K = U / units;
  const h = units;
  const I = merged.cell.inputSize;
  const O = merged.head.kernel.length / U;
  return Array.from({ length: K }, (_, k) => {
    const kernel = new Float32Array(I * 3 * h);
    const recurrentKernel = new Float32Array(h * 3 * h);
    const bias = new Float32Array(3 * h);
    const headKernel = new Float32Array(h * O);
    for (let g = 0; g < 3; g++) {
      for (let j = 0; j < h; j++) {
        const from = g * U + k * h + j;
        const to = g * h + j;
        for (let i = 0; i < I; i++) kernel[i * 3 * h + to] = merged.cell.kernel[i * 3 * U + from]!;
        for (let i = 0; i < h; i++) recurrentKernel[i * 3 * h + to] = merged.cell.recurrentKernel[(k * h + i) * 3 * U + from]!;
        bias[to] = merged.cell.bias[from]!;
      }
    }
    for (let i = 0; i < h; i++) for (let o = 0; o < O; o++) headKernel[i * O + o] = merged.head.kernel[(k * h + i) * O + o]! * K;
    const { memberHeadBias: own, ...rest } = merged;
    const headBias = own !== undefined && own.length === K * O ? own.slice(k * O, (k + 1) * O) : merged.head.bias.slice();
    return {
      ...rest,
      cell: { inputSize: I, units: h, kernel, recurrentKernel, bias },
      head: { ...merged.head, units: h, kernel: headKernel, bias: headBias },
    };
  });
}

/**
 * The starting weights of a model of `members` members of `dims.units`: the members of `current`
 * (the model in service, fine-tuned), as many as fit, and fresh seeded ones for the rest (member k
 * from seed + k, so member 0 of a new model is the single model's init). A model in service of
 * another member count (the spec changed) keeps its first members.
 */
export function memberInit(current: GruModelWeights | undefined, dims: GruModelDims, members: number, seed: number): GruModelWeights {
  const parts = current === undefined ? [] : splitGruMembers(current, dims.units).slice(0, members);
  for (let k = parts.length; k < members; k++) parts.push(initGruModelWeights(dims, (seed + k) >>> 0, current?.version ?? 0));
  return mergeGruMembers(parts);
}

/** Hidden sizes a model may have to serve under `spec`: `hidden` × 1…members (fewer members: a model from before the spec asked for more). */
export function servableUnits(spec: Pick<PipelineSpec, 'model'>): number[] {
  return Array.from({ length: spec.model.members }, (_, k) => spec.model.hidden * (k + 1));
}
