// SPDX-License-Identifier: MIT
// Internal to native/cpu: the Q4_1, Q5_0 and Q5_1 kernels each ISA folder defines (registered
// by fill_legacy_kernels in <isa>/kernels_legacy.cpp) and their block layouts.
// Declarations and constants only, so this header is safe to include from ISA-flagged files.
//
// Blocks of 32 elements, identical to ggml (little-endian, no padding, no alignment):
//   Q4_1 (20 bytes): f16 d | f16 m | u8 qs[16]            value = q * d + m
//   Q5_0 (22 bytes): f16 d | u8 qh[4] | u8 qs[16]         value = (q - 16) * d
//   Q5_1 (24 bytes): f16 d | f16 m | u8 qh[4] | u8 qs[16] value = q * d + m
// Element j < 16 is the low nibble of qs[j], element j + 16 its high nibble; for the 5-bit
// types bit 4 of element j is bit j of the 32-bit little-endian qh.
// Dequantized values are float32 as ggml's dequantize_row_*: (q - 16) * d and q * d are exact,
// q * d + m is rounded once (fmaf(q, d, m) gives the same value since q * d is exact).
#pragma once

#include <cstdint>

#include "dispatch.h"

namespace lfm::cpu {

constexpr int kQKLegacy = 32;
constexpr int64_t kQ4_1Bytes = 20;  // offsets: d 0, m 2, qs 4
constexpr int64_t kQ5_0Bytes = 22;  // offsets: d 0, qh 2, qs 6
constexpr int64_t kQ5_1Bytes = 24;  // offsets: d 0, m 2, qh 4, qs 8

}  // namespace lfm::cpu

#define LFM_CPU_DECLARE_LEGACY_KERNELS                                                           \
  void matmul_q4_1(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x, \
                   int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);          \
  void matmul_q5_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x, \
                   int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);          \
  void matmul_q5_1(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x, \
                   int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);          \
  void dequant_row_q4_1(float* y, const uint8_t* w_row, int64_t n);                              \
  void dequant_row_q5_0(float* y, const uint8_t* w_row, int64_t n);                              \
  void dequant_row_q5_1(float* y, const uint8_t* w_row, int64_t n);

namespace lfm::cpu::scalar {
LFM_CPU_DECLARE_LEGACY_KERNELS
}  // namespace lfm::cpu::scalar

namespace lfm::cpu::avx2 {
LFM_CPU_DECLARE_LEGACY_KERNELS
}  // namespace lfm::cpu::avx2

namespace lfm::cpu::avx512 {
LFM_CPU_DECLARE_LEGACY_KERNELS
}  // namespace lfm::cpu::avx512

#undef LFM_CPU_DECLARE_LEGACY_KERNELS
