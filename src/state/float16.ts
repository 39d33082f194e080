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
  const e = (h >>> 10) & 0x1f;
  if (e === 0) return (h & 0x8000 ? -1 : 1) * (h & 0x3ff) * 2 ** -24;
  if (e === 0x1f) return h & 0x8000 ? -FLOAT16_MAX : FLOAT16_MAX; // never written; decode defensively as the max
  // A normal half is exactly a float32 with the exponent rebiased (15 → 127) and the mantissa shifted.
  u32[0] = ((h & 0x8000) << 16) | ((e + 112) << 23) | ((h & 0x3ff) << 13);
  return f32[0]!;
}

/**
 * A 12-bit float code for the history's scale drifts: sign, `expBits` of exponent (biased by
 * `bias`; 0 is subnormal) and 11 − expBits of mantissa, rounded to nearest; decoding is a table
 * lookup. Values beyond the largest code saturate; NaN encodes as 0.
 */
export class Float12 {
  readonly max: number;
  readonly #table = new Float64Array(4096);
  readonly #mantBits: number;
  readonly #bias: number;
  readonly #minNormal: number;
  readonly #subnormalScale: number;

  constructor(expBits: number, bias: number) {
    const mantBits = 11 - expBits;
    this.#mantBits = mantBits;
    this.#bias = bias;
    this.#minNormal = 2 ** (1 - bias);
    this.#subnormalScale = 2 ** (bias - 1 + mantBits);
    for (let code = 0; code < 4096; code++) {
      const e = (code >>> mantBits) & ((1 << expBits) - 1);
      const m = code & ((1 << mantBits) - 1);
      const mag = e === 0 ? m * 2 ** (1 - bias - mantBits) : (1 + m / 2 ** mantBits) * 2 ** (e - bias);
      this.#table[code] = code & 0x800 ? -mag : mag;
    }
    this.max = this.#table[0x7ff]!;
  }

  decode(code: number): number {
    return this.#table[code]!;
  }

  encode(x: number): number {
    const a = Math.abs(x);
    if (!(a > 0)) return 0;
    const M = this.#mantBits;
    let code: number;
    if (a < this.#minNormal) {
      code = Math.round(a * this.#subnormalScale); // 2^M here is the smallest normal: still right
    } else if (a >= this.max) {
      code = 0x7ff;
    } else {
      // Exponent and the top 20 mantissa bits straight from the float64 (a is normal here);
      // rounding half up on them is exact, the lower bits cannot change it. A carry out of the
      // mantissa bumps the exponent, as it should.
      f64[0] = a;
      const hi = u32hi[1]!;
      const e = ((hi >>> 20) & 0x7ff) - 1023;
      code = ((e + this.#bias) << M) + (((hi & 0xfffff) + (1 << (19 - M))) >>> (20 - M));
    }
    if (code > 0x7ff) code = 0x7ff;
    return x < 0 && code !== 0 ? code | 0x800 : code;
  }
}

const f64 = new Float64Array(1);
const u32hi = new Uint32Array(f64.buffer);
