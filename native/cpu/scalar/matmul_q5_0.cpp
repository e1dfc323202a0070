// SPDX-License-Identifier: MIT
// Scalar reference: y[t*ldy + r] = sum_c d_b * (q[r,c] - 16) * x[t*ldx + c], Q5_0 weights.
// Layout (kernels_legacy.h): row r at w + r*w_row_bytes, n_cols/32 blocks of 22 bytes (f16 d,
// u32 qh little-endian, 16 bytes of nibbles; bit 4 of element j is bit j of qh).
// Block sums of (q - 16) * x are exact products summed in double, scaled by d and summed in
// double: the exact result rounded once to f32. n_cols a multiple of 32; no alignment needed.
// Matches ggml's dequantize_row_q5_0 values.

#include <cstring>

#include "../kernel_sets.h"
#include "../kernels_legacy.h"

namespace lfm::cpu::scalar {

void matmul_q5_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  const int64_t n_blocks = n_cols / kQKLegacy;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w + r * w_row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * ldx;
      double acc = 0.0;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* blk = wr + b * kQ5_0Bytes;
        uint16_t d_bits;
        uint32_t qh;
        std::memcpy(&d_bits, blk, 2);
        std::memcpy(&qh, blk + 2, 4);
        const uint8_t* qs = blk + 6;
        const float* xb = xt + b * kQKLegacy;
        double block_sum = 0.0;
        for (int j = 0; j < kQKLegacy / 2; ++j) {
          const int q0 = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
          const int q1 = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
          block_sum += static_cast<double>(q0 - 16) * xb[j];
          block_sum += static_cast<double>(q1 - 16) * xb[j + kQKLegacy / 2];
        }
        acc += static_cast<double>(fp16_to_fp32(d_bits)) * block_sum;
      }
      y[t * ldy + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace lfm::cpu::scalar
