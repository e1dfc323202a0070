// SPDX-License-Identifier: MIT
// Scalar reference: y[t*ldy + r] = sum_c d_b * (q[r,c] - 8) * x[t*ldx + c], Q4_0 weights.
// Layout: W row-major, row r at w + r*w_row_bytes, n_cols/32 blocks of 18 bytes (f16 scale d,
// then 16 bytes: element j < 16 in the low nibble of qs[j], element j+16 in the high nibble).
// Tails: n_cols must be a multiple of 32; no alignment needed. Block sums in double (exact
// products), scaled and summed in double: the exact result rounded once to f32. Matches ggml's
// dequantize_row_q4_0 values.

#include <cstring>

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void matmul_q4_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  const int64_t n_blocks = n_cols / kQK4_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w + r * w_row_bytes;  // [n_blocks] x 18 bytes
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * ldx;  // [n_cols]
      double acc = 0.0;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* blk = wr + b * static_cast<int64_t>(sizeof(BlockQ4_0));
        uint16_t d_bits;
        std::memcpy(&d_bits, blk, 2);
        const uint8_t* qs = blk + 2;
        const float* xb = xt + b * kQK4_0;
        double block_sum = 0.0;
        for (int j = 0; j < kQK4_0 / 2; ++j) {
          block_sum += static_cast<double>((qs[j] & 0x0f) - 8) * xb[j];
          block_sum += static_cast<double>((qs[j] >> 4) - 8) * xb[j + kQK4_0 / 2];
        }
        acc += static_cast<double>(fp16_to_fp32(d_bits)) * block_sum;
      }
      y[t * ldy + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace lfm::cpu::scalar
