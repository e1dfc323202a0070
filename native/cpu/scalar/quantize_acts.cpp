// SPDX-License-Identifier: MIT
// Scalar reference: f32 activation rows -> Q16 form (dispatch.h, QuantActs). Every ISA's
// version must produce the same bytes: d is max|x| / 32512 (127 for one term) and q = rint(x /
// d), both correctly rounded IEEE operations, and the 16-column sums are d times an exact
// integer sum, so nothing depends on the order of evaluation.

#include <cmath>
#include <cstring>

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void quantize_acts(const QuantActs& out, const float* x, int64_t ldx, int64_t n_cols, int64_t t0,
                   int64_t t1) {
  const int64_t ld = out.ld;
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * ldx;
    int8_t* hi = out.hi + t * ld;
    int8_t* lo = out.lo ? out.lo + t * ld : nullptr;
    float* d = out.d + t * (ld / 32);
    float* s16 = out.sum16 + t * (ld / 16);
    for (int64_t b = 0; b * 32 < ld; ++b) {
      const int64_t c0 = b * 32;
      const int64_t n = n_cols - c0 < 32 ? (n_cols - c0 > 0 ? n_cols - c0 : 0) : 32;
      float amax = 0.0f;
      for (int64_t j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(xt[c0 + j]));
      const bool one_term = lo == nullptr;
      const float qmax = one_term ? 127.0f : 32512.0f;
      const float db = amax / qmax;
      d[b] = db;
      int32_t qsum[2] = {0, 0};
      for (int64_t j = 0; j < 32; ++j) {
        int32_t q = 0;
        if (j < n && db > 0.0f) {
          const float v = std::rint(xt[c0 + j] / db);
          q = static_cast<int32_t>(std::fmax(-qmax, std::fmin(qmax, v)));
        }
        qsum[j / 16] += q;
        if (one_term) {
          hi[c0 + j] = static_cast<int8_t>(q);
          continue;
        }
        // q = 256*h + l with l in [-128, 127]: h = floor((q + 128) / 256).
        const int32_t h = (q + 128 + 32768) / 256 - 128;
        hi[c0 + j] = static_cast<int8_t>(h);
        lo[c0 + j] = static_cast<int8_t>(q - 256 * h);
      }
      s16[2 * b] = db * static_cast<float>(qsum[0]);
      s16[2 * b + 1] = db * static_cast<float>(qsum[1]);
    }
  }
}

}  // namespace lfm::cpu::scalar
