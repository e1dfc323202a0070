// SPDX-License-Identifier: MIT
// avx512: table entries for Q6_K (matmul and dequant_row).

#include "../kernel_sets.h"

namespace lfm::cpu::avx512 {

void fill_q6_k_kernels(CpuKernels* k) { (void)k; }

}  // namespace lfm::cpu::avx512
