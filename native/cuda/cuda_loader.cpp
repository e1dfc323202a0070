// SPDX-License-Identifier: MIT
// CUDA discovery without linking CUDA: the driver API through dlopen for the device query, then
// the backend library. See cuda_loader.h for the search order.

#include "cuda_loader.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace lfm::cuda {

namespace {

#if defined(_WIN32)
constexpr const char* kDriverLib = "nvcuda.dll";
constexpr const char* kBackendLib = "lfm2_cuda.dll";
constexpr char kSep = '\\';
void* open_lib(const std::string& path, std::string* why) {
  HMODULE h = LoadLibraryExA(path.c_str(), nullptr, LOAD_LIBRARY_SEARCH_DEFAULT_DIRS | LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR);
  if (!h && why) *why = "LoadLibrary error " + std::to_string(GetLastError());
  return reinterpret_cast<void*>(h);
}
void* symbol(void* lib, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(reinterpret_cast<HMODULE>(lib), name));
}
std::string this_module_dir() {
  HMODULE self = nullptr;
  if (!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          reinterpret_cast<LPCSTR>(&this_module_dir), &self)) {
    return "";
  }
  char buf[MAX_PATH];
  const DWORD n = GetModuleFileNameA(self, buf, MAX_PATH);
  std::string p(buf, n);
  const size_t cut = p.find_last_of("\\/");
  return cut == std::string::npos ? "" : p.substr(0, cut);
}
#else
constexpr const char* kDriverLib = "libcuda.so.1";
constexpr const char* kBackendLib = "liblfm2_cuda.so";
constexpr char kSep = '/';
void* open_lib(const std::string& path, std::string* why) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h && why) {
    const char* e = dlerror();
    *why = e ? e : "dlopen failed";
  }
  return h;
}
void* symbol(void* lib, const char* name) { return dlsym(lib, name); }
std::string this_module_dir() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&this_module_dir), &info) == 0 || !info.dli_fname) return "";
  std::string p(info.dli_fname);
  const size_t cut = p.find_last_of('/');
  return cut == std::string::npos ? "." : p.substr(0, cut);
}
#endif

// Driver API entry points used for the query (CUresult is an int enum; CUdevice an int).
using CuInit = int (*)(unsigned);
using CuDriverGetVersion = int (*)(int*);
using CuDeviceGetCount = int (*)(int*);

template <typename F>
bool resolve(void* lib, const char* name, F* out) {
  *out = reinterpret_cast<F>(symbol(lib, name));
  return *out != nullptr;
}

bool resolve_backend(void* lib, BackendApi* a) {
  return resolve(lib, "lfm_cuda_abi_version", &a->abi_version) &&
         resolve(lib, "lfm_cuda_device_count", &a->device_count) &&
         resolve(lib, "lfm_cuda_get_device_info", &a->device_info) &&
         resolve(lib, "lfm_cuda_model_create", &a->model_create) &&
         resolve(lib, "lfm_cuda_model_free", &a->model_free) &&
         resolve(lib, "lfm_cuda_model_bytes", &a->model_bytes) &&
         resolve(lib, "lfm_cuda_seq_create", &a->seq_create) && resolve(lib, "lfm_cuda_seq_free", &a->seq_free) &&
         resolve(lib, "lfm_cuda_seq_reset", &a->seq_reset) && resolve(lib, "lfm_cuda_seq_bytes", &a->seq_bytes) &&
         resolve(lib, "lfm_cuda_seq_read_state", &a->seq_read_state) &&
         resolve(lib, "lfm_cuda_seq_write_state", &a->seq_write_state) &&
         resolve(lib, "lfm_cuda_forward", &a->forward) && resolve(lib, "lfm_cuda_run_kernel", &a->run_kernel);
}

CudaProbe g_probe;
BackendApi g_api{};
bool g_api_ok = false;
std::once_flag g_once;
std::mutex g_candidates_mu;
std::vector<std::string> g_candidates;  // from set_backend_candidates
bool g_probed = false;

