// SPDX-License-Identifier: MIT
// Scalar reference: y[i] = dequant(w_row)[i], i < n, for F32, F16, BF16, Q8_0 and Q4_0.
// Layouts as in ggml_types.h (Q8_0: d then 32 int8; Q4_0: d then 16 bytes, element j in the low
// nibble of qs[j], element j+16 in the high nibble; value (q - 8) * d). n must be a multiple of
// the block size (32 for Q8_0/Q4_0). All conversions are exact; SIMD versions must match bitwise.

#include <cstring>

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void dequant_row_f32(float* y, const uint8_t* w_row, int64_t n) {
  std::memcpy(y, w_row, static_cast<size_t>(n) * sizeof(float));
}

void dequant_row_f16(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, w_row + 2 * i, 2);
    y[i] = fp16_to_fp32(h);
  }
}

void dequant_row_bf16(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, w_row + 2 * i, 2);
    y[i] = bf16_to_fp32(h);
  }
}

void dequant_row_q8_0(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* blk = w_row + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    uint16_t d_bits;
    std::memcpy(&d_bits, blk, 2);
    const float d = fp16_to_fp32(d_bits);
    const int8_t* qs = reinterpret_cast<const int8_t*>(blk + 2);
    for (int j = 0; j < kQK8_0; ++j) y[b * kQK8_0 + j] = static_cast<float>(qs[j]) * d;
  }
}

void dequant_row_q4_0(float* y, const uint8_t* w_row, int64_t n) {
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const uint8_t* blk = w_row + b * static_cast<int64_t>(sizeof(BlockQ4_0));
    uint16_t d_bits;
    std::memcpy(&d_bits, blk, 2);
    const float d = fp16_to_fp32(d_bits);
    const uint8_t* qs = blk + 2;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[b * kQK4_0 + j] = static_cast<float>((qs[j] & 0x0f) - 8) * d;
      y[b * kQK4_0 + j + kQK4_0 / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

}  // namespace lfm::cpu::scalar
