// SPDX-License-Identifier: MIT
// Scalar reference: y[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)), i < n.
// Layout: contiguous f32; y may alias gate or up; any n. Evaluated in double and rounded once,
// so it is the correctly rounded result in practice; SIMD versions (own expf) must stay within
// a few ulp of it.

#include <cmath>

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void swiglu_f32(float* y, const float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    y[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

}  // namespace lfm::cpu::scalar
