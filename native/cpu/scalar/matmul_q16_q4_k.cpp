// SPDX-License-Identifier: MIT
// Scalar reference of the integer path, Q4_K weights (layout: ../kernels_kquant.h) against Q16
// activations (dispatch.h, QuantActs): per 32-column sub-block j of a super-block, which is one
// activation block b,
//   y[t*ldy + r] += (d*sc_j) * (da_b * dot_b) - (dmin*m_j) * sx_b,
// dot_b = sum_l q_l * (256*hi_l + lo_l) (q 0..15, unsigned) exact in integers (at most
// 32 * 15 * 32512 < 2^24, so also exact as f32), da_b the activation block's scale and sx_b the
// sum of its 32 rounded activations (two sum16 halves; the minimum multiplies it).
// With 8-bit activations (x.lo == nullptr, dispatch.h) the activation integer is hi alone.
// d*sc_j and dmin*m_j are exact f32 products, as in the dequantization. The only rounding
// besides the activations' is the f32 arithmetic of each term and of the sum over blocks.
// n_cols a multiple of 256.

#include <cstring>

#include "../kernel_sets.h"
#include "../kernels_kquant.h"

namespace lfm::cpu::scalar {

void matmul_q16_q4_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                     int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  const int64_t n_sb = n_cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w + r * w_row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      const QuantActsRow a(x, t);
      const float* da = a.d;
      const float* s16 = a.sum16;
      float acc = 0.0f;
      for (int64_t sb = 0; sb < n_sb; ++sb) {
        const uint8_t* blk = wr + sb * kBlockQ4KBytes;
        float sc[8], mn[8];
        kquant_block_scales(blk, sc, mn);
        for (int j = 0; j < 8; ++j) {
          const uint8_t* q = blk + 16 + 32 * (j / 2);
          const int shift = 4 * (j & 1);
          const int64_t b = sb * 8 + j;
          int32_t dot = 0;
          for (int l = 0; l < 32; ++l) {
            const int64_t c = b * 32 + l;
            dot += ((q[l] >> shift) & 0x0f) * a.q(c);
          }
          const float sx = s16[2 * b] + s16[2 * b + 1];
          acc += sc[j] * (da[b] * static_cast<float>(dot)) - mn[j] * sx;
        }
      }
      y[t * ldy + r] = acc;
    }
  }
}

}  // namespace lfm::cpu::scalar
