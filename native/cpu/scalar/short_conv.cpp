// SPDX-License-Identifier: MIT
// Scalar reference for the LFM2 gated short convolution (lfm2-spec 1.3), channels [c0, c1):
//   bx_t = B_t * x_t;  conv_t = sum_{k<L} w[c*L + k] * win[k];  y_t = C_t * conv_t
// where win is the last L values of [state rows (oldest first)..., bx_t].
// Layout: bcx row t = [B (H) | C (H) | x (H)] at bcx + t*ld_bcx; y row t at y + t*ld_y;
// state [(L-1)][H], row 0 oldest; w [H][L] (GGUF {L, H}). 2 <= L <= 8; any channel range.
// bx is rounded to f32 (it is what the state keeps); the tap sum and the C product are in
// double. SIMD versions must match the state bitwise and y to within an ulp or two.

#include "../kernel_sets.h"

namespace lfm::cpu::scalar {

void short_conv_f32(float* y, int64_t ld_y, float* state, const float* bcx, int64_t ld_bcx,
                    const float* w, int64_t n_channels, int64_t L, int64_t n_tok, int64_t c0,
                    int64_t c1) {
  const int64_t H = n_channels;
  for (int64_t c = c0; c < c1; ++c) {
    float win[8];  // [L-1] previous bx values of channel c, oldest first
    for (int64_t j = 0; j < L - 1; ++j) win[j] = state[j * H + c];
    const float* wc = w + c * L;  // [L] taps, wc[L-1] multiplies the current token
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* row = bcx + t * ld_bcx;
      const float bx = row[c] * row[2 * H + c];
      double conv = static_cast<double>(wc[L - 1]) * bx;
      for (int64_t k = 0; k < L - 1; ++k) conv += static_cast<double>(wc[k]) * win[k];
      y[t * ld_y + c] = static_cast<float>(static_cast<double>(row[H + c]) * conv);
      for (int64_t k = 0; k + 1 < L - 1; ++k) win[k] = win[k + 1];  // slide the window
      win[L - 2] = bx;
    }
    for (int64_t j = 0; j < L - 1; ++j) state[j * H + c] = win[j];
  }
}

}  // namespace lfm::cpu::scalar
