// SPDX-License-Identifier: MIT
// AVX-512 Q6_K weight struct for the K-quant tile driver (kquant_avx512.h), used by
// matmul_q6_k.cpp and dequant_row_q6_k.cpp of this folder only. Internal linkage only.
#pragma once

#include "../kernels_q6_k.h"
#include "kquant_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

// The 32 quants of group g (0..3) of a half (ql, qh at the half's start), as int8 q - 32.
static inline __m256i q6k_group_bytes(const uint8_t* ql, const uint8_t* qh, int g) {
  const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32 * (g & 1)));
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
  const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(l, _mm_cvtsi32_si128(4 * (g >> 1))),
                                      _mm256_set1_epi8(0x0f));
  const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * g)),
                                      _mm256_set1_epi8(0x03));
  return _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)), _mm256_set1_epi8(32));
}

// Step s (32 columns) is group g = s % 4 of half h = s / 4; its two 16-column halves have the
// scales sc[2g] and sc[2g + 1] of that half.
struct WeightsQ6K {
  static constexpr int64_t kBlockBytes = kQ6KBlockBytes;
  // dm[s] / dm[8 + s] = d * scale of the first / second 16 columns of step s (exact products).
  static inline void scales(const uint8_t* blk, float dm[16]) {
    uint16_t d_bits;
    std::memcpy(&d_bits, blk + 208, 2);
    const float d = fp16_to_fp32(d_bits);
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
    for (int s = 0; s < 8; ++s) {
      dm[s] = d * static_cast<float>(sc[8 * (s >> 2) + 2 * (s & 3)]);
      dm[8 + s] = d * static_cast<float>(sc[8 * (s >> 2) + 2 * (s & 3) + 1]);
    }
  }
  static inline void load(const uint8_t* blk, int s, float a, float b, __m512 w[2]) {
    const int h = s >> 2;
    const __m256i q = q6k_group_bytes(blk + 64 * h, blk + 128 + 32 * h, s & 3);
    w[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q))), _mm512_set1_ps(a));
    w[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1))), _mm512_set1_ps(b));
  }
};

}  // namespace
}  // namespace lfm::cpu::avx512
