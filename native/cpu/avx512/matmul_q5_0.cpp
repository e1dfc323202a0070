// SPDX-License-Identifier: MIT
// AVX-512: y[t*ldy + r] = sum_c w[r,c] * x[t*ldx + c], Q5_0 weights, rows [r0, r1).
// Layout in ../kernels_legacy.h; n_cols a multiple of 32; no alignment. Each block is
// dequantized exactly into registers by table lookup (legacy_avx512.h) and run through the
// shared tiling of simd_avx512.h. Must match scalar::matmul_q5_0 within the f32-accumulation
// tolerance (test/kernels).

#include "../kernel_sets.h"
#include "legacy_avx512.h"

namespace lfm::cpu::avx512 {

void matmul_q5_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsQ5_0>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx512
