// SPDX-License-Identifier: MIT
// Scalar float conversions (f16, bf16, f32 bits) and the codec interface shared by every
// ggml type codec (lib/gguf/quant.ts, quant-legacy.ts, quant-k.ts).

import type { GgmlTypeName } from "./types.js";

// --- Scalar conversions ---

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE-754 bits of `x` rounded to float32. */
export function f32ToBits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0]!;
}

/** The float32 whose bits are `bits`. */
export function bitsToF32(bits: number): number {
  u32Scratch[0] = bits >>> 0;
  return f32Scratch[0]!;
}

/**
 * float32 -> IEEE half bits, round to nearest even; overflow gives +-inf, NaN gives 0x7e00 | sign.
 * A port of ggml_compute_fp32_to_fp16 (the FP16 library's branch-free form), which is bit
 * identical to F16C `vcvtps2ph` with rounding mode 0 for every non-NaN input. All arithmetic is
 * float32, emulated with Math.fround after each operation.
 */
export function fp32ToFp16(x: number): number {
  const scaleToInf = 2 ** 112;
  const scaleToZero = 2 ** -110;
  const f = Math.fround(x);
  // Scaling by 2^112 then 2^-110 leaves the value rounded to float32 precision in the f16 range
  // and overflows to inf above it.
  let base = Math.fround(Math.fround(Math.abs(f) * scaleToInf) * scaleToZero);
  const w = f32ToBits(f);
  const shl1w = (w << 1) >>> 0;
  const sign = (w & 0x80000000) >>> 0;
  let bias = (shl1w & 0xff000000) >>> 0;
  if (bias < 0x71000000) bias = 0x71000000;
  // Adding 2^(e+...) makes the float32 adder round the mantissa to 10 bits (RNE).
  base = Math.fround(bitsToF32((bias >>> 1) + 0x07800000) + base);
  const bits = f32ToBits(base);
  const expBits = (bits >>> 13) & 0x00007c00;
  const mantissaBits = bits & 0x00000fff;
  const nonsign = expBits + mantissaBits;
  return ((sign >>> 16) | (shl1w > 0xff000000 ? 0x7e00 : nonsign)) & 0xffff;
}

/** Half bits -> value (exact; subnormals, inf and NaN included). */
export function fp16ToFp32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** fp16 -> value table, like ggml_table_f32_f16 (every half value is exact in float32). */
export const F16_TABLE: Float32Array = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = fp16ToFp32(h);
  return t;
})();

/**
 * float32 -> bfloat16 bits, round to nearest even; NaN is kept and made quiet. A port of
 * ggml_compute_fp32_to_bf16 (current ggml: subnormals are rounded, not flushed to zero).
 */
export function fp32ToBf16(x: number): number {
  const u = f32ToBits(x);
  if ((u & 0x7fffffff) >>> 0 > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  // `>>>` reduces mod 2^32 first, which matches the uint32 wraparound of the C code.
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bfloat16 bits -> value. */
export function bf16ToFp32(h: number): number {
  return bitsToF32((h & 0xffff) << 16);
}

/** C `roundf`: round half away from zero (JS Math.round rounds half up). Exact for float32 input. */
export function roundHalfAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

// --- Codec interface ---

/** Output of a decoder. */
export type FloatArray = Float32Array | Float64Array;

/**
 * How one ggml type is encoded and decoded. Rows are `n` elements, `n` a multiple of the block
 * size. Add Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K ... by adding an entry to {@link CODECS}.
 */
export interface TypeCodec {
  readonly type: GgmlTypeName;
  readonly blockSize: number;
  readonly typeSize: number;
  /** Encodes x[xo .. xo+n) into dst at byte offset `o` (x holds float32 values). */
  encode(x: Float32Array, xo: number, n: number, dst: Uint8Array, o: number): void;
  /** Decodes n elements starting at byte offset `o` into y[yo .. yo+n). */
  decode(src: Uint8Array, o: number, n: number, y: FloatArray, yo: number): void;
}
