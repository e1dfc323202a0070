// SPDX-License-Identifier: MIT
// AVX2: y[i] = dequant(w_row)[i], i < n, for Q4_1, Q5_0 and Q5_1 (layouts in
// ../kernels_legacy.h), with the block loaders of legacy_avx2.h. n a multiple of 32; no
// alignment. Every value is computed exactly as scalar::dequant_row_* ((q - 16) * d exact,
// q * d + m one rounding), so the rows must match bit for bit.

#include "../kernel_sets.h"
#include "legacy_avx2.h"

namespace lfm::cpu::avx2 {

void dequant_row_q4_1(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQKLegacy; ++b) {
    __m256 w[4];
    WeightsQ4_1::load(w_row + b * kQ4_1Bytes, w);
    for (int v = 0; v < 4; ++v) _mm256_storeu_ps(y + b * kQKLegacy + 8 * v, w[v]);
  }
}

void dequant_row_q5_0(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQKLegacy; ++b) {
    __m256 w[4];
    const __m256 d = WeightsQ5_0::load(w_row + b * kQ5_0Bytes, w);
    for (int v = 0; v < 4; ++v) _mm256_storeu_ps(y + b * kQKLegacy + 8 * v, _mm256_mul_ps(w[v], d));
  }
}

void dequant_row_q5_1(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQKLegacy; ++b) {
    __m256 w[4];
    WeightsQ5_1::load(w_row + b * kQ5_1Bytes, w);
    for (int v = 0; v < 4; ++v) _mm256_storeu_ps(y + b * kQKLegacy + 8 * v, w[v]);
  }
}

}  // namespace lfm::cpu::avx2
