// SPDX-License-Identifier: MIT
// avx512: table entries for Q4_1, Q5_0 and Q5_1 (matmul and dequant_row).

#include "../kernel_sets.h"
#include "../kernels_legacy.h"

namespace lfm::cpu::avx512 {

void fill_legacy_kernels(CpuKernels* k) {
  constexpr int kQ4_1 = static_cast<int>(GgmlType::kQ4_1);
  constexpr int kQ5_0 = static_cast<int>(GgmlType::kQ5_0);
  constexpr int kQ5_1 = static_cast<int>(GgmlType::kQ5_1);
  k->matmul[kQ4_1] = matmul_q4_1;
  k->matmul[kQ5_0] = matmul_q5_0;
  k->matmul[kQ5_1] = matmul_q5_1;
  k->dequant_row[kQ4_1] = dequant_row_q4_1;
  k->dequant_row[kQ5_0] = dequant_row_q5_0;
  k->dequant_row[kQ5_1] = dequant_row_q5_1;
}

}  // namespace lfm::cpu::avx512
