// SPDX-License-Identifier: MIT
// Addon entry: registers the classes and the module functions; nothing else lives here.

#include "addon.h"

#include <napi.h>

#include "../cpu/dispatch.h"
#include "convert.h"
#include "cuda_hooks.h"
#include "kernel_hooks.h"
#include "model_wrap.h"
#include "sampler_wrap.h"

namespace lfm::napi {
namespace {

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* d = addon_data(env);
  if (!d->isa_status.is_ok()) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(status_error(env, d->isa_status).Value());
    return deferred.Promise();
  }
  return load_model(info, d->model_ctor, d->isa);
}

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* d = addon_data(env);
  if (!d->isa_status.is_ok()) {
    status_error(env, d->isa_status).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const cpu::CpuFeatures& f = cpu::cpu_features();
  Napi::Array features = Napi::Array::New(env);
  uint32_t n = 0;
  auto add = [&](bool on, const char* name) {
    if (on) features.Set(n++, Napi::String::New(env, name));
  };
  add(f.sse42, "sse4.2");
  add(f.avx && f.os_avx, "avx");
  add(f.avx2 && f.os_avx, "avx2");
  add(f.fma && f.os_avx, "fma");
  add(f.f16c && f.os_avx, "f16c");
  add(f.avx_vnni && f.os_avx, "avx-vnni");
  add(f.avx512f && f.os_avx512, "avx512f");
  add(f.avx512bw && f.os_avx512, "avx512bw");
  add(f.avx512vl && f.os_avx512, "avx512vl");
  add(f.avx512dq && f.os_avx512, "avx512dq");
  add(f.avx512vnni && f.os_avx512, "avx512vnni");
  add(f.avx512vbmi && f.os_avx512, "avx512vbmi");
  add(f.avx512bf16 && f.os_avx512, "avx512bf16");
  Napi::Object cpu_info = Napi::Object::New(env);
  cpu_info.Set("isa", cpu::isa_name(d->isa));
  cpu_info.Set("bestIsa", cpu::isa_name(cpu::best_isa()));
  cpu_info.Set("features", features);
  cpu_info.Set("physicalCores", physical_core_count());
  Napi::Object cuda = cuda_runtime_info(env);
  Napi::Object out = Napi::Object::New(env);
  out.Set("cpu", cpu_info);
  out.Set("cuda", cuda);
  return out;
}

// Test hook: choose the kernel table for models loaded from now on ("" = the default again).
Napi::Value SetCpuIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LFM_NAPI_THROW_IF(info.Length() < 1 || !info[0].IsString(), env, "_setCpuIsa expects a string");
  AddonData* d = addon_data(env);
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  Status s = name.empty() ? cpu::default_isa(&d->isa) : cpu::parse_isa(name.c_str(), &d->isa);
  if (!s.is_ok()) {
    status_error(env, s).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  d->isa_status = Status::ok();
  return Napi::String::New(env, cpu::isa_name(d->isa));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* d = new AddonData();
  d->isa_status = cpu::default_isa(&d->isa);
  d->model_ctor = Napi::Persistent(ModelWrap::Define(env));
  d->sequence_ctor = Napi::Persistent(SequenceWrap::Define(env));
  d->sampler_ctor = Napi::Persistent(SamplerWrap::Define(env));
  env.SetInstanceData<AddonData>(d);
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("createSampler", Napi::Function::New(env, create_sampler, "createSampler"));
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfo, "runtimeInfo"));
  exports.Set("_setCpuIsa", Napi::Function::New(env, SetCpuIsa, "_setCpuIsa"));
  RegisterKernelHooks(env, exports);
  RegisterCudaHooks(env, exports);
  return exports;
}

}  // namespace
}  // namespace lfm::napi

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return lfm::napi::Init(env, exports); }

NODE_API_MODULE(lfm2, InitAddon)
