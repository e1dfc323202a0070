// SPDX-License-Identifier: MIT
// Scalar reference: y[i] = dequant(w_row)[i], i < n, for Q4_1, Q5_0 and Q5_1 (layouts in
// kernels_legacy.h). n a multiple of 32; no alignment needed. Values are ggml's
// dequantize_row_* float32 values ((q - 16) * d exact; q * d + m rounded once); the SIMD
// versions must match bit for bit.

#include <cstring>

#include "../kernel_sets.h"
#include "../kernels_legacy.h"

namespace lfm::cpu::scalar {

void dequant_row_q4_1(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQKLegacy; ++b) {
    const uint8_t* blk = w_row + b * kQ4_1Bytes;
    uint16_t d_bits, m_bits;
    std::memcpy(&d_bits, blk, 2);
    std::memcpy(&m_bits, blk + 2, 2);
    const float d = fp16_to_fp32(d_bits), m = fp16_to_fp32(m_bits);
    const uint8_t* qs = blk + 4;
    float* yb = y + b * kQKLegacy;
    for (int j = 0; j < kQKLegacy / 2; ++j) {
      yb[j] = static_cast<float>(qs[j] & 0x0f) * d + m;
      yb[j + kQKLegacy / 2] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

void dequant_row_q5_0(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQKLegacy; ++b) {
    const uint8_t* blk = w_row + b * kQ5_0Bytes;
    uint16_t d_bits;
    uint32_t qh;
    std::memcpy(&d_bits, blk, 2);
    std::memcpy(&qh, blk + 2, 4);
    const float d = fp16_to_fp32(d_bits);
    const uint8_t* qs = blk + 6;
    float* yb = y + b * kQKLegacy;
    for (int j = 0; j < kQKLegacy / 2; ++j) {
      const int q0 = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int q1 = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      yb[j] = static_cast<float>(q0 - 16) * d;
      yb[j + kQKLegacy / 2] = static_cast<float>(q1 - 16) * d;
    }
  }
}

void dequant_row_q5_1(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQKLegacy; ++b) {
    const uint8_t* blk = w_row + b * kQ5_1Bytes;
    uint16_t d_bits, m_bits;
    uint32_t qh;
    std::memcpy(&d_bits, blk, 2);
    std::memcpy(&m_bits, blk + 2, 2);
    std::memcpy(&qh, blk + 4, 4);
    const float d = fp16_to_fp32(d_bits), m = fp16_to_fp32(m_bits);
    const uint8_t* qs = blk + 8;
    float* yb = y + b * kQKLegacy;
    for (int j = 0; j < kQKLegacy / 2; ++j) {
      const int q0 = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int q1 = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      yb[j] = static_cast<float>(q0) * d + m;
      yb[j + kQKLegacy / 2] = static_cast<float>(q1) * d + m;
    }
  }
}

}  // namespace lfm::cpu::scalar
