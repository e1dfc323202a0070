// SPDX-License-Identifier: MIT
// Scalar reference: y[i] = (x[i] * s) * w[i], s = f32(1 / sqrt(sum(x^2) / n + eps)), i < n.
// Layout: contiguous f32 vectors; y may alias x; any n >= 1. The sum of squares is taken in
// double (HF Lfm2RMSNorm computes it in fp32; this is the exact version of that). SIMD versions
// also sum in double and must match to within an ulp or two.

#include <cmath>

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void rmsnorm_f32(float* y, const float* x, const float* w, int64_t n, float eps) {
  double sum_sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float s = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * s) * w[i];
}

}  // namespace lfm::cpu::scalar
