// SPDX-License-Identifier: MIT
// Scalar reference: y[t*ldy + r] = sum_c f16(W[r,c]) * x[t*ldx + c], rows [r0, r1).
// Layout: W row-major, row r at w + r*w_row_bytes, n_cols IEEE half values (2-byte aligned).
// Tails: none needed (any n_cols). Half -> float is exact and products/sums are taken in
// double, so this is the exact result rounded once to f32.

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void matmul_f16(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint16_t* wr = reinterpret_cast<const uint16_t*>(w + r * w_row_bytes);  // [n_cols]
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * ldx;  // [n_cols]
      double acc = 0.0;
      for (int64_t c = 0; c < n_cols; ++c) acc += static_cast<double>(fp16_to_fp32(wr[c])) * xt[c];
      y[t * ldy + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace lfm::cpu::scalar
