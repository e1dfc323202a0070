// SPDX-License-Identifier: MIT
// avx2: table entries for Q4_K and Q5_K (matmul and dequant_row).

#include "../kernel_sets.h"

namespace lfm::cpu::avx2 {

void fill_kquant_kernels(CpuKernels* k) { (void)k; }

}  // namespace lfm::cpu::avx2
