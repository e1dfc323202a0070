// SPDX-License-Identifier: MIT
// AVX2: y[i] = (x[i] * s) * w[i], s = f32(1 / sqrt(sum(x^2) / n + eps)), i < n.
// Contiguous f32, any n (masked tail), y may alias x. The squares are summed in double like the
// scalar reference (x*x is exact in double), so s, and hence y, match scalar::rmsnorm_f32 to
// within an ulp (only the order of the double additions differs).

#include <cmath>

#include "../kernel_sets.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {

void rmsnorm_f32(float* y, const float* x, const float* w, int64_t n, float eps) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256 v = _mm256_maskload_ps(x + i, first_lanes(n - i));
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    acc0 = _mm256_fmadd_pd(lo, lo, acc0);
    acc1 = _mm256_fmadd_pd(hi, hi, acc1);
  }
  const __m256d a = _mm256_add_pd(acc0, acc1);
  __m128d b = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  b = _mm_add_sd(b, _mm_unpackhi_pd(b, b));
  const double sum_sq = _mm_cvtsd_f64(b);
  const float s = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  const __m256 sv = _mm256_set1_ps(s);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i m = first_lanes(n - i);
    const __m256 v = _mm256_maskload_ps(x + i, m);
    const __m256 g = _mm256_maskload_ps(w + i, m);
    _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(_mm256_mul_ps(v, sv), g));
  }
}

}  // namespace lfm::cpu::avx2
