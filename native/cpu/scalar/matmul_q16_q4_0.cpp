// SPDX-License-Identifier: MIT
// Scalar reference of the integer path: y[t*ldy + r] = sum_b d_b * (da_b * dot_b - 8 * sx_b),
// Q4_0 weights (layout: matmul_q4_0.cpp) against Q16 activations (dispatch.h, QuantActs):
// dot_b = sum_j q_j * (256*hi_j + lo_j) is exact in integers, da_b is the activation block's
// scale and sx_b the sum of the block's rounded activations (the zero point 8 multiplies
// it). The only rounding besides the activations' is the f32 sum over blocks.

#include <cstring>

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void matmul_q16_q4_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                     int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  const int64_t n_blocks = n_cols / kQK4_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w + r * w_row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      const QuantActsRow a(x, t);
      float acc = 0.0f;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* blk = wr + b * static_cast<int64_t>(sizeof(BlockQ4_0));
        uint16_t d_bits;
        std::memcpy(&d_bits, blk, 2);
        const uint8_t* qs = blk + 2;
        int32_t dot = 0;
        for (int j = 0; j < 16; ++j) {
          const int64_t c = b * 32 + j;
          dot += (qs[j] & 0x0f) * a.q(c);
          dot += (qs[j] >> 4) * a.q(c + 16);
        }
        const float sx = a.sum16[2 * b] + a.sum16[2 * b + 1];
        acc += fp16_to_fp32(d_bits) * (a.d[b] * static_cast<float>(dot) - 8.0f * sx);
      }
      y[t * ldy + r] = acc;
    }
  }
}

}  // namespace lfm::cpu::scalar
