// SPDX-License-Identifier: MIT
// Scalar reference: y[t*ldy + r] = sum_c w[r,c] * x[t*ldx + c], Q4_1 weights, rows [r0, r1).
// Layout (kernels_legacy.h): row r at w + r*w_row_bytes, n_cols/32 blocks of 20 bytes (f16 d,
// f16 m, 16 bytes of nibbles: element j < 16 low nibble of qs[j], j+16 high nibble).
// w[r,c] = q * d + m in float32 (ggml's dequantize_row_q4_1 value: q * d is exact, the sum is
// rounded once). Products with x are exact in double and summed in double: the exact result
// rounded once to f32 (up to the double sum's own rounding). n_cols a multiple of 32.

#include <cstring>

#include "../kernel_sets.h"
#include "../kernels_legacy.h"

namespace lfm::cpu::scalar {

void matmul_q4_1(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  const int64_t n_blocks = n_cols / kQKLegacy;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w + r * w_row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * ldx;
      double acc = 0.0;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* blk = wr + b * kQ4_1Bytes;
        uint16_t d_bits, m_bits;
        std::memcpy(&d_bits, blk, 2);
        std::memcpy(&m_bits, blk + 2, 2);
        const float d = fp16_to_fp32(d_bits), m = fp16_to_fp32(m_bits);
        const uint8_t* qs = blk + 4;
        const float* xb = xt + b * kQKLegacy;
        for (int j = 0; j < kQKLegacy / 2; ++j) {
          const float w0 = static_cast<float>(qs[j] & 0x0f) * d + m;
          const float w1 = static_cast<float>(qs[j] >> 4) * d + m;
          acc += static_cast<double>(w0) * xb[j];
          acc += static_cast<double>(w1) * xb[j + kQKLegacy / 2];
        }
      }
      y[t * ldy + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace lfm::cpu::scalar
