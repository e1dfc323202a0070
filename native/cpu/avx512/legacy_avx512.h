// SPDX-License-Identifier: MIT
// AVX-512 weight formats of the legacy block types (Q4_1, Q5_0, Q5_1) for mm_run
// (simd_avx512.h) and dequant_row_legacy.cpp. Layouts in ../kernels_legacy.h. Internal linkage
// only (this is included from files compiled with AVX-512 flags).
//
// load() gives the 32 values of one block exactly as ggml's dequantize_row_* computes them
// (w[0] = elements 0..15, w[1] = 16..31) by table lookup: the block's 16 (Q4_1) or 32 (Q5_0,
// Q5_1) possible values are computed once per block ((q - 16) * d is exact; q * d + m is one
// FMA, which rounds once like ggml since q * d is exact) and indexed with vpermps (4-bit index,
// reads only the low 4 bits, so the low nibble needs no mask) or vpermt2ps (5-bit index: bit 4
// picks the second table; bit 4 comes from qh through a lane mask).
#pragma once

#include "../kernels_legacy.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

static inline __m512 broadcast_f16(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return _mm512_cvtph_ps(_mm256_set1_epi16(static_cast<short>(bits)));
}

static inline __m512 levels_0_15() {
  return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// 5-bit indices of a block: low nibbles | bit 4 from qh bits 0..15 (idx[0]) and high nibbles |
// bit 4 from qh bits 16..31 (idx[1]).
static inline void indices5(const uint8_t* qs, uint32_t qh, __m512i idx[2]) {
  const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  const __m512i sixteen = _mm512_set1_epi32(16);
  const __m512i lo = _mm512_and_si512(b, _mm512_set1_epi32(0x0f));
  const __m512i hi = _mm512_srli_epi32(b, 4);
  idx[0] = _mm512_mask_or_epi32(lo, static_cast<__mmask16>(qh & 0xffffu), lo, sixteen);
  idx[1] = _mm512_mask_or_epi32(hi, static_cast<__mmask16>(qh >> 16), hi, sixteen);
}

struct WeightsQ4_1 {
  static constexpr int64_t kStepBytes = kQ4_1Bytes;
  static constexpr int64_t kElemBytes = 0;
  static inline void load(const uint8_t* p, __m512 w[2]) {
    const __m512 table = _mm512_fmadd_ps(levels_0_15(), broadcast_f16(p), broadcast_f16(p + 2));
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4)));
    w[0] = _mm512_permutexvar_ps(idx, table);                        // low nibbles
    w[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), table);  // high nibbles
  }
};

struct WeightsQ5_0 {
  static constexpr int64_t kStepBytes = kQ5_0Bytes;
  static constexpr int64_t kElemBytes = 0;
  static inline void load(const uint8_t* p, __m512 w[2]) {
    const __m512 d = broadcast_f16(p);
    const __m512 l = levels_0_15();
    const __m512 t0 = _mm512_mul_ps(_mm512_sub_ps(l, _mm512_set1_ps(16.0f)), d);  // q = 0..15
    const __m512 t1 = _mm512_mul_ps(l, d);                                        // q = 16..31
    uint32_t qh;
    std::memcpy(&qh, p + 2, 4);
    __m512i idx[2];
    indices5(p + 6, qh, idx);
    w[0] = _mm512_permutex2var_ps(t0, idx[0], t1);
    w[1] = _mm512_permutex2var_ps(t0, idx[1], t1);
  }
};

struct WeightsQ5_1 {
  static constexpr int64_t kStepBytes = kQ5_1Bytes;
  static constexpr int64_t kElemBytes = 0;
  static inline void load(const uint8_t* p, __m512 w[2]) {
    const __m512 d = broadcast_f16(p), m = broadcast_f16(p + 2);
    const __m512 l = levels_0_15();
    const __m512 t0 = _mm512_fmadd_ps(l, d, m);                                       // q = 0..15
    const __m512 t1 = _mm512_fmadd_ps(_mm512_add_ps(l, _mm512_set1_ps(16.0f)), d, m);  // 16..31
    uint32_t qh;
    std::memcpy(&qh, p + 4, 4);
    __m512i idx[2];
    indices5(p + 8, qh, idx);
    w[0] = _mm512_permutex2var_ps(t0, idx[0], t1);
    w[1] = _mm512_permutex2var_ps(t0, idx[1], t1);
  }
};

}  // namespace
}  // namespace lfm::cpu::avx512
