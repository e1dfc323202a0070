// SPDX-License-Identifier: MIT
// Test-only binding: run one CPU kernel of one ISA on JavaScript typed arrays (test/kernels).
#pragma once

#include <napi.h>

namespace lfm::napi {

// Adds exports._runKernel(isa, op, args) -> Float32Array. Ops and their arguments are listed in
// kernel_hooks.cpp. Not part of the public API (leading underscore, as sharp does).
void RegisterKernelHooks(Napi::Env env, Napi::Object exports);

}  // namespace lfm::napi
