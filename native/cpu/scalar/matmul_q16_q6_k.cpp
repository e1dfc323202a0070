// SPDX-License-Identifier: MIT
// Scalar reference of the integer path, Q6_K weights (layout: ../kernels_q6_k.h) against Q16
// activations (dispatch.h, QuantActs): per 16-column sub-block s (scale sc_s) of a super-block,
// in activation block b = s/2 of 32 columns,
//   y[t*ldy + r] += (d*sc_s) * (da_b * dot_s - 32 * sx_s),
// dot_s = sum_l q_l * (256*hi_l + lo_l) over the 16 columns with the unsigned quants q (0..63),
// exact in integers (|dot_s| <= 16 * 63 * 32512 < 2^25: its conversion to f32 may round once),
// da_b the activation block's scale and sx_s the sum of the 16 rounded activations
// (sum16; the zero point 32 multiplies it). d*sc_s is an exact f32 product. Otherwise only the
// f32 arithmetic of each term and of the sum over sub-blocks rounds. n_cols a multiple of 256.
// With 8-bit activations (x.lo == nullptr, dispatch.h) the activation integer is hi alone.

#include <cstring>

#include "../kernel_sets.h"
#include "../kernels_q6_k.h"

namespace lfm::cpu::scalar {

void matmul_q16_q6_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                     int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  const int64_t n_sb = n_cols / kQK_K6;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w + r * w_row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      const QuantActsRow a(x, t);
      const float* da = a.d;
      const float* s16 = a.sum16;
      float acc = 0.0f;
      for (int64_t sb = 0; sb < n_sb; ++sb) {
        const uint8_t* blk = wr + sb * kQ6KBlockBytes;
        uint16_t d_bits;
        std::memcpy(&d_bits, blk + 208, 2);
        const float d = fp16_to_fp32(d_bits);
        const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
        for (int s = 0; s < 16; ++s) {
          // Sub-block s: half h = s/8, group g = (s%8)/2 of the half, elements l0..l0+15 of it.
          const int h = s / 8, g = (s % 8) / 2, l0 = 16 * (s % 2);
          const uint8_t* ql = blk + 64 * h + 32 * (g & 1);
          const uint8_t* qh = blk + 128 + 32 * h;
          const int64_t c0 = sb * kQK_K6 + 16 * s;
          int32_t dot = 0;
          for (int l = l0; l < l0 + 16; ++l) {
            const int q = ((ql[l] >> (4 * (g >> 1))) & 0x0f) | (((qh[l] >> (2 * g)) & 3) << 4);
            const int64_t c = c0 + l - l0;
            dot += q * a.q(c);
          }
          const int64_t b = c0 / 32;
          const float d1 = d * static_cast<float>(sc[s]);
          acc += d1 * (da[b] * static_cast<float>(dot) - 32.0f * s16[c0 / 16]);
        }
      }
      y[t * ldy + r] = acc;
    }
  }
}

}  // namespace lfm::cpu::scalar
