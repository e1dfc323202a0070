// SPDX-License-Identifier: MIT
// AVX-512: y[i] = dequant(w_row)[i], i < n, for Q4_1, Q5_0 and Q5_1 (layouts in
// ../kernels_legacy.h), with the block loaders of legacy_avx512.h. n a multiple of 32; no
// alignment. Every value is computed exactly as scalar::dequant_row_*, so the rows must match
// bit for bit.

#include "../kernel_sets.h"
#include "legacy_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

template <class W>
static inline void dequant_blocks(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQKLegacy; ++b) {
    __m512 w[2];
    W::load(w_row + b * W::kStepBytes, w);
    _mm512_storeu_ps(y + b * kQKLegacy, w[0]);
    _mm512_storeu_ps(y + b * kQKLegacy + 16, w[1]);
  }
}

}  // namespace

void dequant_row_q4_1(float* y, const uint8_t* w_row, int64_t n) { dequant_blocks<WeightsQ4_1>(y, w_row, n); }
void dequant_row_q5_0(float* y, const uint8_t* w_row, int64_t n) { dequant_blocks<WeightsQ5_0>(y, w_row, n); }
void dequant_row_q5_1(float* y, const uint8_t* w_row, int64_t n) { dequant_blocks<WeightsQ5_1>(y, w_row, n); }

}  // namespace lfm::cpu::avx512
