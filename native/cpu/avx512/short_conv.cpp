// SPDX-License-Identifier: MIT
// AVX-512 gated short convolution (lfm2-spec 1.3), channels [c0, c1), 16 channels per vector:
//   bx_t = B_t * x_t;  conv_t = sum_{k<L} w[c*L + k] * win[k];  y_t = C_t * conv_t
// win = the last L values of [state rows (oldest first)..., bx_t].
// Layout: bcx row t = [B | C | x] (H each) at bcx + t*ld_bcx; y row t at y + t*ld_y; state
// [(L-1)][H] (row 0 oldest); w [H][L] (taps gathered per channel block). 2 <= L <= 8, any
// channel range (masked tail). The window lives in registers across tokens. bx and the state
// match scalar::short_conv_f32 bitwise; y within an ulp or two (f32 FMA vs double).

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

template <int L>
static inline void conv_channels(float* y, int64_t ld_y, float* state, const float* bcx,
                                 int64_t ld_bcx, const float* w, int64_t H, int64_t n_tok,
                                 int64_t c0, int64_t c1) {
  const __m512i tap_idx = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(L));
  for (int64_t c = c0; c < c1; c += kLanes) {
    const __mmask16 m = first_lanes(c1 - c);
    __m512 taps[L];     // taps[k][lane] = w[(c + lane)*L + k]
    __m512 win[L - 1];  // win[k][lane] = bx of channel c + lane, k-th oldest
    for (int k = 0; k < L; ++k) {
      taps[k] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, tap_idx, w + c * L + k, 4);
    }
    for (int k = 0; k < L - 1; ++k) win[k] = _mm512_maskz_loadu_ps(m, state + k * H + c);
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* row = bcx + t * ld_bcx + c;
      const __m512 b = _mm512_maskz_loadu_ps(m, row);
      const __m512 gate_c = _mm512_maskz_loadu_ps(m, row + H);
      const __m512 x = _mm512_maskz_loadu_ps(m, row + 2 * H);
      const __m512 bx = _mm512_mul_ps(b, x);
      __m512 conv = _mm512_mul_ps(taps[L - 1], bx);
      for (int k = 0; k < L - 1; ++k) conv = _mm512_fmadd_ps(taps[k], win[k], conv);
      _mm512_mask_storeu_ps(y + t * ld_y + c, m, _mm512_mul_ps(gate_c, conv));
      for (int k = 0; k + 1 < L - 1; ++k) win[k] = win[k + 1];
      win[L - 2] = bx;
    }
    for (int k = 0; k < L - 1; ++k) _mm512_mask_storeu_ps(state + k * H + c, m, win[k]);
  }
}

}  // namespace

void short_conv_f32(float* y, int64_t ld_y, float* state, const float* bcx, int64_t ld_bcx,
                    const float* w, int64_t n_channels, int64_t L, int64_t n_tok, int64_t c0,
                    int64_t c1) {
  switch (L) {  // the window length picks a register-resident instance
    case 2: conv_channels<2>(y, ld_y, state, bcx, ld_bcx, w, n_channels, n_tok, c0, c1); break;
    case 3: conv_channels<3>(y, ld_y, state, bcx, ld_bcx, w, n_channels, n_tok, c0, c1); break;
    case 4: conv_channels<4>(y, ld_y, state, bcx, ld_bcx, w, n_channels, n_tok, c0, c1); break;
    case 5: conv_channels<5>(y, ld_y, state, bcx, ld_bcx, w, n_channels, n_tok, c0, c1); break;
    case 6: conv_channels<6>(y, ld_y, state, bcx, ld_bcx, w, n_channels, n_tok, c0, c1); break;
    case 7: conv_channels<7>(y, ld_y, state, bcx, ld_bcx, w, n_channels, n_tok, c0, c1); break;
    case 8: conv_channels<8>(y, ld_y, state, bcx, ld_bcx, w, n_channels, n_tok, c0, c1); break;
    default: scalar::short_conv_f32(y, ld_y, state, bcx, ld_bcx, w, n_channels, L, n_tok, c0, c1);
  }
}

}  // namespace lfm::cpu::avx512
