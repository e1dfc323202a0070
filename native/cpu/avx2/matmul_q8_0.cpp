// SPDX-License-Identifier: MIT
// AVX2: y[t*ldy + r] = sum_c d_b * q[r,c] * x[t*ldx + c], Q8_0 weights, rows [r0, r1).
// Layout: row r at w + r*w_row_bytes, n_cols/32 blocks of 34 bytes (f16 d, 32 int8).
// n_cols a multiple of 32; no alignment. q converts exactly to f32; each token's block dot
// product is scaled by d with one FMA; activations stay f32. Must match scalar::matmul_q8_0 within the
// f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {
namespace {

static inline __m256 i8x8_to_f32(const uint8_t* p) {
  const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}

struct WeightsQ8_0 {
  static constexpr int64_t kStepBytes = 34;
  static constexpr int64_t kElemBytes = 0;
  static constexpr bool kScaleAfter = true;
  // w = the block's 32 int8 values (unscaled); returns d on every lane.
  static inline __m256 load(const uint8_t* p, __m256 w[4]) {
    uint16_t d_bits;
    std::memcpy(&d_bits, p, 2);
    for (int v = 0; v < 4; ++v) w[v] = i8x8_to_f32(p + 2 + 8 * v);
    return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(d_bits)));
  }
};

}  // namespace

void matmul_q8_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsQ8_0>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx2
