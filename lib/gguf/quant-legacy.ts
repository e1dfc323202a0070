// SPDX-License-Identifier: MIT
// Legacy block codecs (Q4_1, Q5_0, Q5_1): ports of ggml's reference encoders and decoders.
//
// All three use blocks of 32 elements. Layouts (little-endian, as in ggml):
//   Q4_1: f16 d, f16 m, u8 qs[16]            value = q * d + m, q = 4-bit nibble
//   Q5_0: f16 d, u8 qh[4], u8 qs[16]         value = (q - 16) * d
//   Q5_1: f16 d, f16 m, u8 qh[4], u8 qs[16]  value = q * d + m
// Element j < 16 sits in the low nibble of qs[j], element j + 16 in its high nibble; for the
// 5-bit types, bit 4 of element j is bit j of the 32-bit little-endian word qh.
//
// Decoded values are what ggml's dequantize_row_* produce in float32: (q - 16) * d is exact,
// q * d is exact (at most 5 + 11 significant bits) and q * d + m is rounded once to float32,
// so decoders return that float32 value even into a Float64Array.
//
// Encoders follow quantize_row_{q4_1,q5_0,q5_1}_ref with every operation in float32
// (Math.fround after each one), so the bytes match ggml's bit for bit.
import type { GgmlTypeName } from "./types.js";
import { F16_TABLE, fp32ToFp16, type FloatArray, type TypeCodec } from "./half.js";

const QK = 32;

function putU16(dst: Uint8Array, o: number, v: number): void {
  dst[o] = v & 0xff;
  dst[o + 1] = (v >>> 8) & 0xff;
}

function f16At(src: Uint8Array, o: number): number {
  return F16_TABLE[src[o]! | (src[o + 1]! << 8)]!;
}

