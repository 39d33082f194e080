import { StreamcastError } from '../domain/errors.js';
import { frameBytes } from '../platform/frameArena.js';
import type { ImputerSnapshot, NormalizerSnapshot, ResamplerSnapshot } from './coreSnapshots.js';
import { decodeStateShape, STATE_SHAPE_BYTES, type StateShape, writeStateShape } from './stateShape.js';

/** Everything the runtime keeps about one series, as written to the state changelog. */
export interface SeriesState {
  readonly resampler?: ResamplerSnapshot;
  readonly imputer?: ImputerSnapshot;
  readonly normalizer?: NormalizerSnapshot;
  /** The forecaster's own binary snapshot (hidden state, residual windows…). */
  readonly forecaster?: Uint8Array;
  /** Start of the last step the forecaster consumed for this series. */
  readonly lastStep?: number;
  /** Identity of the forecaster that wrote `forecaster`; a mismatch means "re-warm, do not restore". */
  readonly model: { readonly kind: string; readonly version: number };
  /** The spec fields the state was built under (absent in frames of earlier builds). */
  readonly shape?: StateShape;
}

/**
 * Frame layout (big endian), version 1:
 *   0  u8[2] magic "SS"
 *   2  u8    codec version (1)
 *   3  u8    flags: 1 resampler, 2 imputer, 4 normalizer, 8 forecaster, 16 lastStep, 32 shape
 *   4  u32   model version
 *   8  u8    model kind length K, then K bytes of UTF-8
 *   .. f64   lastStep                                    (flag 16)
 *   .. f64×4 normalizer w, mean, m2, lastTs              (flag 4)
 *   .. 24 bytes state shape (stateShape.ts)              (flag 32; frames of earlier builds lack it)
 *   .. u32 length + UTF-8 JSON of the resampler snapshot  (flag 1)
 *   .. u32 length + UTF-8 JSON of the imputer snapshot    (flag 2)
 *   .. u32 length + forecaster bytes                      (flag 8)
 * The resampler and imputer snapshots are JSON today (their cores define them so); they ride
 * inside the binary frame as UTF-8 until those cores grow binary snapshots.
 */
export const STATE_CODEC_VERSION = 1;
const MAGIC0 = 0x53;
const MAGIC1 = 0x53;
const F_RESAMPLER = 1;
const F_IMPUTER = 2;
const F_NORMALIZER = 4;
const F_FORECASTER = 8;
const F_LAST_STEP = 16;
const F_SHAPE = 32;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

const kindBytes = new Map<string, Uint8Array>();

/**
 * A checkpoint encodes every changed series on the thread that forecasts (under at-least-once in
 * slices between batches): each frame is carved from a shared chunk (frameArena.ts), JSON written
 * straight into it.
 */
export function encodeSeriesState(s: SeriesState): Uint8Array {
  let kind = kindBytes.get(s.model.kind);
  if (kind === undefined) {
    kind = utf8.encode(s.model.kind);
    if (kindBytes.size < 64) kindBytes.set(s.model.kind, kind);
  }
  if (kind.byteLength > 255) throw new StreamcastError('fatal', `model kind ${JSON.stringify(s.model.kind)} is longer than 255 bytes`);
  const resampler = s.resampler === undefined ? undefined : JSON.stringify(s.resampler);
  const imputer = s.imputer === undefined ? undefined : JSON.stringify(s.imputer);
  const resamplerLen = resampler === undefined ? 0 : Buffer.byteLength(resampler);
  const imputerLen = imputer === undefined ? 0 : Buffer.byteLength(imputer);
  let flags = 0;
  let size = 9 + kind.byteLength;
  if (s.lastStep !== undefined) {
    flags |= F_LAST_STEP;
    size += 8;
  }
  if (s.normalizer !== undefined) {
    flags |= F_NORMALIZER;
    size += 32;
  }
  if (s.shape !== undefined) {
    flags |= F_SHAPE;
    size += STATE_SHAPE_BYTES;
  }
  if (resampler !== undefined) {
    flags |= F_RESAMPLER;
    size += 4 + resamplerLen;
  }
  if (imputer !== undefined) {
    flags |= F_IMPUTER;
    size += 4 + imputerLen;
  }
  if (s.forecaster !== undefined) {
    flags |= F_FORECASTER;
    size += 4 + s.forecaster.byteLength;
  }
  const frame = frameBytes(size);
  const out = Buffer.from(frame.buffer, frame.byteOffset, size);
  const view = new DataView(out.buffer, out.byteOffset, size);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = STATE_CODEC_VERSION;
  out[3] = flags;
  view.setUint32(4, s.model.version >>> 0);
  out[8] = kind.byteLength;
  out.set(kind, 9);
  let o = 9 + kind.byteLength;
  if (s.lastStep !== undefined) {
    view.setFloat64(o, s.lastStep);
    o += 8;
  }
  const n = s.normalizer;
  if (n !== undefined) {
    view.setFloat64(o, n.w);
    view.setFloat64(o + 8, n.mean);
    view.setFloat64(o + 16, n.m2);
    view.setFloat64(o + 24, n.lastTs);
    o += 32;
  }
  const shape = s.shape;
  if (shape !== undefined) {
    writeStateShape(view, o, shape);
    o += STATE_SHAPE_BYTES;
  }
  if (resampler !== undefined) {
    view.setUint32(o, resamplerLen);
    out.write(resampler, o + 4, 'utf8');
    o += 4 + resamplerLen;
  }
  if (imputer !== undefined) {
    view.setUint32(o, imputerLen);
    out.write(imputer, o + 4, 'utf8');
    o += 4 + imputerLen;
  }
  if (s.forecaster !== undefined) {
    view.setUint32(o, s.forecaster.byteLength);
    out.set(s.forecaster, o + 4);
    o += 4 + s.forecaster.byteLength;
  }
  // The plain Uint8Array: a Buffer's slice() would share its bytes, unlike Uint8Array's.
  return frame;
}

