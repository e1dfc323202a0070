// SPDX-License-Identifier: MIT
// AVX2: y[i] = dequant(w_row)[i], i < n, for F16, BF16, Q8_0 and Q4_0 (F32 stays with the
// scalar memcpy). Layouts as in ggml_types.h; n a multiple of 32 for Q8_0/Q4_0, any n for
// F16/BF16 (scalar tail). No alignment needed. Every conversion is exact, so the result must
// equal scalar::dequant_row_* bit for bit.

#include "../kernel_sets.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {

void dequant_row_f16(float* y, const uint8_t* w_row, int64_t n) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(w_row);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  }
  for (; i < n; ++i) y[i] = _cvtsh_ss(h[i]);
}

void dequant_row_bf16(float* y, const uint8_t* w_row, int64_t n) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(w_row);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m256i b = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i)));
    _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(b, 16)));
  }
  for (; i < n; ++i) y[i] = bf16_to_fp32(h[i]);
}

void dequant_row_q8_0(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* p = w_row + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    uint16_t d_bits;
    std::memcpy(&d_bits, p, 2);
    const __m256 d = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(d_bits)));
    for (int v = 0; v < 4; ++v) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 2 + 8 * v));
      _mm256_storeu_ps(y + b * kQK8_0 + 8 * v,
                       _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
    }
  }
}

void dequant_row_q4_0(float* y, const uint8_t* w_row, int64_t n) {
  const __m128i nib = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const uint8_t* p = w_row + b * static_cast<int64_t>(sizeof(BlockQ4_0));
    uint16_t d_bits;
    std::memcpy(&d_bits, p, 2);
    const __m256 d = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(d_bits)));
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(q, nib), eight);                     // 0..15
    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), nib), eight);  // 16..31
    const __m128i parts[4] = {lo, _mm_unpackhi_epi64(lo, lo), hi, _mm_unpackhi_epi64(hi, hi)};
    for (int v = 0; v < 4; ++v) {
      _mm256_storeu_ps(y + b * kQK4_0 + 8 * v,
                       _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[v])), d));
    }
  }
}

}  // namespace lfm::cpu::avx2
