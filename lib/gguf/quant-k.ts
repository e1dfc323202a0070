// SPDX-License-Identifier: MIT
// K-quant codecs (Q4_K, Q5_K): ports of ggml's reference encoders (quantize_row_q4_K_ref,
// quantize_row_q5_K_ref, with make_qkx2_quants' min/scale search) and decoders
// (dequantize_row_q4_K / q5_K). Every float operation of the C code is float32; here each one is
// rounded with Math.fround, in the C evaluation order and without FMA contraction.
//
// Super-block of 256 = 8 sub-blocks of 32. Value of element e of sub-block j:
//   fround(fround(d * sc_j) * q_e - fround(dmin * m_j))
// with 6-bit sc_j / m_j packed in scales[12] (see scaleMin) and q the 4-bit (Q4_K) or 5-bit
// (Q5_K) quant. The products are exact in float32, so only the subtraction rounds.
import type { GgmlTypeName } from "./types.js";
import { F16_TABLE, fp32ToFp16, type FloatArray, type TypeCodec } from "./half.js";

const QK_K = 256;
const f = Math.fround;

/** ggml's nearest_int: round a float32 to the nearest integer, ties to even (|v| < 2^22). */
function nearestInt(v: number): number {
  return f(v + 12582912) - 12582912;
}

/** ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j (0..7) from scales[12] at `o`. */
export function scaleMin(src: Uint8Array, o: number, j: number): [number, number] {
  if (j < 4) return [src[o + j]! & 63, src[o + j + 4]! & 63];
  return [
    (src[o + j + 4]! & 0xf) | ((src[o + j - 4]! >> 6) << 4),
    (src[o + j + 4]! >> 4) | ((src[o + j]! >> 6) << 4),
  ];
}

/**
 * Port of make_qkx2_quants: quants L[lo..lo+n) in 0..nmax for x[xo..xo+n) with an affine
 * scale/min found by a grid search over iscale. Returns [scale, -min] (the_min is -min >= 0).
 */
function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xo: number, weights: Float32Array, L: Uint8Array, lo: number,
  Laux: Uint8Array, rmin: number, rdelta: number, nstep: number, useMad: boolean,
): [number, number] {
  let min = x[xo]!;
  let max = x[xo]!;
  let sumW = weights[0]!;
  let sumX = f(sumW * x[xo]!);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i]!;
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i]!;
    sumW = f(sumW + w);
    sumX = f(sumX + f(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return [0, -min];
  }
  const range = f(max - min);
  let iscale = f(nmax / range);
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(xi - min)))));
    L[lo + i] = l;
    let diff = f(f(f(scale * l) + min) - xi);
    diff = useMad ? Math.abs(diff) : f(diff * diff);
    bestError = f(bestError + f(weights[i]! * diff));
  }
  if (nstep < 1) return [scale, -min];
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / range);
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(xi - min)))));
      Laux[i] = l;
      const wl = f(weights[i]! * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * xi));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        let diff = f(f(f(thisScale * Laux[i]!) + thisMin) - x[xo + i]!);
        diff = useMad ? Math.abs(diff) : f(diff * diff);
        curError = f(curError + f(weights[i]! * diff));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = Laux[i]!;
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

/**
 * The shared part of quantize_row_q4_K_ref / q5_K_ref for one super-block at x[xb..xb+256):
 * writes d, dmin and scales[12] at dst[ob..ob+16) and returns the quants L[256] in 0..nmax.
 */
function encodeSuperBlock(
  x: Float32Array, xb: number, dst: Uint8Array, ob: number, nmax: number, rmin: number, rdelta: number, nstep: number,
  L: Uint8Array,
): void {
  const Laux = new Uint8Array(32);
  const weights = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) {
      const v = x[xb + 32 * j + l]!;
      sumX2 = f(sumX2 + f(v * v));
    }
    const avX = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(x[xb + 32 * j + l]!));
    const [scale, min] = makeQkx2Quants(32, nmax, x, xb + 32 * j, weights, L, 32 * j, Laux, rmin, rdelta, nstep, false);
    scales[j] = scale;
    mins[j] = min;
    if (scale > maxScale) maxScale = scale;
    if (min > maxMin) maxMin = min;
  }
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const sc = dst.subarray(ob + 4, ob + 16);
  sc.fill(0);
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff); // uint8_t cast, then MIN
    const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
    if (j < 4) {
      sc[j] = ls;
      sc[j + 4] = lm;
    } else {
      sc[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      sc[j - 4]! |= (ls >> 4) << 6;
      sc[j]! |= (lm >> 4) << 6;
    }
  }
  const dBits = fp32ToFp16(f(maxScale / 63));
  const mBits = fp32ToFp16(f(maxMin / 63));
  dst[ob] = dBits & 0xff;
  dst[ob + 1] = dBits >>> 8;
  dst[ob + 2] = mBits & 0xff;
  dst[ob + 3] = mBits >>> 8;
  const d = F16_TABLE[dBits]!;
  const dmin = F16_TABLE[mBits]!;
  for (let j = 0; j < 8; j++) {
    const [s, m] = scaleMin(dst, ob + 4, j);
    const dj = f(d * s);
    if (!dj) continue; // keeps make_qkx2_quants' quants, as ggml does
    const dm = f(dmin * m);
    for (let i = 0; i < 32; i++) {
      const l = nearestInt(f(f(x[xb + 32 * j + i]! + dm) / dj));
      L[32 * j + i] = Math.max(0, Math.min(nmax, l));
    }
  }
}

