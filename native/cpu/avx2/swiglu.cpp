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
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i m = first_lanes(n - i);
    const __m256 g = _mm256_maskload_ps(gate + i, m);
    const __m256 u = _mm256_maskload_ps(up + i, m);
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(silu, u));
  }
}

}  // namespace lfm::cpu::avx2
