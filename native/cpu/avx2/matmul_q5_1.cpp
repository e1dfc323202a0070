// SPDX-License-Identifier: MIT
// AVX2: y[t*ldy + r] = sum_c w[r,c] * x[t*ldx + c], Q5_1 weights, rows [r0, r1), with
// w[r,c] = q * d + m (one FMA per element, as ggml's float32 value).
// Layout in ../kernels_legacy.h; n_cols a multiple of 32; no alignment. The block is
// dequantized exactly into registers (legacy_avx2.h) and run through the shared tiling of
// simd_avx2.h. Must match scalar::matmul_q5_1 within the f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "legacy_avx2.h"

namespace lfm::cpu::avx2 {

void matmul_q5_1(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsQ5_1>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx2
