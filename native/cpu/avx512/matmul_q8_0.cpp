// SPDX-License-Identifier: MIT
// AVX-512: y[t*ldy + r] = sum_c d_b * q[r,c] * x[t*ldx + c], Q8_0 weights, rows [r0, r1).
// Layout: row r at w + r*w_row_bytes, n_cols/32 blocks of 34 bytes (f16 d, 32 int8).
// n_cols a multiple of 32; no alignment. Dequantization is exact (8-bit times 11-bit
// significands), activations stay f32. Must match scalar::matmul_q8_0 within the
// f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

struct WeightsQ8_0 {
  static constexpr int64_t kStepBytes = 34;
  static constexpr int64_t kElemBytes = 0;
  static inline void load(const uint8_t* p, __m512 w[2]) {
    uint16_t d_bits;
    std::memcpy(&d_bits, p, 2);
    const __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16(static_cast<short>(d_bits)));
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
    const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 18));
    w[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d);
    w[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d);
  }
};

}  // namespace

void matmul_q8_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsQ8_0>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx512
