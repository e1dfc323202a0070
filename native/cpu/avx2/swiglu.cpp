// SPDX-License-Identifier: MIT
// AVX2: y[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)), i < n.
// Contiguous f32, any n (masked tail); y may alias gate or up. exp is the ~1 ulp polynomial of
// simd_avx2.h and the division is exact-rounded, so y is within a few ulp of
// scalar::swiglu_f32 (which evaluates in double).

#include "../kernel_sets.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {

void swiglu_f32(float* y, const float* gate, const float* up, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i m = first_lanes(n - i);
    const __m256 g = _mm256_maskload_ps(gate + i, m);
    const __m256 u = _mm256_maskload_ps(up + i, m);
    // e = exp(-|g|) <= 1 never overflows: silu = g / (1 + e) for g >= 0 and g * e / (1 + e) for
    // g < 0 (the same function, but exact down to the subnormal range instead of 0 below -88.7).
    const __m256 e = exp_ps(_mm256_or_ps(g, sign));
    const __m256 neg = _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 num = _mm256_blendv_ps(g, _mm256_mul_ps(g, e), neg);
    const __m256 silu = _mm256_div_ps(num, _mm256_add_ps(one, e));
    _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(silu, u));
  }
}

}  // namespace lfm::cpu::avx2
