// SPDX-License-Identifier: MIT
// The kernel test hook (lfm_cuda_run_kernel): each kernel family answers the ops it owns.
// A runner returns -1 when `op` is not its own, 0 on success, or a StatusCode value with *err set.
#pragma once

#include <string>

#include "../lfm_cuda.h"

namespace lfm::cuda {

int run_test_op_matmul(const lfm_cuda_kernel_call& call, std::string* err);  // test_ops_matmul.cu
int run_test_op_misc(const lfm_cuda_kernel_call& call, std::string* err);    // test_ops_misc.cu

}  // namespace lfm::cuda
