/**
 * Bytes for the frames a checkpoint encodes, carved from 1 MiB chunks. A checkpoint encodes every
 * changed series (thousands of frames of a few KB) on the thread that forecasts; one ArrayBuffer
 * per frame, or Node's 8 KB Buffer pool, made the allocations themselves a tenth of that work.
 * A chunk lives as long as any frame carved from it; frames are sent and dropped within a
 * checkpoint or two. Frames are Uint8Array views: callers must honour byteOffset.
 */
const CHUNK = 1 << 20;
let chunk = new Uint8Array(0);
let at = 0;

export function frameBytes(size: number): Uint8Array {
  if (size > CHUNK / 4) return new Uint8Array(size);
  if (at + size > chunk.byteLength) {
    chunk = new Uint8Array(CHUNK);
    at = 0;
  }
  const out = chunk.subarray(at, at + size);
  at += (size + 7) & ~7; // 8-byte aligned starts
  return out;
}
