// SPDX-License-Identifier: MIT
// AVX-512: y[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)), i < n.
// Contiguous f32, any n (masked tail); y may alias gate or up. exp is the ~1 ulp polynomial of
// simd_avx512.h and the division is exact-rounded, so y is within a few ulp of
// scalar::swiglu_f32 (which evaluates in double).

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {

void swiglu_f32(float* y, const float* gate, const float* up, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = first_lanes(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 u = _mm512_maskz_loadu_ps(m, up + i);
    // e = exp(-|g|) <= 1 never overflows: silu = g / (1 + e) for g >= 0 and g * e / (1 + e) for
    // g < 0 (the same function, but exact down to the subnormal range instead of 0 below -88.7).
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(g)));
    const __mmask16 neg = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 num = _mm512_mask_mul_ps(g, neg, g, e);
    const __m512 silu = _mm512_div_ps(num, _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(silu, u));
  }
}

}  // namespace lfm::cpu::avx512
