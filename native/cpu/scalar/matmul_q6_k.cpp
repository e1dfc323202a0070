// SPDX-License-Identifier: MIT
// Scalar reference: y[t*ldy + r] = sum_c W[r,c] * x[t*ldx + c], Q6_K weights (layout in
// ../kernels_q6_k.h), rows [r0, r1), tokens [0, n_tok). n_cols a multiple of 256; no alignment.
// Per 16-element sub-block the sum of (q - 32) * x is taken in double (exact products), scaled
// by the integer sub-block scale, summed over the super-block, scaled by d and accumulated in
// double: the exact result rounded once to f32 (up to the double sums' rounding).

#include <cstring>

#include "../kernel_sets.h"
#include "../kernels_q6_k.h"

namespace lfm::cpu::scalar {

void matmul_q6_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  const int64_t n_blocks = n_cols / kQK_K6;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w + r * w_row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * ldx;
      double acc = 0.0;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* blk = wr + b * kQ6KBlockBytes;
        uint16_t d_bits;
        std::memcpy(&d_bits, blk + 208, 2);
        const int8_t* scales = reinterpret_cast<const int8_t*>(blk + 192);
        const float* xb = xt + b * kQK_K6;
        double block_sum = 0.0;
        for (int h = 0; h < 2; ++h) {
          const uint8_t* ql = blk + 64 * h;
          const uint8_t* qh = blk + 128 + 32 * h;
          for (int g = 0; g < 4; ++g) {
            const uint8_t* qlg = ql + 32 * (g & 1);
            const int shift = 4 * (g >> 1);
            for (int half = 0; half < 2; ++half) {  // two 16-element sub-blocks per group
              double sub = 0.0;
              for (int l = 16 * half; l < 16 * half + 16; ++l) {
                const int q = (((qlg[l] >> shift) & 0x0f) | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
                sub += static_cast<double>(q) * xb[128 * h + 32 * g + l];
              }
              block_sum += static_cast<double>(scales[8 * h + 2 * g + half]) * sub;
            }
          }
        }
        acc += static_cast<double>(fp16_to_fp32(d_bits)) * block_sum;
      }
      y[t * ldy + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace lfm::cpu::scalar
