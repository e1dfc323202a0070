// SPDX-License-Identifier: MIT
// AVX-512: y[t*ldy + r] = sum_c W[r,c] * x[t*ldx + c], Q6_K weights (layout in
// ../kernels_q6_k.h), rows [r0, r1), tokens [0, n_tok). n_cols a multiple of 256; no alignment.
// A super-block is walked in 8 steps of 32 columns (2 halves x 4 groups); each step's quants are
// assembled as int8 q - 32 from 32 bytes of ql and 32 of qh, widened to f32 and multiplied by
// d * scale (exact: see ../kernels_q6_k.h), so every weight is the exact f32 value. The tiling
// is the K-quant tile driver of kquant_avx512.h (kq_run), with the Q6_K weight struct below.
// Must match scalar::matmul_q6_k within the f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "q6_k_avx512.h"

namespace lfm::cpu::avx512 {

void matmul_q6_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  kq_run<WeightsQ6K>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx512
