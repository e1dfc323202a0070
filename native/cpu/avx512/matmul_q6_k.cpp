// SPDX-License-Identifier: MIT
// AVX-512: y[t*ldy + r] = sum_c W[r,c] * x[t*ldx + c], Q6_K weights (layout in
// ../kernels_q6_k.h), rows [r0, r1), tokens [0, n_tok). n_cols a multiple of 256; no alignment.
// A super-block is walked in 8 steps of 32 columns (2 halves x 4 groups); each step's quants are
// assembled as int8 q - 32 from 32 bytes of ql and 32 of qh, widened to f32 and multiplied by
// d * scale (exact: see ../kernels_q6_k.h), so every weight is the exact f32 value. The tiling
// follows mm_run in simd_avx512.h (its fixed-stride step does not fit the super-block layout):
// row blocks that fit in L2, tiles of 4 rows x up to 4 tokens, each step dequantized once per
// tile and used for every token; decode (1 token) keeps two accumulators per row and prefetches
// the next row tile's super-block. Inner accumulators are flushed once per super-block.
// Must match scalar::matmul_q6_k within the f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "../kernels_q6_k.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

// The 32 quants of group g (0..3) of a half (ql, qh at the half's start), as int8 q - 32.
static inline __m256i q6k_group_bytes(const uint8_t* ql, const uint8_t* qh, int g) {
  const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32 * (g & 1)));
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
  const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(l, _mm_cvtsi32_si128(4 * (g >> 1))),
                                      _mm256_set1_epi8(0x0f));
  const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * g)),
                                      _mm256_set1_epi8(0x03));
  return _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)), _mm256_set1_epi8(32));
}

template <int RB, int TB>
static inline void q6k_tile(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
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
  const int64_t n_blocks = n_cols / kQK_K6;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* bp[RB];
    float d[RB];
    for (int i = 0; i < RB; ++i) {
      bp[i] = w + (r + i) * w_row_bytes + b * kQ6KBlockBytes;
      uint16_t d_bits;
      std::memcpy(&d_bits, bp[i] + 208, 2);
      d[i] = fp16_to_fp32(d_bits);
    }
    if constexpr (TB == 1) {
      // Decode streams the weights: ask for the same super-block of the next tile's rows.
      const int64_t ahead = RB * w_row_bytes;
      for (int i = 0; i < RB; ++i) {
        for (int64_t o = 0; o < kQ6KBlockBytes; o += 64) {
          _mm_prefetch(reinterpret_cast<const char*>(bp[i]) + ahead + o, _MM_HINT_T0);
        }
        _mm_prefetch(reinterpret_cast<const char*>(bp[i]) + ahead + kQ6KBlockBytes - 1, _MM_HINT_T0);
      }
    }
    for (int h = 0; h < 2; ++h) {
      for (int g = 0; g < 4; ++g) {
        const int64_t col = b * kQK_K6 + 128 * h + 32 * g;
        __m512 xv[TB][2];
        for (int j = 0; j < TB; ++j) {
          xv[j][0] = _mm512_loadu_ps(x + (t + j) * ldx + col);
          xv[j][1] = _mm512_loadu_ps(x + (t + j) * ldx + col + kLanes);
        }
        for (int i = 0; i < RB; ++i) {
          const __m256i q = q6k_group_bytes(bp[i] + 64 * h, bp[i] + 128 + 32 * h, g);
          const int8_t* sc = reinterpret_cast<const int8_t*>(bp[i] + 192 + 8 * h + 2 * g);
          const __m512 w0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q))),
                                          _mm512_set1_ps(d[i] * static_cast<float>(sc[0])));
          const __m512 w1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1))),
                                          _mm512_set1_ps(d[i] * static_cast<float>(sc[1])));
          for (int j = 0; j < TB; ++j) {
            acc[i][j][0] = _mm512_fmadd_ps(w0, xv[j][0], acc[i][j][0]);
            acc[i][j][NA - 1] = _mm512_fmadd_ps(w1, xv[j][1], acc[i][j][NA - 1]);
          }
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

template <int RB>
static inline void q6k_tile_tokens(int64_t tb, float* y, int64_t ldy, const uint8_t* w,
                                   int64_t w_row_bytes, const float* x, int64_t ldx,
                                   int64_t n_cols, int64_t r, int64_t t) {
  switch (tb) {
    case 1: q6k_tile<RB, 1>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
    case 2: q6k_tile<RB, 2>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
    case 3: q6k_tile<RB, 3>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
    default: q6k_tile<RB, 4>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
  }
}

}  // namespace

void matmul_q6_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  constexpr int RB = 4, TB = 4;
  int64_t rows_per_block = kTileBytes / (w_row_bytes > 0 ? w_row_bytes : 1);
  rows_per_block = rows_per_block < RB ? RB : rows_per_block / RB * RB;
  for (int64_t rb0 = r0; rb0 < r1; rb0 += rows_per_block) {
    const int64_t rb1 = rb0 + rows_per_block < r1 ? rb0 + rows_per_block : r1;
    for (int64_t t = 0; t < n_tok; t += TB) {
      const int64_t tb = n_tok - t < TB ? n_tok - t : TB;
      int64_t r = rb0;
      for (; r + RB <= rb1; r += RB) q6k_tile_tokens<RB>(tb, y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
      for (; r < rb1; ++r) q6k_tile_tokens<1>(tb, y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
    }
  }
}

}  // namespace lfm::cpu::avx512
