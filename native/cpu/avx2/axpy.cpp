// SPDX-License-Identifier: MIT
// AVX2: y[i] += a * x[i], i < n. Contiguous f32, any n (masked tail).
// One FMA per element: the correctly rounded result, equal to scalar::axpy_f32 except in rare
// double-rounding cases (1 ulp).

#include "../kernel_sets.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {

void axpy_f32(float* y, float a, const float* x, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    const __m256 y0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    const __m256 y1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i + kLanes), _mm256_loadu_ps(y + i + kLanes));
    _mm256_storeu_ps(y + i, y0);
    _mm256_storeu_ps(y + i + kLanes, y1);
  }
  for (; i < n; i += kLanes) {
    const __m256i m = first_lanes(n - i);
    const __m256 v = _mm256_fmadd_ps(av, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m));
    _mm256_maskstore_ps(y + i, m, v);
  }
}

}  // namespace lfm::cpu::avx2
