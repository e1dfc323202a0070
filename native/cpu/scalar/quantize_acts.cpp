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
  const bool one_term = out.lo == nullptr;
  const float qmax = one_term ? 127.0f : 32512.0f;
  const int64_t span = one_term ? 32 : kQ16Group;  // columns sharing one scale
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * ldx;
    int8_t* hi = out.hi + t * ld;
    int8_t* lo = out.lo ? out.lo + t * ld : nullptr;
    float* d = out.d + t * (ld / 32);
    float* s16 = out.sum16 + t * (ld / 16);
    for (int64_t c0 = 0; c0 < ld; c0 += span) {
      float amax = 0.0f;
      for (int64_t c = c0; c < c0 + span && c < n_cols; ++c) amax = std::fmax(amax, std::fabs(xt[c]));
      const float ds = amax / qmax;
      for (int64_t b = c0 / 32; b < (c0 + span) / 32; ++b) d[b] = ds;
      int32_t qsum = 0;
      for (int64_t c = c0; c < c0 + span; ++c) {
        int32_t q = 0;
        if (c < n_cols && ds > 0.0f) {
          const float v = std::rint(xt[c] / ds);
          q = static_cast<int32_t>(std::fmax(-qmax, std::fmin(qmax, v)));
        }
        qsum += q;
        if (c % 16 == 15) {
          s16[c / 16] = ds * static_cast<float>(qsum);
          qsum = 0;
        }
        if (one_term) {
          hi[c] = static_cast<int8_t>(q);
          continue;
        }
        // q = 256*h + l with l in [-128, 127]: h = floor((q + 128) / 256).
        const int32_t h = (q + 128 + 32768) / 256 - 128;
        hi[c] = static_cast<int8_t>(h);
        lo[c] = static_cast<int8_t>(q - 256 * h);
      }
    }
  }
}

}  // namespace lfm::cpu::scalar
