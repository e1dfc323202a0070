// SPDX-License-Identifier: MIT
// AVX2: y[t*ldy + r] = sum_c d_b * (q[r,c] - 8) * x[t*ldx + c], Q4_0 weights, rows [r0, r1).
// Layout: row r at w + r*w_row_bytes, n_cols/32 blocks of 18 bytes (f16 d; element j < 16 in
// the low nibble of qs[j], j+16 in the high nibble). n_cols a multiple of 32; no alignment.
// q - 8 is converted exactly to f32; each token's block dot product is scaled by d with one FMA.
// Must match scalar::matmul_q4_0 within the f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {
namespace {

static inline __m256 i8x8_to_f32(__m128i q) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)); }

struct WeightsQ4_0 {
  static constexpr int64_t kStepBytes = 18;
  static constexpr int64_t kElemBytes = 0;
  static constexpr bool kScaleAfter = true;
  // w = the block's 32 values q - 8 (unscaled); returns d on every lane.
  static inline __m256 load(const uint8_t* p, __m256 w[4]) {
    uint16_t d_bits;
    std::memcpy(&d_bits, p, 2);
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
    const __m128i nib = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(q, nib), eight);                     // elements 0..15
    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), nib), eight);  // 16..31
    w[0] = i8x8_to_f32(lo);
    w[1] = i8x8_to_f32(_mm_unpackhi_epi64(lo, lo));
    w[2] = i8x8_to_f32(hi);
    w[3] = i8x8_to_f32(_mm_unpackhi_epi64(hi, hi));
    return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(d_bits)));
  }
};

}  // namespace

void matmul_q4_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsQ4_0>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx2
