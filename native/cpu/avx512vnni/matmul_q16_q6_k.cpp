// SPDX-License-Identifier: MIT
// AVX-512 VNNI: Q6_K weights (layout: ../kernels_q6_k.h) x Q16 activations, rows [r0, r1).
// Computes what scalar::matmul_q16_q6_k computes, with the sub-blocks' f32 terms summed in another
// order. One group = one super-block = 256 columns = 210 bytes. From 2 tokens on, q16_run takes
// the panel GEMM, fed by unpack_block (below). One token (decode), per row and group:
//   per half (128 columns): one 64-byte load of ql and one broadcast 32-byte load of qh give
//   the unsigned 6-bit quants of columns 0-63 and 64-127 of the half in column order (low /
//   high nibbles, qh bits shifted into bits 4-5: 7 instructions);
//   a 4x4 transposition of 4-column units (4 vpermt2d + 4 vshufi64x2) makes int32 lane k of
//   vector v hold columns 16k + 4v .. 16k + 4v + 3: sub-block k in lane k of every vector. The
//   activations are transposed the same way once per group (shared by the rows), so vpdpbusd
//   (u8 x s8) accumulates the four vectors into one int32 vector per activation term (two
//   independent chains) whose lane k is the whole 16-column product of sub-block k; 256*hi + lo
//   is the integer dot the scalar reference converts to f32 (same value, same rounding);
//   lane k gets d*sc_k * (da_{k/2} * dot_k - 32 * sum16_k): one FMS and one FMA.
// Instructions per row and group: 6 loads, 22 for the quants, 3 for the scales, and per token
// 8 vpdpbusd, 2 to combine the terms, 1 conversion, 2 FMAs.
// 8-bit activations (x.lo == nullptr, dispatch.h): the hi term alone (Terms = 1), half the products.

#include "../kernel_sets.h"
#include "../kernels_q6_k.h"
#include "q16_avx512.h"

namespace lfm::cpu::avx512vnni {
namespace {

// out[v] int32 lane k = int32 unit 4k + v of the 64 units in x[0..3] (x[m] holds units 16m..16m+15).
static inline void transpose_units(const __m512i x[4], __m512i out[4]) {
  const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const __m512i i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  const __m512i p01 = _mm512_permutex2var_epi32(x[0], i01, x[1]), p23 = _mm512_permutex2var_epi32(x[0], i23, x[1]);
  const __m512i q01 = _mm512_permutex2var_epi32(x[2], i01, x[3]), q23 = _mm512_permutex2var_epi32(x[2], i23, x[3]);
  out[0] = _mm512_shuffle_i64x2(p01, q01, _MM_SHUFFLE(1, 0, 1, 0));
  out[1] = _mm512_shuffle_i64x2(p01, q01, _MM_SHUFFLE(3, 2, 3, 2));
  out[2] = _mm512_shuffle_i64x2(p23, q23, _MM_SHUFFLE(1, 0, 1, 0));
  out[3] = _mm512_shuffle_i64x2(p23, q23, _MM_SHUFFLE(3, 2, 3, 2));
}

struct WeightsQ6K {
  static constexpr int64_t kGroupCols = kQK_K6;
  static constexpr int64_t kGroupBytes = kQ6KBlockBytes;
  static constexpr int kSubCols = 16;
  static int64_t group_bytes(int64_t cols) { return cols / kQK_K6 * kQ6KBlockBytes; }

  struct Act {
    __m512i h[4], l[4];  // terms hi / lo, transposed as the quants (transpose_units)
    __m512 da;           // lane k: activation scale of block k/2
    __m512 zp;           // lane k: 32 * activation sum of columns 16k..16k+15
    static inline void gather(const int8_t* s, __m512i out[4]) {
      __m512i x[4];
      for (int m = 0; m < 4; ++m) x[m] = _mm512_loadu_si512(s + 64 * m);
      transpose_units(x, out);
    }
    template <int Terms>
    void load(const QuantActs& x, int64_t t, int64_t g) {
      gather(x.hi + t * x.ld + g * kGroupCols, h);
      if constexpr (Terms == 2) gather(x.lo + t * x.ld + g * kGroupCols, l);
      const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
      da = _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(_mm256_loadu_ps(x.d + t * (x.ld / 32) + g * 8)));
      zp = _mm512_mul_ps(_mm512_loadu_ps(x.sum16 + t * (x.ld / 16) + g * 16), _mm512_set1_ps(32.0f));
    }
  };