/** Smallest and largest element of a block (ggml starts from +-FLT_MAX and compares with <, >). */
function minMax(x: Float32Array, xb: number): [number, number] {
  let min = 3.4028234663852886e38;
  let max = -3.4028234663852886e38;
  for (let j = 0; j < QK; j++) {
    const v = x[xb + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/**
 * C conversion float -> integer (truncation toward zero) of an in-range value, then to the
 * 8-bit type. ggml's values are always in [0, 33) here; out-of-range inputs (only possible for
 * non-finite data) are undefined behaviour in C, and give 0 here.
 */
function truncByte(v: number): number {
  const t = Math.trunc(v);
  return Number.isFinite(t) ? t & 0xff : 0;
}

/** The (int8_t) cast of quantize_row_q4_1_ref / q5_0_ref: a signed byte. */
function truncInt8(v: number): number {
  return (truncByte(v) << 24) >> 24;
}

/** Writes the 32 5-bit quants q[0..32) as qh (at o) and qs (at o + 4). */
function put5(q: Uint8Array, dst: Uint8Array, o: number): void {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    dst[o + 4 + j] = (q[j]! & 0x0f) | ((q[j + 16]! & 0x0f) << 4);
    qh |= ((q[j]! & 0x10) >>> 4) << j;
    qh |= ((q[j + 16]! & 0x10) >>> 4) << (j + 16);
  }
  dst[o] = qh & 0xff;
  dst[o + 1] = (qh >>> 8) & 0xff;
  dst[o + 2] = (qh >>> 16) & 0xff;
  dst[o + 3] = (qh >>> 24) & 0xff;
}

/** Reads the 32 5-bit quants of a qh (at o) + qs (at o + 4) pair into q. */
function get5(src: Uint8Array, o: number, q: Uint8Array): void {
  const qh = (src[o]! | (src[o + 1]! << 8) | (src[o + 2]! << 16) | (src[o + 3]! << 24)) >>> 0;
  for (let j = 0; j < 16; j++) {
    const b = src[o + 4 + j]!;
    q[j] = (b & 0x0f) | (((qh >>> j) & 1) << 4);
    q[j + 16] = (b >>> 4) | (((qh >>> (j + 16)) & 1) << 4);
  }
}

/**
 * Q4_1 / Q5_1 quants of one block: port of the min/max part of quantize_row_q4_1_ref /
 * q5_1_ref. d = (max - min) / nmax, id = d ? 1/d : 0, q = (x - min) * id + 0.5 truncated
 * (Q4_1 also clamps to 15 after an int8 cast; Q5_1 casts to uint8 without a clamp).
 * Returns [f16 d, f16 m].
 */
function quantMinMax(x: Float32Array, xb: number, nmax: 15 | 31, q: Uint8Array): [number, number] {
  const [min, max] = minMax(x, xb);
  const d = Math.fround(Math.fround(max - min) / nmax);
  const id = d ? Math.fround(1 / d) : 0;
  for (let j = 0; j < QK; j++) {
    const v = Math.fround(Math.fround(Math.fround(x[xb + j]! - min) * id) + 0.5);
    q[j] = nmax === 15 ? Math.min(15, truncInt8(v)) & 0xff : truncByte(v);
  }
  return [fp32ToFp16(d), fp32ToFp16(min)];
}

const scratch = new Uint8Array(QK);

const q4_1Codec: TypeCodec = {
  type: "Q4_1",
  blockSize: QK,
  typeSize: 20,
  encode(x, xo, n, dst, o) {
    for (let b = 0; b < n / QK; b++) {
      const ob = o + 20 * b;
      const [dh, mh] = quantMinMax(x, xo + QK * b, 15, scratch);
      putU16(dst, ob, dh);
      putU16(dst, ob + 2, mh);
      for (let j = 0; j < 16; j++) dst[ob + 4 + j] = (scratch[j]! & 0x0f) | ((scratch[j + 16]! & 0x0f) << 4);
    }
  },
  decode(src, o, n, y, yo) {
    for (let b = 0; b < n / QK; b++) {
      const ob = o + 20 * b;
      const d = f16At(src, ob);
      const m = f16At(src, ob + 2);
      const yb = yo + QK * b;
      for (let j = 0; j < 16; j++) {
        const byte = src[ob + 4 + j]!;
        y[yb + j] = Math.fround((byte & 0x0f) * d + m);
        y[yb + 16 + j] = Math.fround((byte >>> 4) * d + m);
      }
    }
  },
};

const q5_0Codec: TypeCodec = {
  type: "Q5_0",
  blockSize: QK,
  typeSize: 22,
  // Port of quantize_row_q5_0_ref: `max` is the first element of largest |x| (sign kept),
  // d = max / -16, id = d ? 1/d : 0, q = min(31, (int8_t)(x*id + 16.5f)); all float32.
  encode(x, xo, n, dst, o) {
    for (let b = 0; b < n / QK; b++) {
      const xb = xo + QK * b;
      const ob = o + 22 * b;
      let amax = 0;
      let max = 0;
      for (let j = 0; j < QK; j++) {
        const v = x[xb + j]!;
        if (amax < Math.abs(v)) {
          amax = Math.abs(v);
          max = v;
        }
      }
      const d = Math.fround(max / -16);
      const id = d ? Math.fround(1 / d) : 0;
      putU16(dst, ob, fp32ToFp16(d));
      for (let j = 0; j < QK; j++) {
        const v = Math.fround(Math.fround(x[xb + j]! * id) + 16.5);
        scratch[j] = Math.min(31, truncInt8(v)) & 0xff;
      }
      put5(scratch, dst, ob + 2);
    }
  },
  decode(src, o, n, y, yo) {
    for (let b = 0; b < n / QK; b++) {
      const ob = o + 22 * b;
      const d = f16At(src, ob);
      get5(src, ob + 2, scratch);
      for (let j = 0; j < QK; j++) y[yo + QK * b + j] = (scratch[j]! - 16) * d;
    }
  },
};

const q5_1Codec: TypeCodec = {
  type: "Q5_1",
  blockSize: QK,
  typeSize: 24,
  encode(x, xo, n, dst, o) {
    for (let b = 0; b < n / QK; b++) {
      const ob = o + 24 * b;
      const [dh, mh] = quantMinMax(x, xo + QK * b, 31, scratch);
      putU16(dst, ob, dh);
      putU16(dst, ob + 2, mh);
      put5(scratch, dst, ob + 4);
    }
  },
  decode(src, o, n, y: FloatArray, yo) {
    for (let b = 0; b < n / QK; b++) {
      const ob = o + 24 * b;
      const d = f16At(src, ob);
      const m = f16At(src, ob + 2);
      get5(src, ob + 4, scratch);
      for (let j = 0; j < QK; j++) y[yo + QK * b + j] = Math.fround(scratch[j]! * d + m);
    }
  },
};

export const LEGACY_CODECS: Partial<Record<GgmlTypeName, TypeCodec>> = {
  Q4_1: q4_1Codec,
  Q5_0: q5_0Codec,
  Q5_1: q5_1Codec,
};
