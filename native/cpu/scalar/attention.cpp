// SPDX-License-Identifier: MIT
// Scalar reference: one query head against n_keys cached keys/values:
//   s_j = scale * dot(q, k_j);  out = sum_j softmax(s)_j * v_j
// Layout: q [head_dim]; key j at k + j*ld_kv, value j at v + j*ld_kv; out [head_dim].
// Any head_dim >= 1, n_keys >= 1. Online softmax (one pass over the keys, no score buffer) with
// everything in double: the accumulator lives on the stack in chunks of kChunk dimensions
// (keys are re-read per chunk only when head_dim > kChunk). SIMD versions (f32) are tested
// against this with a tolerance scaled by max|v|.

#include <cmath>

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

namespace {
constexpr int64_t kChunk = 256;
}

void attention_f32(float* out, const float* q, const float* k, const float* v, int64_t ld_kv,
                   int64_t n_keys, int64_t head_dim, float scale) {
  for (int64_t d0 = 0; d0 < head_dim; d0 += kChunk) {
    const int64_t nd = head_dim - d0 < kChunk ? head_dim - d0 : kChunk;
    double acc[kChunk];  // [nd] running sum_j exp(s_j - m) * v_j[d0 + d]
    for (int64_t d = 0; d < nd; ++d) acc[d] = 0.0;
    double m = -INFINITY;  // running max score
    double l = 0.0;        // running sum_j exp(s_j - m)
    for (int64_t j = 0; j < n_keys; ++j) {
      const float* kj = k + j * ld_kv;
      const float* vj = v + j * ld_kv + d0;
      double dot = 0.0;
      for (int64_t d = 0; d < head_dim; ++d) dot += static_cast<double>(q[d]) * kj[d];
      const double s = dot * scale;
      if (s > m) {  // new maximum: rescale what was accumulated so far
        const double corr = std::exp(m - s);
        l *= corr;
        for (int64_t d = 0; d < nd; ++d) acc[d] *= corr;
        m = s;
      }
      const double p = std::exp(s - m);
      l += p;
      for (int64_t d = 0; d < nd; ++d) acc[d] += p * vj[d];
    }
    for (int64_t d = 0; d < nd; ++d) out[d0 + d] = static_cast<float>(acc[d] / l);
  }
}

}  // namespace lfm::cpu::scalar
