// SPDX-License-Identifier: MIT
// Scalar reference: f32 activation rows -> Q16 form (dispatch.h, QuantActs). Every ISA's
// version must produce the same hi, lo and d: d is max|x| / 32512 and q = rint(x / d), both
// correctly rounded IEEE operations, so they do not depend on the order of evaluation. The
// 16-column sums may differ in the last bits (order of the f32 additions).

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
    int8_t* lo = out.lo + t * ld;
    float* d = out.d + t * (ld / 32);
    float* s16 = out.sum16 + t * (ld / 16);
    for (int64_t b = 0; b * 32 < ld; ++b) {
      const int64_t c0 = b * 32;
      const int64_t n = n_cols - c0 < 32 ? (n_cols - c0 > 0 ? n_cols - c0 : 0) : 32;
      float amax = 0.0f;
      for (int64_t j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(xt[c0 + j]));
      const float db = amax / 32512.0f;
      d[b] = db;
      for (int h = 0; h < 2; ++h) {
        float s = 0.0f;
        for (int64_t j = h * 16; j < h * 16 + 16 && j < n; ++j) s += xt[c0 + j];
        s16[2 * b + h] = s;
      }
      for (int64_t j = 0; j < 32; ++j) {
        int32_t q = 0;
        if (j < n && db > 0.0f) {
          const float v = std::rint(xt[c0 + j] / db);
          q = static_cast<int32_t>(std::fmax(-32512.0f, std::fmin(32512.0f, v)));
        }
        // q = 256*h + l with l in [-128, 127]: h = floor((q + 128) / 256).
        const int32_t h = (q + 128 + 32768) / 256 - 128;
        hi[c0 + j] = static_cast<int8_t>(h);
        lo[c0 + j] = static_cast<int8_t>(q - 256 * h);
      }
    }
  }
}

}  // namespace lfm::cpu::scalar
