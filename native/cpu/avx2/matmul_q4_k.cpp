// SPDX-License-Identifier: MIT
// AVX2: y[t*ldy + r] = sum_c W[r,c] * x[t*ldx + c], Q4_K weights, rows [r0, r1).
// Layout in ../kernels_kquant.h; n_cols a multiple of 256; no alignment needed. Weights are
// dequantized exactly (ggml's values) with one FMA per 8 (kquant_avx2.h).
// Must match scalar::matmul_q4_k within the f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "kquant_avx2.h"

namespace lfm::cpu::avx2 {

void matmul_q4_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  kq_run<WeightsQ4K>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx2