/**
 * Decodes a frame. Throws a `fatal` StreamcastError for a frame of another codec version or a
 * corrupt one; the caller drops that series' state (it re-warms) rather than misuse it.
 * The core snapshots are returned as parsed, not validated: each core's `restore` validates.
 */
export function decodeSeriesState(bytes: Uint8Array): SeriesState {
  const bad = (what: string): never => {
    // Operator action: a changelog record this build cannot read; the series starts afresh.
    throw new StreamcastError('fatal', `series state frame is invalid: ${what}`);
  };
  if (bytes.byteLength < 9 || bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1) bad('no state header');
  if (bytes[2] !== STATE_CODEC_VERSION) bad(`codec version ${String(bytes[2])}, this build reads ${STATE_CODEC_VERSION}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = bytes[3]!;
  const version = view.getUint32(4);
  const kindLen = bytes[8]!;
  let o = 9;
  const need = (n: number) => {
    if (o + n > bytes.byteLength) bad(`truncated at byte ${o} (needs ${n} more of ${bytes.byteLength})`);
  };
  need(kindLen);
  const kind = fromUtf8.decode(bytes.subarray(o, o + kindLen));
  o += kindLen;
  let lastStep: number | undefined;
  if (flags & F_LAST_STEP) {
    need(8);
    lastStep = view.getFloat64(o);
    o += 8;
  }
  let normalizer: NormalizerSnapshot | undefined;
  if (flags & F_NORMALIZER) {
    need(32);
    normalizer = { v: 1, w: view.getFloat64(o), mean: view.getFloat64(o + 8), m2: view.getFloat64(o + 16), lastTs: view.getFloat64(o + 24) };
    o += 32;
  }
  let shape: StateShape | undefined;
  if (flags & F_SHAPE) {
    need(STATE_SHAPE_BYTES);
    shape = decodeStateShape(bytes.subarray(o, o + STATE_SHAPE_BYTES));
    o += STATE_SHAPE_BYTES;
  }
  const section = (): Uint8Array => {
    need(4);
    const n = view.getUint32(o);
    o += 4;
    need(n);
    const b = bytes.subarray(o, o + n);
    o += n;
    return b;
  };
  const json = (b: Uint8Array): unknown => {
    try {
      return JSON.parse(fromUtf8.decode(b)) as unknown;
    } catch (err) {
      return bad(`embedded snapshot is not UTF-8 JSON (${(err as Error).message})`);
    }
  };
  const resampler = flags & F_RESAMPLER ? (json(section()) as ResamplerSnapshot) : undefined;
  const imputer = flags & F_IMPUTER ? (json(section()) as ImputerSnapshot) : undefined;
  // A copy: the caller's buffer (a Kafka fetch) is reused, the forecaster may keep the bytes.
  const forecaster = flags & F_FORECASTER ? section().slice() : undefined;
  if (o !== bytes.byteLength) bad(`${bytes.byteLength - o} trailing bytes`);
  return {
    model: { kind, version },
    ...(resampler !== undefined ? { resampler } : {}),
    ...(imputer !== undefined ? { imputer } : {}),
    ...(normalizer !== undefined ? { normalizer } : {}),
    ...(forecaster !== undefined ? { forecaster } : {}),
    ...(lastStep !== undefined ? { lastStep } : {}),
    ...(shape !== undefined ? { shape } : {}),
  };
}
