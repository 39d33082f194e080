import { StreamcastError } from '../../domain/errors.js';
import { featureLayout, layoutInputSize } from './featureLayout.js';
import type { LagInput } from './featureLayout.js';
import type { TimeFeature } from '../../domain/timeFeatures.js';
import type { GruModelWeights } from './gruWeights.js';
import { baseName, parseBase } from './residualBase.js';
import { calibrationFromJson, calibrationToJson } from './calibration.js';
import type { CalibrationJson } from './calibration.js';

/** What travels with a model besides its weights (informative: compatibility is the layout's). */
export interface ModelFrameMeta {
  readonly pipeline: string;
  /** sha256 of the spec the model was trained under (see specHash). */
  readonly specHash?: string;
  /** Training/validation summary as in meta.json, for logs. */
  readonly [key: string]: unknown;
}

const MAGIC = 0x31464d53; // "SMF1": Streamcast Model Frame, format 1

interface Header {
  readonly version: number;
  readonly timeFeatures: readonly string[];
  readonly maxGapSteps: number;
  readonly zClip: number;
  readonly base: string;
  /** The layout's first-difference column; absent = none. */
  readonly diff?: boolean;
  /** The layout's seasonal-lag columns; absent = none (a reader that does not know them refuses the frame: its input size differs). */
  readonly lags?: readonly LagInput[];
  /** The layout's base columns' offsets; absent = none (as lags: an older reader refuses the frame). */
  readonly baseOffsets?: readonly number[];
  readonly inputSize: number;
  readonly units: number;
  readonly horizon: number;
  readonly quantiles: readonly number[];
  readonly calibration?: CalibrationJson;
  readonly meta: ModelFrameMeta;
}

/**
 * One promoted model as one binary message (the `<pipeline>.models` topic value):
 *   u32 magic "SMF1", u32 header length, header JSON (UTF-8), padding to a multiple of 4,
 *   then float32 little-endian: cell kernel, recurrent kernel, bias, head kernel, head bias.
 * No tfjs needed on either side; H = 64 with the default layout is about 80 KB.
 */
export function encodeModelFrame(weights: GruModelWeights, meta: ModelFrameMeta): Uint8Array {
  const header: Header = {
    version: weights.version,
    timeFeatures: [...weights.layout.timeFeatures],
    maxGapSteps: weights.layout.maxGapSteps,
    zClip: weights.layout.zClip,
    base: baseName(weights.layout.base),
    ...(weights.layout.diff === true ? { diff: true } : {}),
    ...(weights.layout.lags !== undefined ? { lags: weights.layout.lags.map((l) => ({ steps: l.steps, offsets: [...l.offsets] })) } : {}),
    ...(weights.layout.baseOffsets !== undefined ? { baseOffsets: [...weights.layout.baseOffsets] } : {}),
    inputSize: weights.cell.inputSize,
    units: weights.cell.units,
    horizon: weights.head.horizon,
    quantiles: [...weights.head.quantiles],
    ...(weights.calibration !== undefined ? { calibration: calibrationToJson(weights.calibration) } : {}),
    meta,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const arrays = [weights.cell.kernel, weights.cell.recurrentKernel, weights.cell.bias, weights.head.kernel, weights.head.bias];
  const start = 8 + Math.ceil(json.byteLength / 4) * 4;
  const out = new Uint8Array(start + arrays.reduce((n, a) => n + a.byteLength, 0));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, json.byteLength, true);
  out.set(json, 8);
  let o = start;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++, o += 4) dv.setFloat32(o, a[i]!, true);
  }
  return out;
}

/** Inverse of encodeModelFrame; throws a StreamcastError (`config`) for a frame that is not one or is corrupt. */
export function decodeModelFrame(frame: Uint8Array): { weights: GruModelWeights; meta: ModelFrameMeta } {
  const bad = (why: string): never => {
    throw new StreamcastError('config', `model frame is corrupt (${why}); publish the model again or delete the record`);
  };
  if (frame.byteLength < 8) bad('shorter than its preamble');
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) bad('wrong magic');
  const len = dv.getUint32(4, true);
  if (8 + len > frame.byteLength) bad('header runs past the end');
  let h: Header;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame.subarray(8, 8 + len))) as Header;
  } catch (err) {
    throw new StreamcastError('config', 'model frame header is not valid JSON', { cause: err });
  }
  const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  if (!posInt(h.version) || !posInt(h.units) || !posInt(h.horizon) || !posInt(h.inputSize)) bad('bad dimensions or version');
  if (!Array.isArray(h.quantiles) || h.quantiles.length === 0 || !h.quantiles.every((q) => typeof q === 'number' && q > 0 && q < 1)) bad('bad quantiles');
  if (!Array.isArray(h.timeFeatures) || typeof h.meta !== 'object' || h.meta === null) bad('bad header');
  let layout;
  try {
    layout = featureLayout(h.timeFeatures as TimeFeature[], h.maxGapSteps, h.zClip, parseBase(h.base), h.diff === true, h.lags ?? [], h.baseOffsets ?? []);
  } catch (err) {
    throw new StreamcastError('config', 'model frame has an unusable feature layout', { cause: err });
  }
  if (layoutInputSize(layout) !== h.inputSize) bad('input size does not match the layout');
  const H = h.units;
  const Q = h.quantiles.length;
  const sizes = [h.inputSize * 3 * H, H * 3 * H, 3 * H, H * h.horizon * Q, h.horizon * Q];
  let o = 8 + Math.ceil(len / 4) * 4;
  if (o + sizes.reduce((n, s) => n + 4 * s, 0) !== frame.byteLength) bad('weights do not match the dimensions');
  const arrays = sizes.map((s) => {
    const a = new Float32Array(s);
    for (let i = 0; i < s; i++, o += 4) a[i] = dv.getFloat32(o, true);
    if (!a.every(Number.isFinite)) bad('NaN or Infinity in the weights');
    return a;
  });
  const [kernel, recurrentKernel, bias, headKernel, headBias] = arrays as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const calibration = h.calibration === undefined ? undefined : calibrationFromJson(h.calibration, h.horizon, h.quantiles);
  return {
    weights: {
      version: h.version,
      layout,
      cell: { inputSize: h.inputSize, units: H, kernel, recurrentKernel, bias },
      head: { units: H, horizon: h.horizon, quantiles: Object.freeze([...h.quantiles]), kernel: headKernel, bias: headBias },
      ...(calibration !== undefined ? { calibration } : {}),
    },
    meta: h.meta,
  };
}
