// SPDX-License-Identifier: MIT
// The scalar kernel table: complete (every entry set), the base every other ISA overlays.

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void fill_kernels(CpuKernels* k) {
  auto id = [](GgmlType t) { return static_cast<int>(t); };
  k->matmul[id(GgmlType::kF32)] = matmul_f32;
  k->matmul[id(GgmlType::kF16)] = matmul_f16;
  k->matmul[id(GgmlType::kBF16)] = matmul_bf16;
  k->matmul[id(GgmlType::kQ8_0)] = matmul_q8_0;
  k->matmul[id(GgmlType::kQ4_0)] = matmul_q4_0;
  k->dequant_row[id(GgmlType::kF32)] = dequant_row_f32;
  k->dequant_row[id(GgmlType::kF16)] = dequant_row_f16;
  k->dequant_row[id(GgmlType::kBF16)] = dequant_row_bf16;
  k->dequant_row[id(GgmlType::kQ8_0)] = dequant_row_q8_0;
  k->dequant_row[id(GgmlType::kQ4_0)] = dequant_row_q4_0;
  k->rmsnorm_f32 = rmsnorm_f32;
  k->swiglu_f32 = swiglu_f32;
  k->short_conv_f32 = short_conv_f32;
  k->attention_f32 = attention_f32;
  k->axpy_f32 = axpy_f32;
  k->quantize_acts = quantize_acts;
  k->matmul_q16[id(GgmlType::kQ4_0)] = matmul_q16_q4_0;
  k->matmul_q16[id(GgmlType::kQ4_K)] = matmul_q16_q4_k;
  k->matmul_q16[id(GgmlType::kQ6_K)] = matmul_q16_q6_k;
  fill_legacy_kernels(k);
  fill_kquant_kernels(k);
  fill_q6_k_kernels(k);
}

}  // namespace lfm::cpu::scalar