  struct Unpacked {
    __m512i q[4];  // unsigned quants (0..63), transposed (transpose_units)
    __m512 dsc;    // lane k: d * sc_k
    void load(const uint8_t* p, int64_t /*n_bytes: always kGroupBytes*/) {
      const __m512i m0f = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
      __m512i nat[4];  // columns 0-63, 64-127, 128-191, 192-255
      for (int h = 0; h < 2; ++h) {
        const __m512i ql = _mm512_loadu_si512(p + 64 * h);
        // Byte i of qhx: qh[i % 32] of the half, shifted right by 2 for i >= 32, so that
        // columns i (bits 0-1) and 64 + i (bits 4-5) of the half find their two bits in place.
        const __m512i qhb = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 128 + 32 * h)));
        const __m512i qhx = _mm512_mask_srli_epi16(qhb, 0xffff0000u, qhb, 2);
        const __m512i hb0 = _mm512_and_si512(_mm512_slli_epi16(qhx, 4), m30);
        const __m512i hb1 = _mm512_and_si512(qhx, m30);
        nat[2 * h] = _mm512_ternarylogic_epi32(ql, m0f, hb0, 0xea);  // (A & B) | C
        nat[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), m0f, hb1, 0xea);
      }
      transpose_units(nat, q);
      uint16_t d_bits;
      std::memcpy(&d_bits, p + 208, 2);
      const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 192))));
      dsc = _mm512_mul_ps(sc, _mm512_set1_ps(_cvtsh_ss(d_bits)));
    }
  };

  template <int Terms>
  static inline void madd(__m512& acc, const Unpacked& w, const Act& a) {
    const __m512i h = dot4_terms<Terms>(w.q, a.h, a.l);
    acc = _mm512_fmadd_ps(w.dsc, _mm512_fmsub_ps(_mm512_cvtepi32_ps(h), a.da, a.zp), acc);
  }

  // For the prefill GEMM: the 32 quants (unsigned, 0..63) of columns 32b..32b+31 of a row in
  // column order, and per 16-column half h the scale d*sc and the zero -32*d*sc, so that
  // scale*q + zero is the weight exactly as dequant_row_q6_k gives it (every term is exact; a
  // zero weight, q = 32, comes out +0 where the dequantization may give -0).
  static void unpack_block(const uint8_t* row, int64_t b, uint8_t q[32], float scale[2], float zero[2]) {
    const uint8_t* blk = row + b / 8 * kQ6KBlockBytes;
    const int k = static_cast<int>(b % 8);  // 32-column group g = k % 4 of half k / 4
    const int h = k / 4, g = k % 4;
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32 * (g & 1)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
    const __m256i lo4 = _mm256_and_si256(_mm256_srl_epi16(ql, _mm_cvtsi32_si128(4 * (g >> 1))), _mm256_set1_epi8(0x0f));
    const __m256i hi2 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g)), _mm256_set1_epi8(0x03));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_or_si256(lo4, _mm256_slli_epi16(hi2, 4)));
    uint16_t d_bits;
    std::memcpy(&d_bits, blk + 208, 2);
    const float d = _cvtsh_ss(d_bits);
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192 + 8 * h + 2 * g);
    for (int i = 0; i < 2; ++i) {
      scale[i] = d * static_cast<float>(sc[i]);
      zero[i] = -32.0f * scale[i];
    }
  }
};

}  // namespace

void matmul_q16_q6_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                     int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  q16_run<WeightsQ6K>(y, ldy, w, w_row_bytes, x, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx512vnni
