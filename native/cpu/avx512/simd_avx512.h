// SPDX-License-Identifier: MIT
// AVX-512 helpers for native/cpu/avx512/*.cpp only (compiled with -mavx512f/bw/vl/dq).
// Everything here has internal linkage (static / anonymous namespace): nothing compiled with
// AVX-512 flags may be merged by the linker into baseline code.
#pragma once

// GCC 12 reports -Wuninitialized inside its own AVX-512 intrinsics (the _mm512_undefined_*
// idiom, GCC bug 105593, fixed in GCC 13). The state at the intrinsic header's lines is what
// counts, so this must precede the include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lfm::cpu::avx512 {
namespace {

constexpr int kLanes = 16;

// --- reductions

// Pairwise tree: 16 -> 8 -> 4 -> 2 -> 1.
static inline float hsum(__m512 v) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

static inline float hmax(__m512 v) {
  const __m256 a = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_max_ps(b, _mm_movehl_ps(b, b));
  b = _mm_max_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

// Mask of the first n lanes: none for n <= 0, all for n >= 16.
static inline __mmask16 first_lanes(int64_t n) {
  if (n <= 0) return 0;
  return n >= kLanes ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

// --- exp

// exp(x) for every lane, within ~1 ulp of the correctly rounded result on the full range
// (overflow gives +inf, underflow 0 or a subnormal, NaN stays NaN).
// exp(x) = 2^n * e^r with n = round(x * log2(e)), r = x - n*ln2 (Cody-Waite split, |r| <=
// ln2/2), e^r from its degree-7 Taylor polynomial (truncation error < 1e-8 relative).
static inline __m512 exp_ps(__m512 x) {
  // Second operand of min/max is returned for NaN, so NaN passes through the clamp.
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723212e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);  // p * 2^n with correct overflow/underflow
}

// --- matmul driver
//
// A weight format W provides, for a step of 32 columns:
//   static constexpr int64_t kStepBytes;   // bytes of one step (one block for Q4_0/Q8_0)
//   static constexpr int64_t kElemBytes;   // bytes per element (0 for block formats)
//   static void load(const uint8_t* p, __m512 w[2]);  // the 32 values, exact, as f32
//
// mm_tile<W, RB, TB> computes RB rows x TB tokens over all columns. Each weight step is
// dequantized once into registers and used for every token of the tile (prefill reuse); with
// TB == 1 every row gets two accumulators so 8 independent FMA chains hide the FMA latency
// (decode streams the weights). Accumulation is two-level: inner accumulators run for
// kFlushSteps steps (256 columns) and are then added into outer ones, which keeps each sum
// short; the final 16 lanes are added pairwise.

constexpr int64_t kStepCols = 32;
constexpr int64_t kFlushSteps = 8;
constexpr int64_t kTileBytes = 128 * 1024;  // weight rows kept in L2 across token tiles
constexpr int64_t kPrefetchBytes = 2048;    // software prefetch distance for F32/F16/BF16 rows

template <class W, int RB, int TB, int NA>
static inline void mm_step(__m512 (&acc)[RB][TB][NA], const uint8_t* const (&wp)[RB],
                           const float* const (&xp)[TB]) {
  __m512 xv[TB][2];
  for (int j = 0; j < TB; ++j) {
    xv[j][0] = _mm512_loadu_ps(xp[j]);
    xv[j][1] = _mm512_loadu_ps(xp[j] + kLanes);
  }
  for (int i = 0; i < RB; ++i) {
    __m512 wv[2];
    W::load(wp[i], wv);
    for (int j = 0; j < TB; ++j) {
      acc[i][j][0] = _mm512_fmadd_ps(wv[0], xv[j][0], acc[i][j][0]);
      acc[i][j][NA - 1] = _mm512_fmadd_ps(wv[1], xv[j][1], acc[i][j][NA - 1]);
    }
  }
}

template <class W, int RB, int TB>
static inline void mm_tile(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
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
  auto flush = [&]() {
    for (int i = 0; i < RB; ++i) {
      for (int j = 0; j < TB; ++j) {
        __m512 s = acc[i][j][0];
        if (NA == 2) s = _mm512_add_ps(s, acc[i][j][NA - 1]);
        outer[i][j] = _mm512_add_ps(outer[i][j], s);
        for (int a = 0; a < NA; ++a) acc[i][j][a] = _mm512_setzero_ps();
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
        // Decode streams the weights from DRAM and the hardware prefetcher alone leaves most of
        // the bandwidth unused with 4 interleaved row streams. Element formats (F32/F16/BF16,
        // long rows) ask for the line kPrefetchBytes ahead in the same row; quantized rows are
        // short (1152 bytes for 2048 Q4_0 columns), so they ask for the same column of the next
        // tile's rows, and only when a step starts a new line (steps are smaller than a line).
        // Prefill tiles re-read rows from L2 and do not need it.
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
      alignas(64) uint8_t wbuf[RB][4 * kStepCols];
      alignas(64) float xbuf[TB][kStepCols];
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

// Rows [r0, r1) x tokens [0, n_tok): blocks of rows whose weights fit in L2 (kTileBytes), then
// tiles of 4 tokens, then 4 rows at a time (8 for a single token; single rows for the remainder).
template <class W>
static inline void mm_run(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
                          const float* x, int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0,
                          int64_t r1) {
  constexpr int RB = 4, TB = 4;
  int64_t rows_per_block = kTileBytes / (w_row_bytes > 0 ? w_row_bytes : 1);
  rows_per_block = rows_per_block < RB ? RB : rows_per_block / RB * RB;
  for (int64_t rb0 = r0; rb0 < r1; rb0 += rows_per_block) {
    const int64_t rb1 = rb0 + rows_per_block < r1 ? rb0 + rows_per_block : r1;
    for (int64_t t = 0; t < n_tok; t += TB) {
      const int64_t tb = n_tok - t < TB ? n_tok - t : TB;
      int64_t r = rb0;
      if (tb == 1) {
        // Decode: 8 rows per tile (16 accumulators + 8 row streams) keep more loads in flight
        // than 4 (measured on the 8B-A1B Q4_0 model: 16.5 -> 19.7 tokens/s with 2 threads).
        for (; r + 8 <= rb1; r += 8) mm_tile<W, 8, 1>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t);
      }
      for (; r + RB <= rb1; r += RB) {
        switch (tb) {
          case 1: mm_tile<W, RB, 1>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
          case 2: mm_tile<W, RB, 2>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
          case 3: mm_tile<W, RB, 3>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
          default: mm_tile<W, RB, 4>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
        }
      }
      for (; r < rb1; ++r) {
        switch (tb) {
          case 1: mm_tile<W, 1, 1>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
          case 2: mm_tile<W, 1, 2>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
          case 3: mm_tile<W, 1, 3>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
          default: mm_tile<W, 1, 4>(y, ldy, w, w_row_bytes, x, ldx, n_cols, r, t); break;
        }
      }
    }
  }
}

}  // namespace
}  // namespace lfm::cpu::avx512
