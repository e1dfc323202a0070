// SPDX-License-Identifier: MIT
// NativeSampler: reads the options object into SamplerOptions (types here, values checked by
// Sampler::create) and converts typed arrays; the core does the work.

#include "sampler_wrap.h"

#include <cmath>
#include <string>

#include "addon.h"
#include "convert.h"

namespace lfm::napi {

namespace {

// Option readers: false, with an ERR_LFM_INVALID_ARG exception pending, when the value is not
// of the type asked for.
bool read_number(Napi::Env env, const Napi::Object& o, const char* key, double* out) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) {
    code_error(env, StatusCode::kInvalidArg, std::string("[createSampler] ") + key + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = v.As<Napi::Number>().DoubleValue();
  return true;
}

bool read_integer(Napi::Env env, const Napi::Object& o, const char* key, int64_t* out) {
  double d = 0;
  if (!read_number(env, o, key, &d)) return false;
  if (std::floor(d) != d || std::fabs(d) > 9007199254740991.0) {
    code_error(env, StatusCode::kInvalidArg, std::string("[createSampler] ") + key + " must be an integer, got " +
                                                 Napi::Number::New(env, d).ToString().Utf8Value())
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool is_typed(const Napi::Value& v, napi_typedarray_type type) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
}

}  // namespace

Napi::Value create_sampler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LFM_NAPI_THROW_IF(info.Length() < 1 || !info[0].IsObject(), env, "[createSampler] createSampler(options) expects an object");
  const Napi::Object o = info[0].As<Napi::Object>();
  SamplerOptions opts;
  int64_t seed = 0;
  if (!read_integer(env, o, "vocabSize", &opts.vocab_size) || !read_number(env, o, "temperature", &opts.temperature) ||
      !read_integer(env, o, "topK", &opts.top_k) || !read_number(env, o, "topP", &opts.top_p) ||
      !read_number(env, o, "minP", &opts.min_p) || !read_number(env, o, "repeatPenalty", &opts.repeat_penalty) ||
      !read_number(env, o, "presencePenalty", &opts.presence_penalty) ||
      !read_number(env, o, "frequencyPenalty", &opts.frequency_penalty) ||
      !read_integer(env, o, "penaltyLastN", &opts.penalty_last_n) || !read_integer(env, o, "seed", &seed)) {
    return env.Undefined();
  }
  LFM_NAPI_THROW_IF(seed < 0 || seed > 0xffffffffLL, env,
                    "[createSampler] seed must be an integer in [0, 4294967295], got " + std::to_string(seed));
  opts.seed = static_cast<uint32_t>(seed);
  const Napi::Value bias = o.Get("logitBias");
  if (!bias.IsUndefined() && !bias.IsNull()) {
    LFM_NAPI_THROW_IF(!bias.IsObject(), env, "[createSampler] logitBias must be {ids: Int32Array, values: Float32Array}");
    const Napi::Value ids = bias.As<Napi::Object>().Get("ids"), values = bias.As<Napi::Object>().Get("values");
    LFM_NAPI_THROW_IF(!is_typed(ids, napi_int32_array) || !is_typed(values, napi_float32_array), env,
                      "[createSampler] logitBias must be {ids: Int32Array, values: Float32Array}");
    const Napi::Int32Array i = ids.As<Napi::Int32Array>();
    const Napi::Float32Array v = values.As<Napi::Float32Array>();
    opts.bias_ids.assign(i.Data(), i.Data() + i.ElementLength());
    opts.bias_values.assign(v.Data(), v.Data() + v.ElementLength());
  }
  std::unique_ptr<Sampler> sampler;
  const Status s = Sampler::create(std::move(opts), &sampler);
  if (!s.is_ok()) {
    status_error(env, s).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return addon_data(env)->sampler_ctor.New({Napi::External<std::unique_ptr<Sampler>>::New(env, &sampler)});
}

Napi::Function SamplerWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeSampler",
                     {InstanceMethod("sample", &SamplerWrap::Sample), InstanceMethod("accept", &SamplerWrap::Accept),
                      InstanceMethod("clearHistory", &SamplerWrap::ClearHistory)});
}

SamplerWrap::SamplerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SamplerWrap>(info) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    code_error(info.Env(), StatusCode::kInvalidArg, "NativeSampler cannot be constructed directly; use createSampler()")
        .ThrowAsJavaScriptException();
    return;
  }
  sampler_ = std::move(*info[0].As<Napi::External<std::unique_ptr<Sampler>>>().Data());
}

Napi::Value SamplerWrap::Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t V = sampler_->vocab_size();
  LFM_NAPI_THROW_IF(info.Length() < 1 || !is_typed(info[0], napi_float32_array) ||
                        static_cast<int64_t>(info[0].As<Napi::Float32Array>().ElementLength()) != V,
                    env, "[sample] logits must be a Float32Array of vocabSize (" + std::to_string(V) + ") floats");
  int32_t token = 0;
  const Status s = sampler_->sample(info[0].As<Napi::Float32Array>().Data(), &token);
  if (!s.is_ok()) {
    status_error(env, s).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, token);
}

Napi::Value SamplerWrap::Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LFM_NAPI_THROW_IF(info.Length() < 1 || !is_typed(info[0], napi_int32_array), env,
                    "[sampler.accept] tokens must be an Int32Array");
  const Napi::Int32Array t = info[0].As<Napi::Int32Array>();
  const Status s = sampler_->accept(t.Data(), static_cast<int64_t>(t.ElementLength()));
  if (!s.is_ok()) status_error(env, s).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value SamplerWrap::ClearHistory(const Napi::CallbackInfo& info) {
  sampler_->clear_history();
  return info.Env().Undefined();
}

}  // namespace lfm::napi
