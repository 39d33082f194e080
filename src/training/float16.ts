/**
 * IEEE 754 half precision in a Uint16 (Node 20 has no Float16Array): 11 significant bits
 * (relative error ≤ 2⁻¹¹ ≈ 4.9e-4), range ±65504. Values beyond the range saturate to ±65504
 * rather than becoming Infinity (the history never stores Infinity); NaN encodes as 0.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export const FLOAT16_MAX = 65504;

export function toFloat16(x: number): number {
  if (Number.isNaN(x)) return 0;
  const v = x > FLOAT16_MAX ? FLOAT16_MAX : x < -FLOAT16_MAX ? -FLOAT16_MAX : x;
  f32[0] = v;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0) return sign; // float32 zero / denormal: far below half's range
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff;
  if (e <= 0) {
    // Half subnormal: shift the implicit bit in, round to nearest even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7bff;
    }
  }
  return sign | (e << 10) | m;
}

export function fromFloat16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return sign * FLOAT16_MAX; // never written; decode defensively as the max
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
