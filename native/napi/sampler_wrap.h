// SPDX-License-Identifier: MIT
// NativeSampler: the JavaScript class over lfm::Sampler (native/core/sampler.h). Sampling one
// row is sub-millisecond, so its methods run synchronously on the calling thread.
#pragma once

#include <napi.h>

#include <memory>

#include "../core/sampler.h"

namespace lfm::napi {

class SamplerWrap : public Napi::ObjectWrap<SamplerWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SamplerWrap(const Napi::CallbackInfo& info);  // info[0]: External<std::unique_ptr<Sampler>>

  Napi::Value Sample(const Napi::CallbackInfo& info);        // sample(logits: Float32Array): number
  Napi::Value Accept(const Napi::CallbackInfo& info);        // accept(tokens: Int32Array): void
  Napi::Value ClearHistory(const Napi::CallbackInfo& info);  // clearHistory(): void

 private:
  std::unique_ptr<Sampler> sampler_;
};

// createSampler(options) -> NativeSampler; ERR_LFM_INVALID_ARG naming the option when one is bad.
Napi::Value create_sampler(const Napi::CallbackInfo& info);

}  // namespace lfm::napi
