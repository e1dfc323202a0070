// SPDX-License-Identifier: MIT
// Scalar reference: y[i] += a * x[i], i < n. Contiguous f32, any n.
// a*x is exact in double, so this rounds like a fused multiply-add (the AVX versions use FMA).

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void axpy_f32(float* y, float a, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<float>(static_cast<double>(y[i]) + static_cast<double>(a) * x[i]);
  }
}

}  // namespace lfm::cpu::scalar
