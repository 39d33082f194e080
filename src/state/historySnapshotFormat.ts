import { fromFloat16 } from './float16.js';
import { encodeAdvance, putCodes } from './scaleChain.js';

/**
 * The byte formats of one series' history in the state changelog (SeriesHistory.snapshot/restore).
 *
 * Format 2 ("SSH2"), written now: a 48-byte header (magic, n, sinceObserved of the oldest step, 0,
 * the newest ts, the anchor's mean, std and g as float64), then n float16 z, n × 3 bytes of scale
 * codes (the oldest step's are zero; see scaleChain.ts) and the observed bits.
 *
 * Format 1 ("SSH1"), written by earlier versions and still read: a 40-byte header (magic, n,
 * sinceObserved of the oldest step, 0, the newest ts, the newest mean and std), then per step
 * float16 z, dMean and dLogStd (drifts walked back from the newest exact scale), then the bits.
 * It is upgraded to format 2 before it is restored.
 */
export const HISTORY_SNAPSHOT_MAGIC = 0x32485353; // "SSH2" little-endian: Streamcast Series History, format 2
export const HISTORY_SNAPSHOT_HEADER = 48;
export const HISTORY_SNAPSHOT_MAGIC_V1 = 0x31485353; // "SSH1": z, dMean, dLogStd as float16, newest scale exact
export const HISTORY_SNAPSHOT_HEADER_V1 = 40;

/**
 * A format-2 snapshot of `n` steps with its header written (magic, n, steps since the last
 * observation, newest ts, the anchor scale): the caller fills the 2-byte z codes from
 * HISTORY_SNAPSHOT_HEADER, the 3-byte scale codes from `codesAt` and the mask bits from `maskAt`.
 */
export function newHistorySnapshot(n: number, since: number, lastTs: number, anchor: readonly [number, number, number]): { out: Uint8Array; view: DataView; codesAt: number; maskAt: number } {
  const codesAt = HISTORY_SNAPSHOT_HEADER + 2 * n;
  const maskAt = codesAt + 3 * n;
  const out = new Uint8Array(maskAt + Math.ceil(n / 8));
  const view = new DataView(out.buffer);
  view.setUint32(0, HISTORY_SNAPSHOT_MAGIC, true);
  view.setUint32(4, n, true);
  view.setUint32(8, since, true);
  view.setFloat64(16, lastTs, true);
  for (let k = 0; k < 3; k++) view.setFloat64(24 + 8 * k, anchor[k]!, true);
  return { out, view, codesAt, maskAt };
}
const V1_WORDS = 3;

/**
 * A format-1 snapshot as format 2, keeping its newest `capacity` steps: the scale path is decoded
 * (walked back from the newest exact scale), then re-encoded from the last step whose change the
 * codes cannot carry. `bad` throws (the caller's corrupt-snapshot error).
 */
export function upgradeHistorySnapshotV1(snap: Uint8Array, capacity: number, bad: (why: string) => never): Uint8Array {
  const dv = new DataView(snap.buffer, snap.byteOffset, snap.byteLength);
  const n = dv.getUint32(4, true);
  if (n < 1 || snap.byteLength !== HISTORY_SNAPSHOT_HEADER_V1 + n * V1_WORDS * 2 + Math.ceil(n / 8)) bad('length mismatch');
  let since = dv.getUint32(8, true);
  const lastTs = dv.getFloat64(16, true);
  const newestMean = dv.getFloat64(24, true);
  const newestStd = dv.getFloat64(32, true);
  if (!Number.isFinite(lastTs) || !Number.isFinite(newestMean) || !(newestStd > 0) || !Number.isFinite(newestStd)) bad('non-finite scale or ts');
  const maskAt = HISTORY_SNAPSHOT_HEADER_V1 + n * V1_WORDS * 2;
  const bitAt = (i: number): boolean => ((snap[maskAt + (i >>> 3)]! >>> (i & 7)) & 1) === 1;
  const word = (i: number, k: number): number => dv.getUint16(HISTORY_SNAPSHOT_HEADER_V1 + (i * V1_WORDS + k) * 2, true);
  const mean = new Float64Array(n);
  const std = new Float64Array(n);
  mean[n - 1] = newestMean;
  std[n - 1] = newestStd;
  for (let i = n - 1; i > 0; i--) {
    std[i - 1] = std[i]! / Math.exp(fromFloat16(word(i, 2)));
    mean[i - 1] = mean[i]! - fromFloat16(word(i, 1)) * std[i - 1]!;
  }
  const chain = new Float64Array(3);
  const encodeFrom = (start: number, out?: { codes: Uint8Array; at: number }): number => {
    chain[0] = mean[start]!;
    chain[1] = std[start]!;
    chain[2] = 0;
    for (let i = start + 1; i < n; i++) {
      const z = fromFloat16(word(i, 0));
      const c = encodeAdvance(chain, z, bitAt(i), mean[i]!, std[i]!);
      if (c < 0) return i;
      if (out !== undefined) putCodes(out.codes, out.at + 3 * (i - start), c & 0xfff, c >>> 12);
    }
    return n;
  };
  let start = n - Math.min(n, capacity);
  for (let cut = encodeFrom(start); cut < n; cut = encodeFrom(start)) start = cut;
  if (!Number.isFinite(mean[start]!) || !(std[start]! > 0) || !Number.isFinite(std[start]!)) bad('non-finite scale');
  for (let i = 1; i <= start; i++) since = bitAt(i) ? 0 : since + 1;
  const keep = n - start;
  const { out, view: ov, codesAt, maskAt: outMaskAt } = newHistorySnapshot(keep, since, lastTs, [mean[start]!, std[start]!, 0]);
  encodeFrom(start, { codes: out, at: codesAt });
  for (let i = 0; i < keep; i++) {
    ov.setUint16(HISTORY_SNAPSHOT_HEADER + 2 * i, word(start + i, 0), true);
    if (bitAt(start + i)) out[outMaskAt + (i >>> 3)]! |= 1 << (i & 7);
  }
  return out;
}
