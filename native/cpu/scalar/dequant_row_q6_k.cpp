// SPDX-License-Identifier: MIT
// Scalar reference: y[i] = dequant(w_row)[i], i < n, Q6_K (layout in ../kernels_q6_k.h).
// n must be a multiple of 256. Exact (matches ggml's dequantize_row_q6_K bit for bit); the SIMD
// versions must match bitwise.

#include <cstring>

#include "../kernel_sets.h"
#include "../kernels_q6_k.h"

namespace lfm::cpu::scalar {

void dequant_row_q6_k(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K6; ++b) {
    const uint8_t* blk = w_row + b * kQ6KBlockBytes;
    uint16_t d_bits;
    std::memcpy(&d_bits, blk + 208, 2);
    const float d = fp16_to_fp32(d_bits);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = blk + 64 * h;
      const uint8_t* qh = blk + 128 + 32 * h;
      const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192 + 8 * h);
      float* yh = y + b * kQK_K6 + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        yh[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        yh[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        yh[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        yh[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace lfm::cpu::scalar
