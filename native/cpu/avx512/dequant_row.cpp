// SPDX-License-Identifier: MIT
// AVX-512: y[i] = dequant(w_row)[i], i < n, for F16, BF16, Q8_0 and Q4_0 (F32 stays with the
// scalar memcpy). Layouts as in ggml_types.h; n a multiple of 32 for Q8_0/Q4_0, any n for
// F16/BF16 (masked tail). No alignment needed. Every conversion is exact, so the result must
// equal scalar::dequant_row_* bit for bit.

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {

void dequant_row_f16(float* y, const uint8_t* w_row, int64_t n) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(w_row);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, h + i)));
  }
}

void dequant_row_bf16(float* y, const uint8_t* w_row, int64_t n) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(w_row);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = first_lanes(n - i);
    const __m512i b = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, h + i));
    _mm512_mask_storeu_ps(y + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(b, 16)));
  }
}

void dequant_row_q8_0(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* p = w_row + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    uint16_t d_bits;
    std::memcpy(&d_bits, p, 2);
    const __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16(static_cast<short>(d_bits)));
    for (int h = 0; h < 2; ++h) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 + 16 * h));
      const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d);
      _mm512_storeu_ps(y + b * kQK8_0 + 16 * h, v);
    }
  }
}

void dequant_row_q4_0(float* y, const uint8_t* w_row, int64_t n) {
  const __m512 levels = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const uint8_t* p = w_row + b * static_cast<int64_t>(sizeof(BlockQ4_0));
    uint16_t d_bits;
    std::memcpy(&d_bits, p, 2);
    const __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16(static_cast<short>(d_bits)));
    const __m512 table = _mm512_mul_ps(levels, d);  // (q - 8) * d for q = 0..15, exact
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2)));
    _mm512_storeu_ps(y + b * kQK4_0, _mm512_permutexvar_ps(idx, table));
    _mm512_storeu_ps(y + b * kQK4_0 + 16, _mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), table));
  }
}

}  // namespace lfm::cpu::avx512
