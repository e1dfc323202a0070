// SPDX-License-Identifier: MIT
// Internal to native/cpu: the kernels each ISA folder defines and the function that puts them
// into a CpuKernels table. dispatch.cpp is the only user of the fill functions.
#pragma once

#include <cstdint>

#include "dispatch.h"

// Declarations only (no inline code), so this header is safe to include from ISA-flagged files.
#define LFM_CPU_DECLARE_MATMUL_Q16(name)                                                         \
  void name(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,    \
            int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);
// The integer path (dispatch.h: QuantActs): scalar reference and AVX-512 VNNI.
#define LFM_CPU_DECLARE_Q16_KERNELS                                                              \
  void quantize_acts(const QuantActs& out, const float* x, int64_t ldx, int64_t n_cols,          \
                     int64_t t0, int64_t t1);                                                    \
  LFM_CPU_DECLARE_MATMUL_Q16(matmul_q16_q4_0)                                                    \
  LFM_CPU_DECLARE_MATMUL_Q16(matmul_q16_q4_k)                                                    \
  LFM_CPU_DECLARE_MATMUL_Q16(matmul_q16_q6_k)

#define LFM_CPU_DECLARE_KERNELS                                                                  \
  void matmul_f32(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,  \
                  int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);           \
  void matmul_f16(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,  \
                  int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);           \
  void matmul_bf16(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x, \
                   int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);          \
  void matmul_q8_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x, \
                   int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);          \
  void matmul_q4_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x, \
                   int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);          \
  void dequant_row_f32(float* y, const uint8_t* w_row, int64_t n);                               \
  void dequant_row_f16(float* y, const uint8_t* w_row, int64_t n);                               \
  void dequant_row_bf16(float* y, const uint8_t* w_row, int64_t n);                              \
  void dequant_row_q8_0(float* y, const uint8_t* w_row, int64_t n);                              \
  void dequant_row_q4_0(float* y, const uint8_t* w_row, int64_t n);                              \
  void rmsnorm_f32(float* y, const float* x, const float* w, int64_t n, float eps);              \
  void swiglu_f32(float* y, const float* gate, const float* up, int64_t n);                      \
  void short_conv_f32(float* y, int64_t ld_y, float* state, const float* bcx, int64_t ld_bcx,    \
                      const float* w, int64_t n_channels, int64_t L, int64_t n_tok, int64_t c0,  \
                      int64_t c1);                                                               \
  void attention_f32(float* out, const float* q, const float* k, const float* v, int64_t ld_kv,  \
                     int64_t n_keys, int64_t head_dim, float scale);                             \
  void axpy_f32(float* y, float a, const float* x, int64_t n);                                   \
  LFM_CPU_DECLARE_Q16_KERNELS                                                                    \
  /* Sets the entries this ISA implements; leaves the others as they are. */                     \
  void fill_kernels(CpuKernels* k);                                                              \
  /* Entries of the legacy block types (Q4_1, Q5_0, Q5_1; kernels_legacy.cpp) and of the */      \
  /* K-quants (Q4_K, Q5_K: kernels_kquant.cpp; Q6_K: kernels_q6_k.cpp), called by fill_kernels. */ \
  void fill_legacy_kernels(CpuKernels* k);                                                       \
  void fill_kquant_kernels(CpuKernels* k);                                                       \
  void fill_q6_k_kernels(CpuKernels* k);

namespace lfm::cpu::scalar {
LFM_CPU_DECLARE_KERNELS
}  // namespace lfm::cpu::scalar

namespace lfm::cpu::avx2 {
LFM_CPU_DECLARE_KERNELS
}  // namespace lfm::cpu::avx2

namespace lfm::cpu::avx512 {
LFM_CPU_DECLARE_KERNELS
}  // namespace lfm::cpu::avx512

// AVX-512 with VNNI and VBMI (Ice Lake, Zen 4 and later): the integer path only, in its own
// library compiled with those extensions; dispatch.cpp adds it to the avx512 table only when
// the CPU reports both.
namespace lfm::cpu::avx512vnni {
LFM_CPU_DECLARE_Q16_KERNELS
void fill_kernels(CpuKernels* k);
}  // namespace lfm::cpu::avx512vnni

#undef LFM_CPU_DECLARE_KERNELS
#undef LFM_CPU_DECLARE_Q16_KERNELS
#undef LFM_CPU_DECLARE_MATMUL_Q16

namespace lfm::cpu {

// parse_isa against an explicit ceiling instead of best_isa() (lets tests reach the
// "above what this CPU supports" error on any machine).
Status parse_isa_with_ceiling(const char* name, Isa ceiling, Isa* out);

}  // namespace lfm::cpu
