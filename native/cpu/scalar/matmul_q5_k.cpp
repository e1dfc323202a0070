// SPDX-License-Identifier: MIT
// Scalar reference: y[t*ldy + r] = sum_c W[r,c] * x[t*ldx + c], Q5_K weights, rows [r0, r1).
// Each row is dequantized exactly (dequant_row_q5_k, ggml's values) into a buffer; the f32
// products are exact in double and summed in double: the exact result rounded once to f32.
// n_cols a multiple of 256; no alignment needed.

#include <vector>

#include "../kernel_sets.h"
#include "../kernels_kquant.h"

namespace lfm::cpu::scalar {

void matmul_q5_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  std::vector<float> row(static_cast<size_t>(n_cols));
  for (int64_t r = r0; r < r1; ++r) {
    dequant_row_q5_k(row.data(), w + r * w_row_bytes, n_cols);
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * ldx;
      double acc = 0.0;
      for (int64_t c = 0; c < n_cols; ++c) acc += static_cast<double>(row[c]) * xt[c];
      y[t * ldy + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace lfm::cpu::scalar
