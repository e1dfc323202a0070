// SPDX-License-Identifier: MIT
// AVX2: y[t*ldy + r] = sum_c bf16(W[r,c]) * x[t*ldx + c], BF16 weights, rows [r0, r1).
// Layout: row r at w + r*w_row_bytes, n_cols bfloat16 values. Any n_cols (zero-padded last
// step); no alignment needed. bf16 -> f32 is a 16-bit shift (exact). Must match
// scalar::matmul_bf16 within the f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {
namespace {

struct WeightsBF16 {
  static constexpr int64_t kStepBytes = 64;
  static constexpr bool kScaleAfter = false;
  static constexpr int64_t kElemBytes = 2;
  static inline void load(const uint8_t* p, __m256 w[4]) {
    for (int v = 0; v < 4; ++v) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * v));
      w[v] = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
  }
};

}  // namespace

void matmul_bf16(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsBF16>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx2
