// SPDX-License-Identifier: MIT
// AVX-512: y[i] = dequant(w_row)[i], i < n, Q6_K (layout in ../kernels_q6_k.h); n a multiple of
// 256. Per 32 elements: int8 q - 32 assembled from ql/qh, widened to f32 and multiplied by
// d * scale; exact, so it matches scalar::dequant_row_q6_k bit for bit.

#include "../kernel_sets.h"
#include "q6_k_avx512.h"

namespace lfm::cpu::avx512 {

void dequant_row_q6_k(float* y, const uint8_t* w_row, int64_t n) { kq_dequant_row<WeightsQ6K>(y, w_row, n); }

}  // namespace lfm::cpu::avx512
