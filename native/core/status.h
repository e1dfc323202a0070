// SPDX-License-Identifier: MIT
// Status: how the core reports failure. The core never throws across threads and never exits.
#pragma once

#include <string>
#include <utility>

namespace lfm {

// Each code maps to one ERR_LFM_* string seen by JavaScript (status_code_name).
enum class StatusCode {
  kOk = 0,
  kInvalidArg,        // ERR_LFM_INVALID_ARG
  kFileNotFound,      // ERR_LFM_FILE_NOT_FOUND
  kIo,                // ERR_LFM_IO
  kFormat,            // ERR_LFM_MODEL_FORMAT: not a GGUF, truncated, bad metadata
  kUnsupportedArch,   // ERR_LFM_UNSUPPORTED_ARCH
  kUnsupportedType,   // ERR_LFM_UNSUPPORTED_TYPE
  kShapeMismatch,     // ERR_LFM_SHAPE_MISMATCH
  kTokenRange,        // ERR_LFM_TOKEN_RANGE
  kContextOverflow,   // ERR_LFM_CONTEXT_OVERFLOW
  kDisposed,          // ERR_LFM_DISPOSED
  kOutOfMemory,       // ERR_LFM_OOM
  kUnsupportedCpu,    // ERR_LFM_UNSUPPORTED_CPU
  kInternal,          // ERR_LFM_INTERNAL
  // Appended (the CUDA backend returns these numbers across its C interface: never renumber).
  kDevice,            // ERR_LFM_DEVICE: a GPU operation failed (launch, copy, driver error)
  kDeviceUnavailable, // ERR_LFM_DEVICE_UNAVAILABLE: device "cuda" asked for, none usable
};

inline const char* status_code_name(StatusCode c) {
  switch (c) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArg: return "ERR_LFM_INVALID_ARG";
    case StatusCode::kFileNotFound: return "ERR_LFM_FILE_NOT_FOUND";
    case StatusCode::kIo: return "ERR_LFM_IO";
    case StatusCode::kFormat: return "ERR_LFM_MODEL_FORMAT";
    case StatusCode::kUnsupportedArch: return "ERR_LFM_UNSUPPORTED_ARCH";
    case StatusCode::kUnsupportedType: return "ERR_LFM_UNSUPPORTED_TYPE";
    case StatusCode::kShapeMismatch: return "ERR_LFM_SHAPE_MISMATCH";
    case StatusCode::kTokenRange: return "ERR_LFM_TOKEN_RANGE";
    case StatusCode::kContextOverflow: return "ERR_LFM_CONTEXT_OVERFLOW";
    case StatusCode::kDisposed: return "ERR_LFM_DISPOSED";
    case StatusCode::kOutOfMemory: return "ERR_LFM_OOM";
    case StatusCode::kUnsupportedCpu: return "ERR_LFM_UNSUPPORTED_CPU";
    case StatusCode::kInternal: return "ERR_LFM_INTERNAL";
    case StatusCode::kDevice: return "ERR_LFM_DEVICE";
    case StatusCode::kDeviceUnavailable: return "ERR_LFM_DEVICE_UNAVAILABLE";
  }
  return "ERR_LFM_INTERNAL";
}

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Propagate a non-OK Status to the caller.
#define LFM_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::lfm::Status lfm_status_ = (expr);        \
    if (!lfm_status_.is_ok()) return lfm_status_; \
  } while (0)

}  // namespace lfm
