// SPDX-License-Identifier: MIT
// K-quant kernels (Q4_K, Q5_K) of each ISA folder, and the block layout helpers they share.
// Only declarations and static (internal-linkage) integer code: safe in ISA-flagged files.
//
// Super-block of 256 elements = 8 sub-blocks of 32 (ggml block_q4_K / block_q5_K):
//   Q4_K, 144 bytes: f16 d, f16 dmin, scales[12], qs[128]
//   Q5_K, 176 bytes: f16 d, f16 dmin, scales[12], qh[32], qs[128]
// scales[12] packs eight 6-bit scales sc_j and eight 6-bit mins m_j (ggml get_scale_min_k4).
// qs chunk c = qs[32c .. 32c+32): byte l holds element 64c+l (sub-block 2c) in its low nibble and
// 64c+32+l (sub-block 2c+1) in its high nibble. Q5_K: bit j of qh[l] is the fifth bit of element
// l of sub-block j. Value of quant q of sub-block j: fl32(fl32(d*sc_j) * q - fl32(dmin*m_j)), as
// ggml's dequantize_row_q4_K / q5_K compute it; both products are exact in f32, so the result is
// the exact difference rounded once (an FMA gives the same value).
#pragma once

#include <cstdint>
#include <cstring>

#include "dispatch.h"

namespace lfm::cpu {

constexpr int64_t kQK_K = 256;
constexpr int64_t kBlockQ4KBytes = 144;
constexpr int64_t kBlockQ5KBytes = 176;

// The 6-bit scales of one super-block (at `scales`, 12 bytes): out[0..8) = sc_0..7,
// out[8..16) = m_0..7. Byte-parallel form of get_scale_min_k4.
static inline void kquant_unpack_scales(const uint8_t* scales, uint8_t out[16]) {
  uint32_t u[3];
  std::memcpy(u, scales, 12);
  uint32_t v[4];
  v[0] = u[0] & 0x3f3f3f3fu;                                                  // sc_0..3
  v[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);         // sc_4..7
  v[2] = u[1] & 0x3f3f3f3fu;                                                  // m_0..3
  v[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);  // m_4..7
  std::memcpy(out, v, 16);
}

// The 8 sub-block scales d*sc_j and minimums dmin*m_j of a Q4_K / Q5_K super-block (exact f32
// products of the f16 super-block scales and the 6-bit ones).
static inline void kquant_block_scales(const uint8_t* blk, float scale[8], float min[8]) {
  uint16_t d_bits, m_bits;
  std::memcpy(&d_bits, blk, 2);
  std::memcpy(&m_bits, blk + 2, 2);
  const float d = fp16_to_fp32(d_bits), dmin = fp16_to_fp32(m_bits);
  uint8_t sm[16];
  kquant_unpack_scales(blk + 4, sm);
  for (int j = 0; j < 8; ++j) {
    scale[j] = d * static_cast<float>(sm[j]);
    min[j] = dmin * static_cast<float>(sm[8 + j]);
  }
}

}  // namespace lfm::cpu

#define LFM_CPU_DECLARE_KQUANT_KERNELS                                                           \
  void matmul_q4_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x, \
                   int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);          \
  void matmul_q5_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x, \
                   int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);          \
  void dequant_row_q4_k(float* y, const uint8_t* w_row, int64_t n);                              \
  void dequant_row_q5_k(float* y, const uint8_t* w_row, int64_t n);

namespace lfm::cpu::scalar {
LFM_CPU_DECLARE_KQUANT_KERNELS
}  // namespace lfm::cpu::scalar

namespace lfm::cpu::avx2 {
LFM_CPU_DECLARE_KQUANT_KERNELS
}  // namespace lfm::cpu::avx2

namespace lfm::cpu::avx512 {
LFM_CPU_DECLARE_KQUANT_KERNELS
}  // namespace lfm::cpu::avx512

#undef LFM_CPU_DECLARE_KQUANT_KERNELS
