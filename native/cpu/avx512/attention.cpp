// SPDX-License-Identifier: MIT
// AVX-512: one query head against n_keys cached keys/values, online softmax, no score buffer:
//   s_j = scale * dot(q, k_j);  out = sum_j softmax(s)_j * v_j
// Layout: q, out [head_dim]; key j at k + j*ld_kv, value j at v + j*ld_kv. Any head_dim >= 1
// and n_keys >= 1 (masked tails). Keys go 16 at a time: 16 dot products are reduced into one
// vector of scores by a transpose-add tree, the running max / sum / output are rescaled once
// per block (FlashAttention style), then the 16 values are accumulated. The output lives in
// registers for head_dim <= 128, in `out` otherwise. Matches scalar::attention_f32 (double)
// within the f32 tolerance of test/kernels.

#include <cmath>

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

// r[j] = sum of the lanes of t[j], j < 16.
static inline __m512 transpose_sum16(__m512 (&t)[16]) {
  __m512 u[8], v[4], w[2];
  for (int i = 0; i < 8; ++i) {
    u[i] = _mm512_add_ps(_mm512_unpacklo_ps(t[2 * i], t[2 * i + 1]),
                         _mm512_unpackhi_ps(t[2 * i], t[2 * i + 1]));
  }
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
  for (int i = 0; i < 2; ++i) {
    w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
  return _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// NV > 0: head_dim <= 16*NV, q, the lane masks and the output accumulator in registers (loops
// over c fully unrolled). NV == 0: any head_dim, accumulator kept in `out`.
template <int NV>
static inline void attend(float* out, const float* q, const float* k, const float* v,
                          int64_t ld_kv, int64_t n_keys, int64_t head_dim, float scale) {
  constexpr int kRegs = NV > 0 ? NV : 1;
  const int64_t nv = NV > 0 ? NV : (head_dim + kLanes - 1) / kLanes;
  __m512 acc[kRegs], qv[kRegs];
  __mmask16 mc[kRegs];
  if constexpr (NV > 0) {
    for (int c = 0; c < NV; ++c) {
      mc[c] = first_lanes(head_dim - c * kLanes);
      qv[c] = _mm512_maskz_loadu_ps(mc[c], q + c * kLanes);
      acc[c] = _mm512_setzero_ps();
    }
  } else {
    for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  }
  float m = -INFINITY;               // running max score
  __m512 lsum = _mm512_setzero_ps();  // running sum of exp(s - m), per lane
  alignas(64) float p[kLanes];
  for (int64_t j0 = 0; j0 < n_keys; j0 += kLanes) {
    const int64_t nk = n_keys - j0 < kLanes ? n_keys - j0 : kLanes;
    // Dot products; keys past the end repeat the last key and are masked out below.
    __m512 part[16];
#pragma GCC unroll 16
    for (int jj = 0; jj < 16; ++jj) {
      const float* kj = k + (j0 + (jj < nk ? jj : nk - 1)) * ld_kv;
      if constexpr (NV > 0) {
        __m512 s = _mm512_mul_ps(qv[0], _mm512_maskz_loadu_ps(mc[0], kj));
        for (int c = 1; c < NV; ++c) s = _mm512_fmadd_ps(qv[c], _mm512_maskz_loadu_ps(mc[c], kj + c * kLanes), s);
        part[jj] = s;
      } else {
        __m512 s = _mm512_setzero_ps();
        for (int64_t c = 0; c < nv; ++c) {
          const __mmask16 m1 = first_lanes(head_dim - c * kLanes);
          s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, q + c * kLanes), _mm512_maskz_loadu_ps(m1, kj + c * kLanes), s);
        }
        part[jj] = s;
      }
    }
    const __mmask16 valid = first_lanes(nk);
    const __m512 s = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid,
                                        _mm512_mul_ps(transpose_sum16(part), _mm512_set1_ps(scale)));
    const float block_max = hmax(s);
    if (block_max > m) {  // rescale what was accumulated under the old maximum
      const __m512 corr = exp_ps(_mm512_set1_ps(m - block_max));  // exp(-inf) = 0 at the start
      m = block_max;
      lsum = _mm512_mul_ps(lsum, corr);
      if constexpr (NV > 0) {
        for (int c = 0; c < NV; ++c) acc[c] = _mm512_mul_ps(acc[c], corr);
      } else {
        for (int64_t c = 0; c < nv; ++c) {
          const __mmask16 m1 = first_lanes(head_dim - c * kLanes);
          _mm512_mask_storeu_ps(out + c * kLanes, m1,
                                _mm512_mul_ps(_mm512_maskz_loadu_ps(m1, out + c * kLanes), corr));
        }
      }
    }
    const __m512 pv = _mm512_maskz_mov_ps(valid, exp_ps(_mm512_sub_ps(s, _mm512_set1_ps(m))));
    lsum = _mm512_add_ps(lsum, pv);
    _mm512_store_ps(p, pv);
    const float* vj = v + j0 * ld_kv;
    for (int64_t jj = 0; jj < nk; ++jj, vj += ld_kv) {
      const __m512 pj = _mm512_set1_ps(p[jj]);
      if constexpr (NV > 0) {
        for (int c = 0; c < NV; ++c) acc[c] = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(mc[c], vj + c * kLanes), acc[c]);
      } else {
        for (int64_t c = 0; c < nv; ++c) {
          const __mmask16 m1 = first_lanes(head_dim - c * kLanes);
          const __m512 o = _mm512_maskz_loadu_ps(m1, out + c * kLanes);
          _mm512_mask_storeu_ps(out + c * kLanes, m1, _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m1, vj + c * kLanes), o));
        }
      }
    }
  }
  const __m512 l = _mm512_set1_ps(hsum(lsum));
  for (int64_t c = 0; c < nv; ++c) {
    const __mmask16 m1 = first_lanes(head_dim - c * kLanes);
    __m512 o;
    if constexpr (NV > 0) {
      o = acc[c];
    } else {
      o = _mm512_maskz_loadu_ps(m1, out + c * kLanes);
    }
    _mm512_mask_storeu_ps(out + c * kLanes, m1, _mm512_div_ps(o, l));
  }
}

}  // namespace

void attention_f32(float* out, const float* q, const float* k, const float* v, int64_t ld_kv,
                   int64_t n_keys, int64_t head_dim, float scale) {
  if (head_dim <= 16) attend<1>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
  else if (head_dim <= 32) attend<2>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
  else if (head_dim <= 64) attend<4>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
  else if (head_dim <= 128) attend<8>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
  else attend<0>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
}

}  // namespace lfm::cpu::avx512
