// SPDX-License-Identifier: MIT
// AVX2/FMA/F16C helpers for native/cpu/avx2/*.cpp only (compiled with -mavx2 -mfma -mf16c).
// Everything here has internal linkage (static / anonymous namespace): nothing compiled with
// AVX2 flags may be merged by the linker into baseline code.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lfm::cpu::avx2 {
namespace {

constexpr int kLanes = 8;

// --- reductions

// Pairwise tree: 8 -> 4 -> 2 -> 1.
static inline float hsum(__m256 v) {
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

static inline float hmax(__m256 v) {
  __m128 b = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  b = _mm_max_ps(b, _mm_movehl_ps(b, b));
  b = _mm_max_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

// Integer mask for _mm256_maskload_ps / _mm256_maskstore_ps: the first n lanes (none for
// n <= 0, all for n >= 8).
static inline __m256i first_lanes(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int k = n <= 0 ? 0 : n >= kLanes ? kLanes : static_cast<int>(n);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), idx);
}

// --- exp

// exp(x) for every lane, within ~1 ulp of the correctly rounded result on the full range
// (overflow gives +inf, underflow 0 or a subnormal, NaN stays NaN).
// exp(x) = 2^n * e^r with n = round(x * log2(e)), r = x - n*ln2 (Cody-Waite split, |r| <=
// ln2/2), e^r from its degree-7 Taylor polynomial (truncation error < 1e-8 relative). 2^n is
// applied as two factors 2^(n/2) so that neither leaves the normal range (n is in [-150, 129]).
static inline __m256 exp_ps(__m256 x) {
  // Second operand of min/max is returned for NaN, so NaN passes through the clamp.
  x = _mm256_max_ps(_mm256_set1_ps(-104.0f), _mm256_min_ps(_mm256_set1_ps(89.0f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723212e-6f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n);  // NaN lanes give INT_MIN; p is NaN there anyway
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

// --- matmul driver
//
// A weight format W provides, for a step of 32 columns:
//   static constexpr int64_t kStepBytes;   // bytes of one step (one block for Q4_0/Q8_0)
//   static constexpr int64_t kElemBytes;   // bytes per element (0 for block formats)
//   static constexpr bool kScaleAfter;     // block formats: load() returns the block scale
//   load(const uint8_t* p, __m256 w[4]);   // the 32 values, exact, as f32
// With kScaleAfter, load() leaves w as the unscaled integers and returns d broadcast; the
// step then forms each token's block dot product and applies d with one FMA
// (acc += d * sum(q * x)), which saves three multiplies per block and row; both forms are exact
// up to f32 rounding of the sums.
//
// mm_tile<W, RB, TB> computes RB rows x TB tokens over all columns. Each weight step is
// dequantized once into registers and used for every token of the tile (prefill reuse); with
// TB == 1 every row gets two accumulators (8 independent FMA chains for 4 rows) so decode
// streams the weights. Accumulation is two-level: inner accumulators run for kFlushSteps steps
// (256 columns) and are then added into outer ones; the final 8 lanes are added pairwise.

constexpr int64_t kStepCols = 32;
constexpr int64_t kFlushSteps = 8;
constexpr int64_t kTileBytes = 128 * 1024;  // weight rows kept in L2 across token tiles
constexpr int64_t kPrefetchBytes = 2048;    // software prefetch distance for F32/F16/BF16 rows

template <class W, int RB, int TB, int NA>
static inline void mm_step(__m256 (&acc)[RB][TB][NA], const uint8_t* const (&wp)[RB],
                           const float* const (&xp)[TB]) {
  for (int i = 0; i < RB; ++i) {
    __m256 wv[4];
    if constexpr (W::kScaleAfter) {
      const __m256 d = W::load(wp[i], wv);
      for (int j = 0; j < TB; ++j) {
        __m256 s = _mm256_mul_ps(wv[0], _mm256_loadu_ps(xp[j]));
        for (int v = 1; v < 4; ++v) s = _mm256_fmadd_ps(wv[v], _mm256_loadu_ps(xp[j] + v * kLanes), s);
        acc[i][j][0] = _mm256_fmadd_ps(s, d, acc[i][j][0]);
      }
    } else {
      W::load(wp[i], wv);
      for (int j = 0; j < TB; ++j) {
        for (int v = 0; v < 4; ++v) {
          __m256& a = acc[i][j][v % NA];
          a = _mm256_fmadd_ps(wv[v], _mm256_loadu_ps(xp[j] + v * kLanes), a);
        }
      }
    }
  }
}

template <class W, int RB, int TB>
static inline void mm_tile(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
                           const float* x, int64_t ldx, int64_t n_cols, int64_t r, int64_t t) {
  // Two accumulators per row for decode, unless the block scale already splits the chain.
  constexpr int NA = TB == 1 && !W::kScaleAfter ? 2 : 1;
  __m256 acc[RB][TB][NA];
  __m256 outer[RB][TB];
  for (int i = 0; i < RB; ++i) {
    for (int j = 0; j < TB; ++j) {
      outer[i][j] = _mm256_setzero_ps();
      for (int a = 0; a < NA; ++a) acc[i][j][a] = _mm256_setzero_ps();
    }
  }
  auto flush = [&]() {
    for (int i = 0; i < RB; ++i) {
      for (int j = 0; j < TB; ++j) {
        __m256 s = acc[i][j][0];
        if (NA == 2) s = _mm256_add_ps(s, acc[i][j][NA - 1]);
        outer[i][j] = _mm256_add_ps(outer[i][j], s);
        for (int a = 0; a < NA; ++a) acc[i][j][a] = _mm256_setzero_ps();
      }
    }
  };
  const int64_t n_steps = n_cols / kStepCols;
  for (int64_t s0 = 0; s0 < n_steps; s0 += kFlushSteps) {
    const int64_t s1 = s0 + kFlushSteps < n_steps ? s0 + kFlushSteps : n_steps;
    for (int64_t s = s0; s < s1; ++s) {
      const uint8_t* wp[RB];
      const float* xp[TB];
      for (int i = 0; i < RB; ++i) wp[i] = w + (r + i) * w_row_bytes + s * W::kStepBytes;
      if constexpr (TB == 1) {
        // Decode streams the weights from DRAM (see simd_avx512.h): element formats prefetch
        // kPrefetchBytes ahead in the same row, quantized formats the same column of the next
        // tile's rows, once per line.
        const int64_t off = s * W::kStepBytes;
        const int64_t ahead = W::kElemBytes > 0 ? kPrefetchBytes : RB * w_row_bytes;
        if (W::kStepBytes >= 64 || (off & 63) < W::kStepBytes) {
          for (int i = 0; i < RB; ++i) {
            for (int64_t o = 0; o < W::kStepBytes; o += 64) {
              _mm_prefetch(reinterpret_cast<const char*>(wp[i]) + ahead + o, _MM_HINT_T0);
            }
          }
        }
      }
      for (int j = 0; j < TB; ++j) xp[j] = x + (t + j) * ldx + s * kStepCols;
      mm_step<W, RB, TB, NA>(acc, wp, xp);
    }
    flush();
  }
  const int64_t rem = n_cols - n_steps * kStepCols;  // only for element formats (F32/F16/BF16)
  if constexpr (W::kElemBytes > 0) {
    if (rem > 0) {
      // Zero-padded copies of the last partial step: the padding contributes 0 * 0.
      alignas(32) uint8_t wbuf[RB][4 * kStepCols];
      alignas(32) float xbuf[TB][kStepCols];
      const uint8_t* wp[RB];
      const float* xp[TB];
      for (int i = 0; i < RB; ++i) {
        std::memset(wbuf[i], 0, sizeof(wbuf[i]));
        std::memcpy(wbuf[i], w + (r + i) * w_row_bytes + n_steps * W::kStepBytes,
                    static_cast<size_t>(rem * W::kElemBytes));
        wp[i] = wbuf[i];
      }
      for (int j = 0; j < TB; ++j) {
        std::memset(xbuf[j], 0, sizeof(xbuf[j]));
        std::memcpy(xbuf[j], x + (t + j) * ldx + n_steps * kStepCols, static_cast<size_t>(rem) * 4);
        xp[j] = xbuf[j];
      }
      mm_step<W, RB, TB, NA>(acc, wp, xp);
      flush();
    }
  }
  for (int i = 0; i < RB; ++i) {
    for (int j = 0; j < TB; ++j) y[(t + j) * ldy + r + i] = hsum(outer[i][j]);
  }
}

// Prefill tile: 2 rows x 4 tokens = 8 accumulators plus 4 weight vectors fit the 16 ymm
// registers (measured on Zen 5 against 2x3, 2x5, 2x6, 3x4, 4x2 and 1x8: all within 10%).
constexpr int kPrefillRows = 2;
constexpr int kPrefillToks = 4;

// One tile of RB rows and tb (runtime, 1..kPrefillToks) tokens.
template <class W, int RB>
static inline void mm_tile_tokens(int64_t tb, float* y, int64_t ldy, const uint8_t* w,
                                  int64_t w_row_bytes, const float* x, int64_t ldx,
                                  int64_t n_cols, int64_t r, int64_t t) {
  switch (tb) {
    case 1: mm_tile<W, RB, 1>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
    case 2: mm_tile<W, RB, 2>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
    case 3: mm_tile<W, RB, 3>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
    default: mm_tile<W, RB, 4>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
  }
}

// Rows [r0, r1) x tokens [0, n_tok): blocks of rows whose weights fit in L2 (kTileBytes), then
// tiles of kPrefillToks tokens x kPrefillRows rows (prefill) or 1 token x 4 rows (decode).
template <class W>
static inline void mm_run(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
                          const float* x, int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0,
                          int64_t r1) {
  int64_t rows_per_block = kTileBytes / (w_row_bytes > 0 ? w_row_bytes : 1);
  rows_per_block = rows_per_block < 4 ? 4 : rows_per_block / 4 * 4;
  for (int64_t rb0 = r0; rb0 < r1; rb0 += rows_per_block) {
    const int64_t rb1 = rb0 + rows_per_block < r1 ? rb0 + rows_per_block : r1;
    for (int64_t t = 0; t < n_tok; t += kPrefillToks) {
      const int64_t tb = n_tok - t < kPrefillToks ? n_tok - t : kPrefillToks;
      int64_t r = rb0;
      if (tb == 1) {
        for (; r + 4 <= rb1; r += 4) mm_tile<W, 4, 1>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
      } else {
        for (; r + kPrefillRows <= rb1; r += kPrefillRows) {
          mm_tile_tokens<W, kPrefillRows>(tb, y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
        }
      }
      for (; r < rb1; ++r) mm_tile_tokens<W, 1>(tb, y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
    }
  }
}

}  // namespace
}  // namespace lfm::cpu::avx2
