// SPDX-License-Identifier: MIT
// AVX-512 K-quants: the matmul tile driver and row dequantizer shared by Q4_K / Q5_K (weight
// structs here) and Q6_K (q6_k_avx512.h), for the K-quant kernel files of this folder only.
// Internal linkage only (static / anonymous namespace), see simd_avx512.h.
//
// A weight struct W describes one K-quant type:
//   static constexpr int64_t kBlockBytes;                       // bytes of a 256 super-block
//   static void scales(const uint8_t* blk, float dm[16]);        // two factors per step j:
//                                                                // dm[j] and dm[8 + j]
//   static void load(const uint8_t* blk, int j, float d1, float m1, __m512 w[2]);
//     (Q4_K / Q5_K: d1 = d*sc_j, m1 = dmin*m_j; Q6_K: the scales of the two 16-column halves)
//     the 32 values of sub-block j, exact: a table fl(q*d1 - m1) per quant level (q*d1 is exact,
//     so the FMA rounds like ggml's mul-then-sub), indexed with vpermps by the quants.
#pragma once

#include "../kernels_kquant.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

// dm[j] = d * sc_j, dm[8 + j] = dmin * m_j (exact products).
static inline void kq_scales(const uint8_t* blk, float dm[16]) {
  uint16_t d_bits, m_bits;
  std::memcpy(&d_bits, blk, 2);
  std::memcpy(&m_bits, blk + 2, 2);
  alignas(16) uint8_t sm[16];
  kquant_unpack_scales(blk + 4, sm);
  const __m256i dh = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(static_cast<short>(d_bits))),
                                             _mm_set1_epi16(static_cast<short>(m_bits)), 1);
  const __m512 dd = _mm512_cvtph_ps(dh);  // [d x8, dmin x8]
  const __m512 s = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(sm))));
  _mm512_storeu_ps(dm, _mm512_mul_ps(s, dd));
}

struct WeightsQ4K {
  static constexpr int64_t kBlockBytes = kBlockQ4KBytes;
  static inline void scales(const uint8_t* blk, float dm[16]) { kq_scales(blk, dm); }
  static inline void load(const uint8_t* blk, int j, float d1, float m1, __m512 w[2]) {
    const __m512 levels = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 table = _mm512_fmsub_ps(levels, _mm512_set1_ps(d1), _mm512_set1_ps(m1));
    const uint8_t* q = blk + 16 + 32 * (j >> 1);
    __m512i i0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
    __m512i i1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16)));
    if (j & 1) {  // high nibbles; vpermps reads only the low 4 index bits, so low ones need no mask
      i0 = _mm512_srli_epi32(i0, 4);
      i1 = _mm512_srli_epi32(i1, 4);
    }
    w[0] = _mm512_permutexvar_ps(i0, table);
    w[1] = _mm512_permutexvar_ps(i1, table);
  }
};

struct WeightsQ5K {
  static constexpr int64_t kBlockBytes = kBlockQ5KBytes;
  static inline void scales(const uint8_t* blk, float dm[16]) { kq_scales(blk, dm); }
  static inline void load(const uint8_t* blk, int j, float d1, float m1, __m512 w[2]) {
    const __m512 levels = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 d1v = _mm512_set1_ps(d1), m1v = _mm512_set1_ps(m1);
    const __m512 t0 = _mm512_fmsub_ps(levels, d1v, m1v);                                        // q < 16
    const __m512 t1 = _mm512_fmsub_ps(_mm512_add_ps(levels, _mm512_set1_ps(16)), d1v, m1v);     // q >= 16
    const uint8_t* qh = blk + 16;
    const uint8_t* q = blk + 48 + 32 * (j >> 1);
    __m512i i0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
    __m512i i1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16)));
    if (j & 1) {
      i0 = _mm512_srli_epi32(i0, 4);
      i1 = _mm512_srli_epi32(i1, 4);
    }
    const __m512i bit = _mm512_set1_epi32(1 << j);
    const __mmask16 h0 = _mm512_test_epi32_mask(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qh))), bit);
    const __mmask16 h1 = _mm512_test_epi32_mask(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + 16))), bit);
    w[0] = _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(i0, t0), h0, i0, t1);
    w[1] = _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(i1, t0), h1, i1, t1);
  }
};

