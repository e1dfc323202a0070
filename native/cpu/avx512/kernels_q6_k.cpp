// SPDX-License-Identifier: MIT
// avx512: table entries for Q6_K (matmul and dequant_row).

#include "../kernel_sets.h"
#include "../kernels_q6_k.h"

namespace lfm::cpu::avx512 {

void fill_q6_k_kernels(CpuKernels* k) {
  k->matmul[static_cast<int>(GgmlType::kQ6_K)] = matmul_q6_k;
  k->dequant_row[static_cast<int>(GgmlType::kQ6_K)] = dequant_row_q6_k;
}

}  // namespace lfm::cpu::avx512
