// SPDX-License-Identifier: MIT
// AVX-512: y[i] += a * x[i], i < n. Contiguous f32, any n (masked tail).
// One FMA per element: the correctly rounded result, equal to scalar::axpy_f32 except in rare
// double-rounding cases (1 ulp).

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {

void axpy_f32(float* y, float a, const float* x, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    const __m512 y0 = _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
    const __m512 y1 = _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i + kLanes), _mm512_loadu_ps(y + i + kLanes));
    _mm512_storeu_ps(y + i, y0);
    _mm512_storeu_ps(y + i + kLanes, y1);
  }
  for (; i < n; i += kLanes) {
    const __mmask16 m = first_lanes(n - i);
    const __m512 v = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
    _mm512_mask_storeu_ps(y + i, m, v);
  }
}

}  // namespace lfm::cpu::avx512
