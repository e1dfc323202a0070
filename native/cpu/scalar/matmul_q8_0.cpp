// SPDX-License-Identifier: MIT
// Scalar reference: y[t*ldy + r] = sum_c d_b * q[r,c] * x[t*ldx + c], Q8_0 weights, rows [r0, r1).
// Layout: W row-major, row r at w + r*w_row_bytes, n_cols/32 blocks of 34 bytes
// (f16 scale d, then 32 int8 q). Tails: n_cols must be a multiple of 32; no alignment needed.
// Each block sum is taken in double (q*x is exact there), scaled by d and summed in double:
// the exact result rounded once to f32. Matches ggml's dequantize_row_q8_0 values.

#include <cstring>

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void matmul_q8_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  const int64_t n_blocks = n_cols / kQK8_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w + r * w_row_bytes;  // [n_blocks] x 34 bytes
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * ldx;  // [n_cols]
      double acc = 0.0;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* blk = wr + b * static_cast<int64_t>(sizeof(BlockQ8_0));
        uint16_t d_bits;
        std::memcpy(&d_bits, blk, 2);
        const int8_t* qs = reinterpret_cast<const int8_t*>(blk + 2);
        const float* xb = xt + b * kQK8_0;
        double block_sum = 0.0;
        for (int j = 0; j < kQK8_0; ++j) block_sum += static_cast<double>(qs[j]) * xb[j];
        acc += static_cast<double>(fp16_to_fp32(d_bits)) * block_sum;
      }
      y[t * ldy + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace lfm::cpu::scalar
