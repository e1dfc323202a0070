// SPDX-License-Identifier: MIT
// AVX-512: y[i] = dequant(w_row)[i], i < n, Q6_K (layout in ../kernels_q6_k.h); n a multiple of
// 256. Per 32 elements: int8 q - 32 assembled from ql/qh, widened to f32 and multiplied by
// d * scale; exact, so it matches scalar::dequant_row_q6_k bit for bit.

#include "../kernel_sets.h"
#include "../kernels_q6_k.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {

void dequant_row_q6_k(float* y, const uint8_t* w_row, int64_t n) {
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m256i m3 = _mm256_set1_epi8(0x03);
  const __m256i k32 = _mm256_set1_epi8(32);
  for (int64_t b = 0; b < n / kQK_K6; ++b) {
    const uint8_t* blk = w_row + b * kQ6KBlockBytes;
    uint16_t d_bits;
    std::memcpy(&d_bits, blk + 208, 2);
    const float d = fp16_to_fp32(d_bits);
    for (int h = 0; h < 2; ++h) {
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32));
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
      const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192 + 8 * h);
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4));
      float* yh = y + b * kQK_K6 + 128 * h;
      for (int g = 0; g < 4; ++g) {
        const __m256i qs = _mm256_sub_epi8(q[g], k32);
        const __m512 v0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(qs)));
        const __m512 v1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(qs, 1)));
        _mm512_storeu_ps(yh + 32 * g, _mm512_mul_ps(v0, _mm512_set1_ps(d * static_cast<float>(sc[2 * g]))));
        _mm512_storeu_ps(yh + 32 * g + 16, _mm512_mul_ps(v1, _mm512_set1_ps(d * static_cast<float>(sc[2 * g + 1]))));
      }
    }
  }
}

}  // namespace lfm::cpu::avx512
