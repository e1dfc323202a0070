// SPDX-License-Identifier: MIT
// The integer-path entries of the AVX-512 table (VNNI + VBMI; dispatch.cpp adds them only when
// the CPU reports both).

#include "../kernel_sets.h"

namespace lfm::cpu::avx512vnni {

void fill_kernels(CpuKernels* k) {
  auto id = [](GgmlType t) { return static_cast<int>(t); };
  k->quantize_acts = quantize_acts;
  k->matmul_q16[id(GgmlType::kQ4_0)] = matmul_q16_q4_0;
  k->matmul_q16[id(GgmlType::kQ4_K)] = matmul_q16_q4_k;
  k->matmul_q16[id(GgmlType::kQ6_K)] = matmul_q16_q6_k;
}

}  // namespace lfm::cpu::avx512vnni
