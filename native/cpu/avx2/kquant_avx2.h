// SPDX-License-Identifier: MIT
// AVX2 Q4_K / Q5_K: dequantization of 8 weights and the matmul tile driver, for matmul_q4_k.cpp,
// matmul_q5_k.cpp and dequant_row_kquant.cpp of this folder only. Internal linkage only
// (static / anonymous namespace), see simd_avx2.h.
//
// A weight struct W describes one K-quant type:
//   static constexpr int64_t kBlockBytes;                      // bytes of a 256 super-block
//   static __m256 load(const uint8_t* blk, int s, int g, __m256 d1, __m256 m1);
//     elements 8g .. 8g+8 of sub-block s, exact: fl(q*d1 - m1) by one FMA (q*d1 is exact, so
//     this rounds like ggml's mul-then-sub).
#pragma once

#include "../kernels_kquant.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {
namespace {

// dm[j] = d * sc_j, dm[8 + j] = dmin * m_j (exact products).
static inline void kq_scales(const uint8_t* blk, float dm[16]) {
  uint16_t d_bits, m_bits;
  std::memcpy(&d_bits, blk, 2);
  std::memcpy(&m_bits, blk + 2, 2);
  alignas(16) uint8_t sm[16];
  kquant_unpack_scales(blk + 4, sm);
  const __m256 d = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(d_bits)));
  const __m256 dmin = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(m_bits)));
  const __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm))));
  const __m256 mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm + 8))));
  _mm256_storeu_ps(dm, _mm256_mul_ps(sc, d));
  _mm256_storeu_ps(dm + 8, _mm256_mul_ps(mn, dmin));
}

// The 4-bit quants of elements 8g .. 8g+8 of sub-block s from a qs[128] array.
static inline __m256i kq_nibbles(const uint8_t* qs, int s, int g) {
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 32 * (s >> 1) + 8 * g)));
  return (s & 1) ? _mm256_srli_epi32(v, 4) : _mm256_and_si256(v, _mm256_set1_epi32(15));
}

struct WeightsQ4K {
  static constexpr int64_t kBlockBytes = kBlockQ4KBytes;
  static inline __m256 load(const uint8_t* blk, int s, int g, __m256 d1, __m256 m1) {
    return _mm256_fmsub_ps(_mm256_cvtepi32_ps(kq_nibbles(blk + 16, s, g)), d1, m1);
  }
};

struct WeightsQ5K {
  static constexpr int64_t kBlockBytes = kBlockQ5KBytes;
  static inline __m256 load(const uint8_t* blk, int s, int g, __m256 d1, __m256 m1) {
    const __m256i q = kq_nibbles(blk + 48, s, g);
    const __m256i h = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 16 + 8 * g)));
    // bit s of qh -> bit 4
    const __m256i hb = s <= 4 ? _mm256_sll_epi32(h, _mm_cvtsi32_si128(4 - s)) : _mm256_srl_epi32(h, _mm_cvtsi32_si128(s - 4));
    const __m256i q5 = _mm256_or_si256(q, _mm256_and_si256(hb, _mm256_set1_epi32(16)));
    return _mm256_fmsub_ps(_mm256_cvtepi32_ps(q5), d1, m1);
  }
};

