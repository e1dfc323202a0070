// SPDX-License-Identifier: MIT
// Per-addon-instance state (context-aware: no mutable statics; one per Node environment).
#pragma once

#include <napi.h>

#include "../core/status.h"
#include "../cpu/dispatch.h"

namespace lfm::napi {

struct AddonData {
  Napi::FunctionReference model_ctor;
  Napi::FunctionReference sequence_ctor;
  Napi::FunctionReference sampler_ctor;
  cpu::Isa isa = cpu::Isa::kScalar;  // kernel table for models loaded from now on
  Status isa_status;                 // non-OK when LFM2_CPU_ISA asked for something unusable
};

inline AddonData* addon_data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace lfm::napi