void run_probe() {
  CudaProbe& p = g_probe;
  std::vector<std::string> extra;
  {
    std::lock_guard<std::mutex> lock(g_candidates_mu);
    g_probed = true;
    extra = g_candidates;
  }
  const char* off = std::getenv("LFM2_CUDA");
  if (off && std::strcmp(off, "0") == 0) {
    p.reason = "disabled by LFM2_CUDA=0";
    return;
  }
  std::string why;
  // Driver first: without it (every CPU-only machine) nothing else is opened. The driver
  // library stays loaded for the life of the process, as the CUDA runtime would keep it.
  void* drv = open_lib(kDriverLib, &why);
  if (!drv) {
    p.reason = std::string("no NVIDIA driver (") + kDriverLib + " not found)";
    return;
  }
  CuInit cu_init = nullptr;
  CuDriverGetVersion cu_version = nullptr;
  CuDeviceGetCount cu_count = nullptr;
  if (!resolve(drv, "cuInit", &cu_init) || !resolve(drv, "cuDriverGetVersion", &cu_version) ||
      !resolve(drv, "cuDeviceGetCount", &cu_count)) {
    p.reason = std::string(kDriverLib) + " lacks the driver API entry points";
    return;
  }
  if (cu_version(&p.driver_version) != 0) p.driver_version = 0;
  const int init = cu_init(0);
  if (init != 0) {
    p.reason = "the NVIDIA driver failed to initialise (cuInit error " + std::to_string(init) + ")";
    return;
  }
  if (cu_count(&p.device_count) != 0 || p.device_count <= 0) {
    p.device_count = 0;
    p.reason = "the NVIDIA driver reports no CUDA device";
    return;
  }

  // The backend library.
  std::vector<std::string>& cand = p.searched;
  const char* env = std::getenv("LFM2_CUDA_BACKEND");
  if (env && *env) {
    cand.emplace_back(env);
  } else {
    cand.insert(cand.end(), extra.begin(), extra.end());
    const std::string dir = this_module_dir();
    if (!dir.empty()) {
      cand.push_back(dir + kSep + kBackendLib);
      cand.push_back(dir + kSep + ".." + kSep + ".." + kSep + "build-cuda" + kSep + kBackendLib);
    }
  }
  std::string errors;
  for (const std::string& path : cand) {
    std::string e;
    void* lib = open_lib(path, &e);
    if (!lib) {
      errors += "\n  " + (e.find(path) != std::string::npos ? e : path + ": " + e);  // dlerror names the path
      continue;
    }
    BackendApi api{};
    if (!resolve_backend(lib, &api)) {
      errors += "\n  " + path + ": missing lfm_cuda_* symbols";
      continue;
    }
    if (api.abi_version() != LFM_CUDA_ABI_VERSION) {
      errors += "\n  " + path + ": interface version " + std::to_string(api.abi_version()) + ", expected " +
                std::to_string(LFM_CUDA_ABI_VERSION);
      continue;
    }
    if (api.device_count() <= 0) {
      p.reason = "the CUDA backend (" + path + ") sees no device: the driver may be older than the CUDA runtime it was built with";
      return;
    }
    char err[512] = {0};
    if (api.device_info(0, &p.device, err, sizeof err) != 0) {
      p.reason = std::string("the CUDA backend cannot query device 0: ") + err;
      return;
    }
    g_api = api;
    g_api_ok = true;
    p.backend_path = path;
    p.available = true;
    return;
  }
  p.reason = "a CUDA device exists but no usable CUDA backend library was found (build it with npm run build:cuda):" +
             (errors.empty() ? std::string(" nothing to try") : errors);
}

}  // namespace

const CudaProbe& probe() {
  std::call_once(g_once, run_probe);
  return g_probe;
}

bool set_backend_candidates(std::vector<std::string> paths) {
  std::lock_guard<std::mutex> lock(g_candidates_mu);
  if (g_probed) return false;
  g_candidates = std::move(paths);
  return true;
}

const BackendApi* backend() {
  probe();
  return g_api_ok ? &g_api : nullptr;
}

Status backend_status(int code, const char* op, const char* message) {
  if (code == 0) return Status::ok();
  StatusCode c = StatusCode::kDevice;
  if (code > 0 && code <= static_cast<int>(StatusCode::kDeviceUnavailable)) c = static_cast<StatusCode>(code);
  return Status(c, std::string("[") + op + "] " + (message && *message ? message : "CUDA backend error"));
}

}  // namespace lfm::cuda
