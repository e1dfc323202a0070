// SPDX-License-Identifier: MIT
// AVX-512: y[i] = (x[i] * s) * w[i], s = f32(1 / sqrt(sum(x^2) / n + eps)), i < n.
// Contiguous f32, any n (masked tail), y may alias x. The squares are summed in double like the
// scalar reference (x*x is exact in double), so s, and hence y, match scalar::rmsnorm_f32 to
// within an ulp (only the order of the double additions differs).

#include <cmath>

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {

void rmsnorm_f32(float* y, const float* x, const float* w, int64_t n, float eps) {
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m512 v = _mm512_maskz_loadu_ps(first_lanes(n - i), x + i);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    acc0 = _mm512_fmadd_pd(lo, lo, acc0);
    acc1 = _mm512_fmadd_pd(hi, hi, acc1);
  }
  const double sum_sq = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
  const float s = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  const __m512 sv = _mm512_set1_ps(s);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = first_lanes(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 g = _mm512_maskz_loadu_ps(m, w + i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_mul_ps(v, sv), g));
  }
}

}  // namespace lfm::cpu::avx512