/**
 * Q4_K / Q5_K decoder: value = fl32(d*sc*q - dmin*m) per sub-block, as ggml. qs chunk c (32
 * bytes at qsOff) holds element 64c+l in the low nibble of byte l and 64c+32+l in the high one;
 * Q5_K (qhOff >= 0) adds bit 2c (resp. 2c+1) of qh[l] as the fifth bit.
 */
function decodeKQuant(src: Uint8Array, o: number, n: number, y: FloatArray, yo: number, typeSize: number, qsOff: number, qhOff: number): void {
  for (let b = 0; b < n / QK_K; b++) {
    const ob = o + typeSize * b;
    const d = F16_TABLE[src[ob]! | (src[ob + 1]! << 8)]!;
    const dmin = F16_TABLE[src[ob + 2]! | (src[ob + 3]! << 8)]!;
    const yb = yo + QK_K * b;
    for (let c = 0; c < 4; c++) {
      const [s0, m0] = scaleMin(src, ob + 4, 2 * c);
      const [s1, m1] = scaleMin(src, ob + 4, 2 * c + 1);
      const d0 = f(d * s0), mm0 = f(dmin * m0), d1 = f(d * s1), mm1 = f(dmin * m1);
      const q = ob + qsOff + 32 * c;
      for (let l = 0; l < 32; l++) {
        const byte = src[q + l]!;
        const h = qhOff >= 0 ? src[ob + qhOff + l]! >> (2 * c) : 0;
        // d*sc*q and dmin*m are exact; their difference is exact in float64, then rounded once.
        y[yb + 64 * c + l] = f(d0 * ((byte & 0xf) | ((h & 1) << 4)) - mm0);
        y[yb + 64 * c + 32 + l] = f(d1 * ((byte >> 4) | ((h & 2) << 3)) - mm1);
      }
    }
  }
}

/** Block layout (ggml block_q4_K, 144 bytes): f16 d, f16 dmin, scales[12], qs[128]. */
const q4_KCodec: TypeCodec = {
  type: "Q4_K",
  blockSize: QK_K,
  typeSize: 144,
  // Port of quantize_row_q4_K_ref: make_qkx2_quants(32, 15, ..., -1, 0.1, 20, false) per
  // sub-block, 6-bit scales/mins relative to the largest, requantization with the stored values.
  encode(x, xo, n, dst, o) {
    const L = new Uint8Array(QK_K);
    for (let b = 0; b < n / QK_K; b++) {
      const xb = xo + QK_K * b;
      const ob = o + 144 * b;
      encodeSuperBlock(x, xb, dst, ob, 15, -1, 0.1, 20, L);
      // qs chunk c (32 bytes): element 64c+l in the low nibble of byte l, 64c+32+l in the high.
      for (let c = 0; c < 4; c++) {
        for (let l = 0; l < 32; l++) dst[ob + 16 + 32 * c + l] = L[64 * c + l]! | (L[64 * c + 32 + l]! << 4);
      }
    }
  },
  decode: (src, o, n, y, yo) => decodeKQuant(src, o, n, y, yo, 144, 16, -1),
};

/** Block layout (ggml block_q5_K, 176 bytes): f16 d, f16 dmin, scales[12], qh[32], qs[128]. */
const q5_KCodec: TypeCodec = {
  type: "Q5_K",
  blockSize: QK_K,
  typeSize: 176,
  // Port of quantize_row_q5_K_ref: make_qkx2_quants(32, 31, ..., -0.5, 0.1, 15, false).
  encode(x, xo, n, dst, o) {
    const L = new Uint8Array(QK_K);
    for (let b = 0; b < n / QK_K; b++) {
      const xb = xo + QK_K * b;
      const ob = o + 176 * b;
      encodeSuperBlock(x, xb, dst, ob, 31, -0.5, 0.1, 15, L);
      // qh[l] bit 2c: high bit of element 64c+l; bit 2c+1: of element 64c+32+l.
      dst.fill(0, ob + 16, ob + 48);
      for (let c = 0; c < 4; c++) {
        for (let l = 0; l < 32; l++) {
          let l1 = L[64 * c + l]!;
          let l2 = L[64 * c + 32 + l]!;
          if (l1 > 15) {
            l1 -= 16;
            dst[ob + 16 + l]! |= 1 << (2 * c);
          }
          if (l2 > 15) {
            l2 -= 16;
            dst[ob + 16 + l]! |= 2 << (2 * c);
          }
          dst[ob + 48 + 32 * c + l] = l1 | (l2 << 4);
        }
      }
    }
  },
  decode: (src, o, n, y, yo) => decodeKQuant(src, o, n, y, yo, 176, 48, 16),
};

export const K_CODECS: Partial<Record<GgmlTypeName, TypeCodec>> = {
  Q4_K: q4_KCodec,
  Q5_K: q5_KCodec,
};
