// SPDX-License-Identifier: MIT
// Q6_K kernels of every ISA folder (native/cpu/<isa>/matmul_q6_k.cpp, dequant_row_q6_k.cpp),
// put into the tables by native/cpu/<isa>/kernels_q6_k.cpp. Declarations only (no inline code),
// so this header is safe to include from ISA-flagged files.
//
// Q6_K (ggml block_q6_K): super-blocks of 256 elements, 210 bytes each:
//   u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), i8 scales[16], f16 d (bytes 208-209).
// value = d * scales[s] * (q - 32). Half h (elements 128h..128h+127) uses ql + 64h, qh + 32h,
// scales + 8h; for l < 32 and group g = 0..3, element 32g + l of the half takes the nibble
// (ql[l + 32*(g&1)] >> 4*(g>>1)) & 15, the bits (qh[l] >> 2g) & 3 as bits 4-5, and the scale
// scales[2g + l/16]. Every value is exact in f32: d has 11 significant bits, a scale at most 7
// (-128 is a power of two) and q - 32 at most 5 (-32 likewise), 23 bits in all.
#pragma once

#include <cstdint>

#define LFM_CPU_DECLARE_Q6_K_KERNELS                                                             \
  void matmul_q6_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x, \
                   int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);          \
  void dequant_row_q6_k(float* y, const uint8_t* w_row, int64_t n);

namespace lfm::cpu {
constexpr int64_t kQK_K6 = 256;          // elements per Q6_K super-block
constexpr int64_t kQ6KBlockBytes = 210;  // bytes per Q6_K super-block
}  // namespace lfm::cpu

namespace lfm::cpu::scalar {
LFM_CPU_DECLARE_Q6_K_KERNELS
}  // namespace lfm::cpu::scalar

namespace lfm::cpu::avx2 {
LFM_CPU_DECLARE_Q6_K_KERNELS
}  // namespace lfm::cpu::avx2

namespace lfm::cpu::avx512 {
LFM_CPU_DECLARE_Q6_K_KERNELS
}  // namespace lfm::cpu::avx512

#undef LFM_CPU_DECLARE_Q6_K_KERNELS
