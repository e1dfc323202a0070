// SPDX-License-Identifier: MIT
// AVX2: one query head against n_keys cached keys/values, online softmax, no score buffer:
//   s_j = scale * dot(q, k_j);  out = sum_j softmax(s)_j * v_j
// Layout: q, out [head_dim]; key j at k + j*ld_kv, value j at v + j*ld_kv. Any head_dim >= 1
// and n_keys >= 1 (masked tails). Keys go 8 at a time: 8 dot products are reduced into one
// vector of scores by a horizontal-add tree, the running max / sum / output are rescaled once
// per block (FlashAttention style), then the 8 values are accumulated. The output lives in
// registers for head_dim <= 64, in `out` otherwise. Matches scalar::attention_f32 (double)
// within the f32 tolerance of test/kernels.

#include <cmath>

#include "../kernel_sets.h"
#include "simd_avx2.h"

namespace lfm::cpu::avx2 {
namespace {

// r[j] = sum of the lanes of t[j], j < 8.
static inline __m256 transpose_sum8(__m256 (&t)[8]) {
  const __m256 h01 = _mm256_hadd_ps(t[0], t[1]), h23 = _mm256_hadd_ps(t[2], t[3]);
  const __m256 h45 = _mm256_hadd_ps(t[4], t[5]), h67 = _mm256_hadd_ps(t[6], t[7]);
  const __m256 a = _mm256_hadd_ps(h01, h23);  // per 128-bit half: partial sums of keys 0..3
  const __m256 b = _mm256_hadd_ps(h45, h67);  // keys 4..7
  return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

// NV > 0: head_dim <= 8*NV, output accumulator in registers.
// NV == 0: any head_dim, accumulator kept in `out`.
template <int NV>
static inline void attend(float* out, const float* q, const float* k, const float* v,
                          int64_t ld_kv, int64_t n_keys, int64_t head_dim, float scale) {
  const int64_t nv = NV > 0 ? NV : (head_dim + kLanes - 1) / kLanes;
  __m256 acc[NV > 0 ? NV : 1];
  if constexpr (NV > 0) {
    for (int c = 0; c < NV; ++c) acc[c] = _mm256_setzero_ps();
  } else {
    for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  }
  float m = -INFINITY;                // running max score
  __m256 lsum = _mm256_setzero_ps();  // running sum of exp(s - m), per lane
  alignas(32) float p[kLanes];
  for (int64_t j0 = 0; j0 < n_keys; j0 += kLanes) {
    const int64_t nk = n_keys - j0 < kLanes ? n_keys - j0 : kLanes;
    // Dot products; keys past the end repeat the last key and are masked out below.
    __m256 part[8];
    for (int jj = 0; jj < 8; ++jj) {
      const float* kj = k + (j0 + (jj < nk ? jj : nk - 1)) * ld_kv;
      __m256 s = _mm256_setzero_ps();
      for (int64_t c = 0; c < nv; ++c) {
        const __m256i mc = first_lanes(head_dim - c * kLanes);
        s = _mm256_fmadd_ps(_mm256_maskload_ps(q + c * kLanes, mc),
                            _mm256_maskload_ps(kj + c * kLanes, mc), s);
      }
      part[jj] = s;
    }
    const __m256 valid = _mm256_castsi256_ps(first_lanes(nk));
    const __m256 s = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY),
                                      _mm256_mul_ps(transpose_sum8(part), _mm256_set1_ps(scale)), valid);
    const float block_max = hmax(s);
    if (block_max > m) {  // rescale what was accumulated under the old maximum
      const __m256 corr = exp_ps(_mm256_set1_ps(m - block_max));  // exp(-inf) = 0 at the start
      m = block_max;
      lsum = _mm256_mul_ps(lsum, corr);
      if constexpr (NV > 0) {
        for (int c = 0; c < NV; ++c) acc[c] = _mm256_mul_ps(acc[c], corr);
      } else {
        for (int64_t c = 0; c < nv; ++c) {
          const __m256i mc = first_lanes(head_dim - c * kLanes);
          _mm256_maskstore_ps(out + c * kLanes, mc,
                              _mm256_mul_ps(_mm256_maskload_ps(out + c * kLanes, mc), corr));
        }
      }
    }
    const __m256 pv = _mm256_and_ps(valid, exp_ps(_mm256_sub_ps(s, _mm256_set1_ps(m))));
    lsum = _mm256_add_ps(lsum, pv);
    _mm256_store_ps(p, pv);
    for (int64_t jj = 0; jj < nk; ++jj) {
      const __m256 pj = _mm256_set1_ps(p[jj]);
      const float* vj = v + (j0 + jj) * ld_kv;
      if constexpr (NV > 0) {
        for (int c = 0; c < NV; ++c) {
          const __m256i mc = first_lanes(head_dim - c * kLanes);
          acc[c] = _mm256_fmadd_ps(pj, _mm256_maskload_ps(vj + c * kLanes, mc), acc[c]);
        }
      } else {
        for (int64_t c = 0; c < nv; ++c) {
          const __m256i mc = first_lanes(head_dim - c * kLanes);
          const __m256 o = _mm256_maskload_ps(out + c * kLanes, mc);
          _mm256_maskstore_ps(out + c * kLanes, mc,
                              _mm256_fmadd_ps(pj, _mm256_maskload_ps(vj + c * kLanes, mc), o));
        }
      }
    }
  }
  const __m256 l = _mm256_set1_ps(hsum(lsum));
  for (int64_t c = 0; c < nv; ++c) {
    const __m256i mc = first_lanes(head_dim - c * kLanes);
    __m256 o;
    if constexpr (NV > 0) {
      o = acc[c];
    } else {
      o = _mm256_maskload_ps(out + c * kLanes, mc);
    }
    _mm256_maskstore_ps(out + c * kLanes, mc, _mm256_div_ps(o, l));
  }
}

}  // namespace

void attention_f32(float* out, const float* q, const float* k, const float* v, int64_t ld_kv,
                   int64_t n_keys, int64_t head_dim, float scale) {
  if (head_dim <= 8) attend<1>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
  else if (head_dim <= 16) attend<2>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
  else if (head_dim <= 32) attend<4>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
  else if (head_dim <= 64) attend<8>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
  else attend<0>(out, q, k, v, ld_kv, n_keys, head_dim, scale);
}

}  // namespace lfm::cpu::avx2
