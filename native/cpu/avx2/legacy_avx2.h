// SPDX-License-Identifier: MIT
// AVX2 weight formats of the legacy block types (Q4_1, Q5_0, Q5_1) for mm_run (simd_avx2.h)
// and dequant_row_legacy.cpp. Layouts in ../kernels_legacy.h. Internal linkage only (this is
// included from files compiled with AVX2 flags).
//
// load() gives the 32 values of one block, exactly as ggml's dequantize_row_* computes them:
// w[0] = elements 0..7, w[1] = 8..15, w[2] = 16..23, w[3] = 24..31.
// Integers become floats without a conversion: 0x4B000000 | q is the float 2^23 + q, and
// subtracting 2^23 (+ the offset) is exact. Q5_0 returns the unscaled q - 16 and d (kScaleAfter);
// Q4_1 / Q5_1 return q * d + m with one FMA (q * d is exact, so the FMA rounds once like ggml).
#pragma once

#include "../kernels_legacy.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {
namespace {

// Eight small integers in the low bits of 32-bit lanes -> the floats q - offset, exactly.
static inline __m256 small_ints_to_f32(__m256i q, float offset) {
  const __m256 v = _mm256_castsi256_ps(_mm256_or_si256(q, _mm256_set1_epi32(0x4B000000)));
  return _mm256_sub_ps(v, _mm256_set1_ps(8388608.0f + offset));
}

static inline __m256 broadcast_f16(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(bits)));
}

// The 32 quants of a block as 4 x 8 integer lanes (order of w[] above). qs points at the 16
// nibble bytes; with `five`, bit 4 of element j is bit j of qh.
static inline void block_quants(const uint8_t* qs, bool five, uint32_t qh, __m256i q[4]) {
  const __m256i lo4 = _mm256_set1_epi32(0x0f);
  const __m256i b0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs)));
  const __m256i b1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 8)));
  q[0] = _mm256_and_si256(b0, lo4);
  q[1] = _mm256_and_si256(b1, lo4);
  q[2] = _mm256_srli_epi32(b0, 4);
  q[3] = _mm256_srli_epi32(b1, 4);
  if (five) {
    // Lane i of group v needs bit 8v + i of qh, moved to bit 4.
    const __m256i h = _mm256_set1_epi32(static_cast<int>(qh));
    const __m256i shift = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i bit4 = _mm256_set1_epi32(0x10);
    for (int v = 0; v < 4; ++v) {
      const __m256i s = _mm256_srlv_epi32(h, _mm256_add_epi32(shift, _mm256_set1_epi32(8 * v)));
      q[v] = _mm256_or_si256(q[v], _mm256_and_si256(_mm256_slli_epi32(s, 4), bit4));
    }
  }
}

struct WeightsQ4_1 {
  static constexpr int64_t kStepBytes = kQ4_1Bytes;
  static constexpr int64_t kElemBytes = 0;
  static constexpr bool kScaleAfter = false;
  static inline void load(const uint8_t* p, __m256 w[4]) {
    const __m256 d = broadcast_f16(p), m = broadcast_f16(p + 2);
    __m256i q[4];
    block_quants(p + 4, false, 0, q);
    for (int v = 0; v < 4; ++v) w[v] = _mm256_fmadd_ps(small_ints_to_f32(q[v], 0.0f), d, m);
  }
};

struct WeightsQ5_0 {
  static constexpr int64_t kStepBytes = kQ5_0Bytes;
  static constexpr int64_t kElemBytes = 0;
  static constexpr bool kScaleAfter = true;
  // w = the block's 32 values q - 16 (unscaled); returns d on every lane.
  static inline __m256 load(const uint8_t* p, __m256 w[4]) {
    uint32_t qh;
    std::memcpy(&qh, p + 2, 4);
    __m256i q[4];
    block_quants(p + 6, true, qh, q);
    for (int v = 0; v < 4; ++v) w[v] = small_ints_to_f32(q[v], 16.0f);
    return broadcast_f16(p);
  }
};

struct WeightsQ5_1 {
  static constexpr int64_t kStepBytes = kQ5_1Bytes;
  static constexpr int64_t kElemBytes = 0;
  static constexpr bool kScaleAfter = false;
  static inline void load(const uint8_t* p, __m256 w[4]) {
    const __m256 d = broadcast_f16(p), m = broadcast_f16(p + 2);
    uint32_t qh;
    std::memcpy(&qh, p + 4, 4);
    __m256i q[4];
    block_quants(p + 8, true, qh, q);
    for (int v = 0; v < 4; ++v) w[v] = _mm256_fmadd_ps(small_ints_to_f32(q[v], 0.0f), d, m);
  }
};

}  // namespace
}  // namespace lfm::cpu::avx2
