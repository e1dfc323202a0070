// SPDX-License-Identifier: MIT
// AVX2: y[i] = dequant(w_row)[i], i < n (n a multiple of 256), Q4_K and Q5_K. Exact, so equal
// bit for bit to scalar::dequant_row_q4_k / q5_k (ggml's values).

#include "../kernel_sets.h"
#include "kquant_avx2.h"

namespace lfm::cpu::avx2 {

void dequant_row_q4_k(float* y, const uint8_t* w_row, int64_t n) { kq_dequant_row<WeightsQ4K>(y, w_row, n); }

void dequant_row_q5_k(float* y, const uint8_t* w_row, int64_t n) { kq_dequant_row<WeightsQ5K>(y, w_row, n); }

}  // namespace lfm::cpu::avx2
