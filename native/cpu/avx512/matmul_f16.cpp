// SPDX-License-Identifier: MIT
// AVX-512: y[t*ldy + r] = sum_c f16(W[r,c]) * x[t*ldx + c], F16 weights, rows [r0, r1).
// Layout: row r at w + r*w_row_bytes, n_cols IEEE halves. Any n_cols (zero-padded last step);
// no alignment needed. vcvtph2ps is exact. Must match scalar::matmul_f16 within the
// f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

struct WeightsF16 {
  static constexpr int64_t kStepBytes = 64;
  static constexpr int64_t kElemBytes = 2;
  static inline void load(const uint8_t* p, __m512 w[2]) {
    w[0] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    w[1] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)));
  }
};

}  // namespace

void matmul_f16(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsF16>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx512
