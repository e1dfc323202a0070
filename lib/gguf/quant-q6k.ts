// SPDX-License-Identifier: MIT
// Q6_K codec: a port of ggml's reference encoder and decoder.
//
// Block layout (ggml block_q6_K, a super-block of 256 elements, 210 bytes):
//   u8 ql[128]  low 4 bits of the quants
//   u8 qh[64]   high 2 bits of the quants
//   i8 scales[16]  one 8-bit scale per 16 elements
//   f16 d       super-block scale
// value = d * scales[s] * (q - 32), q in 0..63. Each half h (128 elements) uses ql + 64h,
// qh + 32h and scales + 8h; for l < 32, element l takes (ql[l] & 15) and bits 0-1 of qh[l],
// element l+32 (ql[l+32] & 15) and bits 2-3, element l+64 (ql[l] >> 4) and bits 4-5, element
// l+96 (ql[l+32] >> 4) and bits 6-7; the scale of element e (within the half) is scales[e/16].
//
// Decoding is exact: d has 11 significant bits, a scale at most 8 (-128 = -2^7) and q - 32 at
// most 6 (-32 = -2^5), so every product fits float32.
//
// Encoding ports quantize_row_q6_K_ref: make_qx_quants(16, 32, x, L, rmse_type = 1, no weights)
// per 16 elements, then the 16 sub-block scales quantized to int8 against the largest, then the
// quants recomputed from the rounded scales. All arithmetic is float32 (Math.fround after each
// operation, no fused multiply-add), rounding with nearest_int (round half to even).

import type { GgmlTypeName } from "./types.js";
import { F16_TABLE, fp32ToFp16, type TypeCodec } from "./half.js";

const QK_K = 256;
const BLOCK_BYTES = 210;
const GROUP_MAX_EPS = Math.fround(1e-15);
const f = Math.fround;

/**
 * ggml's nearest_int: (fval + 1.5 * 2^23) in float32 keeps the integer part, i.e. round to
 * nearest with ties to even (valid for |fval| <= 2^22 - 1, as in ggml).
 */
function nearestInt(v: number): number {
  let r = Math.round(v); // ties toward +inf
  if (r - v === 0.5 && (r & 1) !== 0) r -= 1;
  return r;
}

/** MAX(-nmax, MIN(nmax - 1, l)). */
function clampQ(l: number, nmax: number): number {
  return l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
}

/**
 * make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = NULL): L[i] in 0..2*nmax-1 (stored with
 * the +nmax offset) and returns the scale (float32).
 */
function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]!);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i]!;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return 0;
  }
  let iscale = f(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const l = clampQ(nearestInt(f(iscale * xi)), nmax);
    L[lo + i] = l + nmax;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(f(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const l = clampQ(nearestInt(f(iscale * xi)), nmax);
      const w = f(xi * xi);
      sumlx = f(sumlx + f(f(w * xi) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      for (let i = 0; i < n; i++) {
        L[lo + i] = nmax + clampQ(nearestInt(f(iscale * x[xo + i]!)), nmax);
      }
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

function encodeBlock(x: Float32Array, xo: number, dst: Uint8Array, o: number, L: Int8Array, scales: Float32Array): void {
  let maxScale = 0;
  let maxAbsScale = 0;
  for (let ib = 0; ib < QK_K / 16; ib++) {
    const scale = makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib);
    scales[ib] = scale;
    const abs = Math.abs(scale);
    if (abs > maxAbsScale) {
      maxAbsScale = abs;
      maxScale = scale;
    }
  }
  if (maxAbsScale < GROUP_MAX_EPS) {
    dst.fill(0, o, o + BLOCK_BYTES);
    return;
  }
  const iscale = f(-128 / maxScale);
  const dh = fp32ToFp16(f(1 / iscale));
  dst[o + 208] = dh & 0xff;
  dst[o + 209] = dh >>> 8;
  const dq = F16_TABLE[dh]!;
  for (let ib = 0; ib < QK_K / 16; ib++) {
    // MIN(127, nearest_int(...)) stored in an int8.
    const s = Math.min(127, nearestInt(f(iscale * scales[ib]!)));
    dst[o + 192 + ib] = s & 0xff;
  }
  for (let j = 0; j < QK_K / 16; j++) {
    const sc = (dst[o + 192 + j]! << 24) >> 24;
    const d = f(dq * sc);
    if (!d) continue; // keeps the quants of make_qx_quants
    for (let ii = 0; ii < 16; ii++) {
      let l = nearestInt(f(x[xo + 16 * j + ii]! / d));
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      L[16 * j + ii] = l + 32;
    }
  }
  for (let h = 0; h < 2; h++) {
    const ql = o + 64 * h;
    const qh = o + 128 + 32 * h;
    const j = 128 * h;
    for (let l = 0; l < 32; l++) {
      const q1 = L[j + l]!;
      const q2 = L[j + l + 32]!;
      const q3 = L[j + l + 64]!;
      const q4 = L[j + l + 96]!;
      dst[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
      dst[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
      dst[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
    }
  }
}

const q6KCodec: TypeCodec = {
  type: "Q6_K",
  blockSize: QK_K,
  typeSize: BLOCK_BYTES,
  encode(x, xo, n, dst, o) {
    const L = new Int8Array(QK_K);
    const scales = new Float32Array(QK_K / 16);
    for (let b = 0; b < n / QK_K; b++) encodeBlock(x, xo + QK_K * b, dst, o + BLOCK_BYTES * b, L, scales);
  },
  decode(src, o, n, y, yo) {
    for (let b = 0; b < n / QK_K; b++) {
      const ob = o + BLOCK_BYTES * b;
      const d = F16_TABLE[src[ob + 208]! | (src[ob + 209]! << 8)]!;
      for (let h = 0; h < 2; h++) {
        const ql = ob + 64 * h;
        const qh = ob + 128 + 32 * h;
        const sc = ob + 192 + 8 * h;
        const yb = yo + QK_K * b + 128 * h;
        for (let l = 0; l < 32; l++) {
          const is = l >> 4;
          const a = src[ql + l]!;
          const c = src[ql + l + 32]!;
          const hb = src[qh + l]!;
          const s0 = (src[sc + is]! << 24) >> 24;
          const s2 = (src[sc + is + 2]! << 24) >> 24;
          const s4 = (src[sc + is + 4]! << 24) >> 24;
          const s6 = (src[sc + is + 6]! << 24) >> 24;
          y[yb + l] = d * s0 * (((a & 0xf) | ((hb & 3) << 4)) - 32);
          y[yb + l + 32] = d * s2 * (((c & 0xf) | (((hb >> 2) & 3) << 4)) - 32);
          y[yb + l + 64] = d * s4 * (((a >> 4) | (((hb >> 4) & 3) << 4)) - 32);
          y[yb + l + 96] = d * s6 * (((c >> 4) | (((hb >> 6) & 3) << 4)) - 32);
        }
      }
    }
  },
};

export const Q6K_CODECS: Partial<Record<GgmlTypeName, TypeCodec>> = { Q6_K: q6KCodec };
