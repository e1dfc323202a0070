// SPDX-License-Identifier: MIT
// Scalar reference: y[i] = dequant(w_row)[i], i < n (n a multiple of 256), Q4_K and Q5_K.
// Layout and value formula in ../kernels_kquant.h; equal bit for bit to ggml's
// dequantize_row_q4_K / q5_K (f32 arithmetic: d*sc and dmin*m exact, one rounding in the
// subtraction).

#include "../kernel_sets.h"
#include "../kernels_kquant.h"

namespace lfm::cpu::scalar {

void dequant_row_q4_k(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* blk = w_row + b * kBlockQ4KBytes;
    float sc[8], mn[8];
    kquant_block_scales(blk, sc, mn);
    const uint8_t* qs = blk + 16;
    float* yb = y + b * kQK_K;
    for (int j = 0; j < 8; ++j) {
      const float d1 = sc[j], m1 = mn[j];
      const uint8_t* q = qs + 32 * (j / 2);
      const int shift = 4 * (j & 1);
      for (int l = 0; l < 32; ++l) {
        yb[32 * j + l] = d1 * static_cast<float>((q[l] >> shift) & 0xf) - m1;
      }
    }
  }
}

void dequant_row_q5_k(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* blk = w_row + b * kBlockQ5KBytes;
    float sc[8], mn[8];
    kquant_block_scales(blk, sc, mn);
    const uint8_t* qh = blk + 16;
    const uint8_t* qs = blk + 48;
    float* yb = y + b * kQK_K;
    for (int j = 0; j < 8; ++j) {
      const float d1 = sc[j], m1 = mn[j];
      const uint8_t* q = qs + 32 * (j / 2);
      const int shift = 4 * (j & 1);
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0xf) | (((qh[l] >> j) & 1) << 4);
        yb[32 * j + l] = d1 * static_cast<float>(v) - m1;
      }
    }
  }
}

}  // namespace lfm::cpu::scalar
