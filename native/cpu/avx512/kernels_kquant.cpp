// SPDX-License-Identifier: MIT
// avx512: table entries for Q4_K and Q5_K (matmul and dequant_row).

#include "../kernel_sets.h"
#include "../kernels_kquant.h"

namespace lfm::cpu::avx512 {

void fill_kquant_kernels(CpuKernels* k) {
  k->matmul[static_cast<int>(GgmlType::kQ4_K)] = matmul_q4_k;
  k->matmul[static_cast<int>(GgmlType::kQ5_K)] = matmul_q5_k;
  k->dequant_row[static_cast<int>(GgmlType::kQ4_K)] = dequant_row_q4_k;
  k->dequant_row[static_cast<int>(GgmlType::kQ5_K)] = dequant_row_q5_k;
}

}  // namespace lfm::cpu::avx512
