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

// Eight nibbles (in the low 4 bits of 32-bit lanes) to the floats q - 8, exactly and without a
// shuffle or an int->float conversion: 0x4B000000 | q is the float 2^23 + q, and subtracting
// 2^23 + 8 is exact. One vpmovzxbd expands 8 bytes for both of their nibbles.
static inline __m256 nibbles_to_f32(__m256i q) {
  const __m256 v = _mm256_castsi256_ps(_mm256_or_si256(q, _mm256_set1_epi32(0x4B000000)));
  return _mm256_sub_ps(v, _mm256_set1_ps(8388616.0f));
}

struct WeightsQ4_0 {
  static constexpr int64_t kStepBytes = 18;
  static constexpr int64_t kElemBytes = 0;
  static constexpr bool kScaleAfter = true;
  // w = the block's 32 values q - 8 (unscaled); returns d on every lane.
  static inline __m256 load(const uint8_t* p, __m256 w[4]) {
    uint16_t d_bits;
    std::memcpy(&d_bits, p, 2);
    const __m256i lo4 = _mm256_set1_epi32(0x0f);
    const __m256i b0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 2)));
    const __m256i b1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 10)));
    w[0] = nibbles_to_f32(_mm256_and_si256(b0, lo4));  // elements 0..7
    w[1] = nibbles_to_f32(_mm256_and_si256(b1, lo4));  // 8..15
    w[2] = nibbles_to_f32(_mm256_srli_epi32(b0, 4));   // 16..23
    w[3] = nibbles_to_f32(_mm256_srli_epi32(b1, 4));   // 24..31
    return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(d_bits)));
  }
};

}  // namespace

void matmul_q4_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsQ4_0>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx2
