// SPDX-License-Identifier: MIT
// Status -> JavaScript error (with .code), and small readers for already-validated options.
#pragma once

#include <napi.h>

#include <string>

#include "../core/status.h"

namespace lfm::napi {

inline Napi::Error status_error(Napi::Env env, const Status& s) {
  Napi::Error e = Napi::Error::New(env, s.message());
  e.Set("code", Napi::String::New(env, status_code_name(s.code())));
  return e;
}

inline Napi::Error code_error(Napi::Env env, StatusCode code, const std::string& message) {
  return status_error(env, Status(code, message));
}

// Programmer-error guard for the binding (TypeScript validates user input before this point).
#define LFM_NAPI_THROW_IF(cond, env, message)                                          \
  do {                                                                                 \
    if (cond) {                                                                        \
      ::lfm::napi::code_error(env, ::lfm::StatusCode::kInvalidArg, message).ThrowAsJavaScriptException(); \
      return (env).Undefined();                                                        \
    }                                                                                  \
  } while (0)

inline int64_t get_int(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : fallback;
}

}  // namespace lfm::napi
