import { StreamcastError } from '../domain/errors.js';
import type { SeriesId } from '../domain/point.js';
import { frameBytes } from '../platform/frameArena.js';

/**
 * One series' serving state as ModelRuntime writes it to the state changelog (the forecaster bytes
 * of a state frame, see state/stateCodec.ts):
 *
 *   magic "SMR1" (u32 LE) · model version (u32 LE) · three parts, each a u32 LE length
 *   (0xffffffff: absent) and its bytes: the baseline's state, the history tail, the GRU's state.
 *
 * `version` is the model version the GRU's hidden state was computed under (0: none): a restore
 * into another version leaves the GRU part unused and the series re-warms from its history.
 */
export interface RuntimeSnapshot {
  readonly baseline: Uint8Array | undefined;
  readonly history: Uint8Array | undefined;
  readonly gru: Uint8Array | undefined;
  readonly version: number;
}

const MAGIC = 0x31524d53; // "SMR1": Streamcast Model Runtime, format 1
const ABSENT = 0xffffffff;
const HEADER = 8;

export function encodeRuntimeSnapshot(snap: RuntimeSnapshot): Uint8Array {
  const parts = [snap.baseline, snap.history, snap.gru];
  let size = HEADER;
  for (const p of parts) size += 4 + (p?.byteLength ?? 0);
  // Carved from a shared chunk: checkpoints snapshot every changed series.
  const out = frameBytes(size);
  const dv = new DataView(out.buffer, out.byteOffset, size);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, snap.version, true);
  let o = HEADER;
  for (const p of parts) {
    dv.setUint32(o, p === undefined ? ABSENT : p.byteLength, true);
    o += 4;
    if (p !== undefined) {
      out.set(p, o);
      o += p.byteLength;
    }
  }
  return out;
}

/** The parts of `bytes` (copied out); a `fatal` StreamcastError naming `series` when they are not a runtime snapshot. */
export function decodeRuntimeSnapshot(bytes: Uint8Array, series: SeriesId): RuntimeSnapshot {
  const bad = (): never => {
    throw new StreamcastError('fatal', `model runtime snapshot of series "${series}" is corrupt; drop its changelog entry`);
  };
  if (bytes.byteLength < HEADER) bad();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) bad();
  const version = dv.getUint32(4, true);
  const parts: (Uint8Array | undefined)[] = [];
  let o = HEADER;
  for (let i = 0; i < 3; i++) {
    if (o + 4 > bytes.byteLength) bad();
    const len = dv.getUint32(o, true);
    o += 4;
    if (len === ABSENT) {
      parts.push(undefined);
      continue;
    }
    if (o + len > bytes.byteLength) bad();
    parts.push(bytes.slice(o, o + len));
    o += len;
  }
  return { baseline: parts[0], history: parts[1], gru: parts[2], version };
}
