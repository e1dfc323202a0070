// SPDX-License-Identifier: MIT
// AVX-512: f32 activation rows -> Q16 form (dispatch.h, QuantActs), byte for byte what
// scalar::quantize_acts gives (correctly rounded division, round-to-nearest-even conversion,
// exact integer sums).

#include "../kernel_sets.h"
#include "../avx512/simd_avx512.h"

namespace lfm::cpu::avx512vnni {

using avx512::first_lanes;
using avx512::hmax;

namespace {

// out[k] = d * (sum of the 16 int32 lanes of q[k]), k < 8: the integer sums are exact (a
// transpose-add tree), each product rounds once, as in the scalar reference.
static inline void sums8(float* out, const __m512i (&q)[8], float d) {
  __m512i u[4], v[2];
  for (int i = 0; i < 4; ++i) {
    u[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(q[2 * i], q[2 * i + 1]), _mm512_unpackhi_epi32(q[2 * i], q[2 * i + 1]));
  }
  // v[i], 128-bit lane L: the lane-L partial sums of q[4i .. 4i + 3].
  for (int i = 0; i < 2; ++i) {
    v[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(u[2 * i], u[2 * i + 1]), _mm512_unpackhi_epi64(u[2 * i], u[2 * i + 1]));
  }
  const __m512i x = _mm512_add_epi32(_mm512_shuffle_i32x4(v[0], v[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_i32x4(v[0], v[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512i y = _mm512_add_epi32(x, _mm512_shuffle_i32x4(x, x, _MM_SHUFFLE(2, 3, 0, 1)));
  const __m128 vd = _mm_set1_ps(d);
  _mm_storeu_ps(out, _mm_mul_ps(_mm_cvtepi32_ps(_mm512_extracti32x4_epi32(y, 0)), vd));
  _mm_storeu_ps(out + 4, _mm_mul_ps(_mm_cvtepi32_ps(_mm512_extracti32x4_epi32(y, 2)), vd));
}

}  // namespace

void quantize_acts(const QuantActs& out, const float* x, int64_t ldx, int64_t n_cols, int64_t t0,
                   int64_t t1) {
  const int64_t ld = out.ld;
  const bool one_term = out.lo == nullptr;
  const float qmax = one_term ? 127.0f : 32512.0f;
  const int span = one_term ? 32 : static_cast<int>(kQ16Group);  // columns sharing one scale
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512 lim = _mm512_set1_ps(qmax);
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * ldx;
    int8_t* hi = out.hi + t * ld;
    int8_t* lo = out.lo ? out.lo + t * ld : nullptr;
    float* d = out.d + t * (ld / 32);
    float* s16 = out.sum16 + t * (ld / 16);
    for (int64_t c0 = 0; c0 < ld; c0 += span) {
      __m512 v[kQ16Group / 16];
      __m512 m = _mm512_setzero_ps();
      for (int k = 0; k < span / 16; ++k) {
        v[k] = _mm512_maskz_loadu_ps(first_lanes(n_cols - c0 - 16 * k), xt + c0 + 16 * k);
        m = _mm512_max_ps(m, _mm512_and_ps(v[k], abs_mask));
      }
      const float ds = hmax(m) / qmax;
      for (int k = 0; k < span / 32; ++k) d[c0 / 32 + k] = ds;
      const __m512 vd = _mm512_set1_ps(ds);
      __m512i qs[kQ16Group / 16];
      for (int k = 0; k < span / 16; ++k) {
        const int64_t c = c0 + 16 * k;
        __m512i q = _mm512_setzero_si512();
        if (ds > 0.0f) {
          __m512 r = _mm512_roundscale_ps(_mm512_div_ps(v[k], vd), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          r = _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), lim), _mm512_min_ps(lim, r));
          q = _mm512_cvtps_epi32(r);
        }
        qs[k] = q;
        if (one_term) {
          s16[c / 16] = ds * static_cast<float>(_mm512_reduce_add_epi32(q));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(hi + c), _mm512_cvtepi32_epi8(q));
          continue;
        }
        const __m512i hv = _mm512_srai_epi32(_mm512_add_epi32(q, _mm512_set1_epi32(128)), 8);  // floor
        const __m512i lv = _mm512_sub_epi32(q, _mm512_slli_epi32(hv, 8));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(hi + c), _mm512_cvtepi32_epi8(hv));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(lo + c), _mm512_cvtepi32_epi8(lv));
      }
      if (!one_term) sums8(s16 + c0 / 16, qs, ds);
    }
  }
}

}  // namespace lfm::cpu::avx512vnni
