// SPDX-License-Identifier: MIT
// Finding a CUDA device and opening the CUDA backend library at run time. Compiled into the
// addon and the tools without any CUDA header or library: the driver (libcuda.so.1 /
// nvcuda.dll) and the backend (liblfm2_cuda.so / lfm2_cuda.dll) are opened with dlopen /
// LoadLibrary, so the CPU-only build loads on machines that have neither.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../core/status.h"
#include "lfm_cuda.h"

namespace lfm::cuda {

// The backend's entry points (lfm_cuda.h), resolved from the library.
struct BackendApi {
  int (*abi_version)();
  int (*device_count)();
  int (*device_info)(int, lfm_cuda_device_info*, char*, size_t);
  int (*model_create)(int, const lfm_cuda_model_desc*, lfm_cuda_model**, char*, size_t);
  void (*model_free)(lfm_cuda_model*);
  uint64_t (*model_bytes)(const lfm_cuda_model*);
  int (*seq_create)(lfm_cuda_model*, int64_t, lfm_cuda_seq**, char*, size_t);
  void (*seq_free)(lfm_cuda_seq*);
  int (*seq_reset)(lfm_cuda_seq*, char*, size_t);
  uint64_t (*seq_bytes)(const lfm_cuda_seq*);
  int (*seq_read_state)(lfm_cuda_seq*, int64_t, float*, float*, char*, size_t);
  int (*seq_write_state)(lfm_cuda_seq*, int64_t, const float*, const float*, char*, size_t);
  int (*forward)(lfm_cuda_model*, int, lfm_cuda_seq* const*, const int64_t*, const int32_t*, const int32_t*, int,
                 const int32_t*, float*, const lfm_cuda_sampler*, int32_t*, char*, size_t);
  int (*run_kernel)(const lfm_cuda_kernel_call*, char*, size_t);
};

struct CudaProbe {
  bool available = false;      // a device and a usable backend library were found
  std::string reason;          // why not, when not available
  int driver_version = 0;      // 0 when no driver
  int device_count = 0;        // as the driver reports
  lfm_cuda_device_info device{};  // device 0, when available
  std::string backend_path;    // the library opened, when available
  std::vector<std::string> searched;  // backend paths tried, in order
};

// Looks once per process (later calls return the same result): the driver, its devices, then
// the backend library: $LFM2_CUDA_BACKEND if set, else the paths given to
// set_backend_candidates, then liblfm2_cuda.so (lfm2_cuda.dll) next to the module that contains
// this code (the addon: build/Release or prebuilds/<platform>-<arch>), then ../../build-cuda/
// from there (a development checkout). The backend is opened only when
// the driver reports at least one device. LFM2_CUDA=0 in the environment skips the probe.
const CudaProbe& probe();

// Paths to try before the built-in ones (the package's optional CUDA package, found by
// lib/native.ts). Effective only before the first probe(); returns false after it.
bool set_backend_candidates(std::vector<std::string> paths);

// The backend's entry points; null when !probe().available.
const BackendApi* backend();

// "ERR_LFM_*"-style status for a backend return code and message.
Status backend_status(int code, const char* op, const char* message);

}  // namespace lfm::cuda