// RB rows x TB tokens over all columns. Per super-block: each row's scales once, then per
// sub-block the 32 weights of each row are dequantized once into registers and used for every
// token (prefill reuse). TB == 1 (decode): two accumulators per row (8 FMA chains for RB = 4)
// and a software prefetch of the same super-block of the next RB rows, which the next tile
// reads. Inner accumulators are added into outer ones after each super-block (256 columns).
template <class W, int RB, int TB>
static inline void kq_tile(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
                           const float* x, int64_t ldx, int64_t n_cols, int64_t r, int64_t t) {
  constexpr int NA = TB == 1 ? 2 : 1;
  __m512 acc[RB][TB][NA];
  __m512 outer[RB][TB];
  for (int i = 0; i < RB; ++i) {
    for (int j = 0; j < TB; ++j) {
      outer[i][j] = _mm512_setzero_ps();
      for (int a = 0; a < NA; ++a) acc[i][j][a] = _mm512_setzero_ps();
    }
  }
  const int64_t n_sb = n_cols / kQK_K;
  for (int64_t sb = 0; sb < n_sb; ++sb) {
    const uint8_t* bp[RB];
    alignas(64) float dm[RB][16];
    for (int i = 0; i < RB; ++i) {
      bp[i] = w + (r + i) * w_row_bytes + sb * W::kBlockBytes;
      if constexpr (TB == 1) {
        const char* p = reinterpret_cast<const char*>(bp[i]) + RB * w_row_bytes;
        for (int64_t o = 0; o < W::kBlockBytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
      }
      W::scales(bp[i], dm[i]);
    }
    for (int s = 0; s < 8; ++s) {
      __m512 xv[TB][2];
      for (int j = 0; j < TB; ++j) {
        const float* xp = x + (t + j) * ldx + sb * kQK_K + 32 * s;
        xv[j][0] = _mm512_loadu_ps(xp);
        xv[j][1] = _mm512_loadu_ps(xp + kLanes);
      }
      for (int i = 0; i < RB; ++i) {
        __m512 wv[2];
        W::load(bp[i], s, dm[i][s], dm[i][8 + s], wv);
        for (int j = 0; j < TB; ++j) {
          acc[i][j][0] = _mm512_fmadd_ps(wv[0], xv[j][0], acc[i][j][0]);
          acc[i][j][NA - 1] = _mm512_fmadd_ps(wv[1], xv[j][1], acc[i][j][NA - 1]);
        }
      }
    }
    for (int i = 0; i < RB; ++i) {
      for (int j = 0; j < TB; ++j) {
        __m512 s = acc[i][j][0];
        if (NA == 2) s = _mm512_add_ps(s, acc[i][j][NA - 1]);
        outer[i][j] = _mm512_add_ps(outer[i][j], s);
        for (int a = 0; a < NA; ++a) acc[i][j][a] = _mm512_setzero_ps();
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
// tiles of 4 tokens, then 4 rows at a time (single rows for the remainder).
template <class W>
static inline void kq_run(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                          int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  constexpr int RB = 4, TB = 4;
  int64_t rows_per_block = kTileBytes / (w_row_bytes > 0 ? w_row_bytes : 1);
  rows_per_block = rows_per_block < RB ? RB : rows_per_block / RB * RB;
  for (int64_t rb0 = r0; rb0 < r1; rb0 += rows_per_block) {
    const int64_t rb1 = rb0 + rows_per_block < r1 ? rb0 + rows_per_block : r1;
    for (int64_t t = 0; t < n_tok; t += TB) {
      const int64_t tb = n_tok - t < TB ? n_tok - t : TB;
      int64_t r = rb0;
      for (; r + RB <= rb1; r += RB) kq_tile_tokens<W, RB>(tb, y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
      for (; r < rb1; ++r) kq_tile_tokens<W, 1>(tb, y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
    }
  }
}

// Dequantizes n elements (n a multiple of 256) of a row.
template <class W>
static inline void kq_dequant_row(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* blk = w_row + b * W::kBlockBytes;
    alignas(64) float dm[16];
    W::scales(blk, dm);
    for (int s = 0; s < 8; ++s) {
      __m512 wv[2];
      W::load(blk, s, dm[s], dm[8 + s], wv);
      _mm512_storeu_ps(y + b * kQK_K + 32 * s, wv[0]);
      _mm512_storeu_ps(y + b * kQK_K + 32 * s + kLanes, wv[1]);
    }
  }
}

}  // namespace
}  // namespace lfm::cpu::avx512
