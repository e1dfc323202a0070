// SPDX-License-Identifier: MIT
// scalar: table entries for Q6_K (matmul and dequant_row).

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void fill_q6_k_kernels(CpuKernels* k) { (void)k; }

}  // namespace lfm::cpu::scalar