// RB rows x TB tokens over all columns. Per super-block: each row's scales once; then per group
// of 8 weights, each row's weights are dequantized once and used for every token (prefill).
// TB == 1 (decode): two accumulators per row, alternating by group, and a software prefetch of
// the same super-block of the next RB rows. Inner accumulators are added into outer ones after
// each super-block (256 columns).
template <class W, int RB, int TB>
static inline void kq_tile(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
                           const float* x, int64_t ldx, int64_t n_cols, int64_t r, int64_t t) {
  constexpr int NA = TB == 1 ? 2 : 1;
  __m256 acc[RB][TB][NA];
  __m256 outer[RB][TB];
  for (int i = 0; i < RB; ++i) {
    for (int j = 0; j < TB; ++j) {
      outer[i][j] = _mm256_setzero_ps();
      for (int a = 0; a < NA; ++a) acc[i][j][a] = _mm256_setzero_ps();
    }
  }
  const int64_t n_sb = n_cols / kQK_K;
  for (int64_t sb = 0; sb < n_sb; ++sb) {
    const uint8_t* bp[RB];
    alignas(32) float dm[RB][16];
    for (int i = 0; i < RB; ++i) {
      bp[i] = w + (r + i) * w_row_bytes + sb * W::kBlockBytes;
      if constexpr (TB == 1) {
        const char* p = reinterpret_cast<const char*>(bp[i]) + RB * w_row_bytes;
        for (int64_t o = 0; o < W::kBlockBytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
      }
      kq_scales(bp[i], dm[i]);
    }
    for (int s = 0; s < 8; ++s) {
      for (int g = 0; g < 4; ++g) {
        __m256 xv[TB];
        for (int j = 0; j < TB; ++j) xv[j] = _mm256_loadu_ps(x + (t + j) * ldx + sb * kQK_K + 32 * s + 8 * g);
        for (int i = 0; i < RB; ++i) {
          const __m256 wv = W::load(bp[i], s, g, _mm256_broadcast_ss(&dm[i][s]), _mm256_broadcast_ss(&dm[i][8 + s]));
          for (int j = 0; j < TB; ++j) {
            __m256& a = acc[i][j][g % NA];
            a = _mm256_fmadd_ps(wv, xv[j], a);
          }
        }
      }
    }
    for (int i = 0; i < RB; ++i) {
      for (int j = 0; j < TB; ++j) {
        __m256 s = acc[i][j][0];
        if (NA == 2) s = _mm256_add_ps(s, acc[i][j][NA - 1]);
        outer[i][j] = _mm256_add_ps(outer[i][j], s);
        for (int a = 0; a < NA; ++a) acc[i][j][a] = _mm256_setzero_ps();
      }
    }
  }
  for (int i = 0; i < RB; ++i) {
    for (int j = 0; j < TB; ++j) y[(t + j) * ldy + r + i] = hsum(outer[i][j]);
  }
}

template <class W, int RB>
static inline void kq_tile_tokens(int64_t tb, float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
                                  const float* x, int64_t ldx, int64_t n_cols, int64_t r, int64_t t) {
  switch (tb) {
    case 1: kq_tile<W, RB, 1>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
    case 2: kq_tile<W, RB, 2>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
    case 3: kq_tile<W, RB, 3>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
    default: kq_tile<W, RB, 4>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
  }
}

// Rows [r0, r1) x tokens [0, n_tok): blocks of rows whose weights fit in L2 (kTileBytes), then
// tiles of 4 tokens; decode takes 4 rows at a time, prefill 2 (16 ymm registers); single rows
// for the remainder.
template <class W>
static inline void kq_run(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                          int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  int64_t rows_per_block = kTileBytes / (w_row_bytes > 0 ? w_row_bytes : 1);
  rows_per_block = rows_per_block < 4 ? 4 : rows_per_block / 4 * 4;
  for (int64_t rb0 = r0; rb0 < r1; rb0 += rows_per_block) {
    const int64_t rb1 = rb0 + rows_per_block < r1 ? rb0 + rows_per_block : r1;
    for (int64_t t = 0; t < n_tok; t += kPrefillToks) {
      const int64_t tb = n_tok - t < kPrefillToks ? n_tok - t : kPrefillToks;
      int64_t r = rb0;
      if (tb == 1) {
        for (; r + 4 <= rb1; r += 4) kq_tile<W, 4, 1>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
      } else {
        for (; r + kPrefillRows <= rb1; r += kPrefillRows) {
          kq_tile_tokens<W, kPrefillRows>(tb, y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
        }
      }
      for (; r < rb1; ++r) kq_tile_tokens<W, 1>(tb, y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
    }
  }
}

// Dequantizes n elements (n a multiple of 256) of a row.
template <class W>
static inline void kq_dequant_row(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* blk = w_row + b * W::kBlockBytes;
    alignas(32) float dm[16];
    kq_scales(blk, dm);
    for (int s = 0; s < 8; ++s) {
      const __m256 d1 = _mm256_set1_ps(dm[s]), m1 = _mm256_set1_ps(dm[8 + s]);
      for (int g = 0; g < 4; ++g) _mm256_storeu_ps(y + b * kQK_K + 32 * s + 8 * g, W::load(blk, s, g, d1, m1));
    }
  }
}

}  // namespace
}  // namespace lfm::cpu::avx2
