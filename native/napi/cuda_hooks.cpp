// SPDX-License-Identifier: MIT
#include "cuda_hooks.h"

#include <string>
#include <vector>

#include "../cuda/cuda_loader.h"
#include "convert.h"

namespace lfm::napi {

Napi::Object cuda_runtime_info(Napi::Env env) {
  const cuda::CudaProbe& p = cuda::probe();
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", p.available);
  if (!p.available) o.Set("reason", p.reason);
  if (p.driver_version > 0) o.Set("driverVersion", p.driver_version);
  o.Set("deviceCount", p.device_count);
  if (p.available) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("index", 0);
    d.Set("name", std::string(p.device.name));
    d.Set("computeCapability", std::to_string(p.device.cc_major) + "." + std::to_string(p.device.cc_minor));
    d.Set("totalMemory", static_cast<double>(p.device.total_memory));
    d.Set("multiprocessors", p.device.multiprocessors);
    o.Set("device", d);
    o.Set("backendPath", p.backend_path);
  }
  return o;
}

namespace {

Napi::Value RunCudaKernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LFM_NAPI_THROW_IF(info.Length() < 6 || !info[0].IsString() || !info[1].IsArray() || !info[2].IsArray() ||
                        !info[3].IsArray() || !info[4].IsNumber() || !info[5].IsNumber(),
                    env, "_runCudaKernel(op, ints, floats, inputs, outBytes, out2Bytes)");
  const cuda::BackendApi* api = cuda::backend();
  if (!api) {
    code_error(env, StatusCode::kDeviceUnavailable, "[cuda] no CUDA device: " + cuda::probe().reason)
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string op = info[0].As<Napi::String>().Utf8Value();
  std::vector<int64_t> ints;
  std::vector<double> floats;
  const Napi::Array ia = info[1].As<Napi::Array>(), fa = info[2].As<Napi::Array>(), in = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < ia.Length(); i++) ints.push_back(ia.Get(i).As<Napi::Number>().Int64Value());
  for (uint32_t i = 0; i < fa.Length(); i++) floats.push_back(fa.Get(i).As<Napi::Number>().DoubleValue());
  std::vector<const void*> ptrs;
  std::vector<size_t> sizes;
  for (uint32_t i = 0; i < in.Length(); i++) {
    Napi::Value v = in.Get(i);
    LFM_NAPI_THROW_IF(!v.IsTypedArray(), env, "_runCudaKernel: inputs must be typed arrays");
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    ptrs.push_back(static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset());
    sizes.push_back(t.ByteLength());
  }
  const int64_t out_bytes = info[4].As<Napi::Number>().Int64Value();
  const int64_t out2_bytes = info[5].As<Napi::Number>().Int64Value();
  LFM_NAPI_THROW_IF(out_bytes < 0 || out2_bytes < 0, env, "_runCudaKernel: negative output size");
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, static_cast<size_t>(out_bytes));
  Napi::ArrayBuffer out2 = Napi::ArrayBuffer::New(env, static_cast<size_t>(out2_bytes));
  lfm_cuda_kernel_call call{};
  call.op = op.c_str();
  call.ints = ints.data();
  call.n_ints = static_cast<int>(ints.size());
  call.floats = floats.data();
  call.n_floats = static_cast<int>(floats.size());
  call.inputs = ptrs.data();
  call.input_bytes = sizes.data();
  call.n_inputs = static_cast<int>(ptrs.size());
  call.output = out.Data();
  call.output_bytes = static_cast<size_t>(out_bytes);
  call.output2 = out2_bytes > 0 ? out2.Data() : nullptr;
  call.output2_bytes = static_cast<size_t>(out2_bytes);
  char err[512] = {0};
  const int rc = api->run_kernel(&call, err, sizeof err);
  if (rc != 0) {
    status_error(env, cuda::backend_status(rc, ("cuda:" + op).c_str(), err)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("out", out);
  if (out2_bytes > 0) r.Set("out2", out2);
  return r;
}

// _setCudaBackendPaths(paths): where lib/native.ts found an installed CUDA backend package.
Napi::Value SetCudaBackendPaths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LFM_NAPI_THROW_IF(info.Length() < 1 || !info[0].IsArray(), env, "_setCudaBackendPaths(paths: string[])");
  const Napi::Array a = info[0].As<Napi::Array>();
  std::vector<std::string> paths;
  for (uint32_t i = 0; i < a.Length(); i++) {
    LFM_NAPI_THROW_IF(!a.Get(i).IsString(), env, "_setCudaBackendPaths: paths must be strings");
    paths.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  return Napi::Boolean::New(env, cuda::set_backend_candidates(std::move(paths)));
}

}  // namespace

void RegisterCudaHooks(Napi::Env env, Napi::Object exports) {
  exports.Set("_setCudaBackendPaths", Napi::Function::New(env, SetCudaBackendPaths, "_setCudaBackendPaths"));
  exports.Set("_runCudaKernel", Napi::Function::New(env, RunCudaKernel, "_runCudaKernel"));
}

}  // namespace lfm::napi
