// SPDX-License-Identifier: MIT
// The CUDA part of runtimeInfo() and the CUDA kernel test hook.
#pragma once

#include <napi.h>

namespace lfm::napi {

// runtimeInfo().cuda: what cuda::probe() found (runs the probe on first use).
Napi::Object cuda_runtime_info(Napi::Env env);

// Adds exports._runCudaKernel(op, ints, floats, inputs, outBytes, out2Bytes) -> {out, out2?}
// (lfm_cuda_run_kernel on host buffers). Throws ERR_LFM_DEVICE_UNAVAILABLE without a device.
void RegisterCudaHooks(Napi::Env env, Napi::Object exports);

}  // namespace lfm::napi
