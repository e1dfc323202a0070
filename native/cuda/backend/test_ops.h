// SPDX-License-Identifier: MIT
// The kernel test hook (lfm_cuda_run_kernel): each kernel family answers the ops it owns.
// A runner returns -1 when `op` is not its own, 0 on success, or a StatusCode value with *err set.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "../lfm_cuda.h"
#include "kernels.cuh"

namespace lfm::cuda {

int run_test_op_matmul(const lfm_cuda_kernel_call& call, std::string* err);  // test_ops_matmul.cu
int run_test_op_misc(const lfm_cuda_kernel_call& call, std::string* err);    // test_ops_misc.cu

// attention.cu: the launcher with a forced kernel choice (path 0 = automatic, 1 = split kernel,
// 2 = tiled kernel), and the split kernel's workspace.
cudaError_t attention_path(float* out, const float* q, int64_t T, int64_t Hq, int64_t Hkv, int64_t Dh, float scale,
                           const int32_t* row_seq, const int32_t* row_pos, const float* const* k_cache,
                           const float* const* v_cache, int64_t max_keys, const Workspace& ws, int path,
                           cudaStream_t stream);
size_t attention_split_workspace_bytes(int64_t T, int64_t Hq, int64_t Dh, int64_t max_keys);

}  // namespace lfm::cuda
