// SPDX-License-Identifier: MIT
// What the no-Node tools share: timing, reporting an engine error, parsing integer arguments.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "../core/status.h"

namespace lfm::tools {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Prints "ERR_LFM_*: message" on stderr; the tools' exit status for an engine error.
inline int fail(const Status& st) {
  std::fprintf(stderr, "%s: %s\n", status_code_name(st.code()), st.message().c_str());
  return 1;
}

// Parses a whole decimal integer in [lo, hi].
inline bool parse_int(const char* s, int64_t lo, int64_t hi, int64_t* out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace lfm::tools
