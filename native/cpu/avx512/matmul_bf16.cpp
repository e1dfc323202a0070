// SPDX-License-Identifier: MIT
// AVX-512: y[t*ldy + r] = sum_c bf16(W[r,c]) * x[t*ldx + c], BF16 weights, rows [r0, r1).
// Layout: row r at w + r*w_row_bytes, n_cols bfloat16 values. Any n_cols (zero-padded last
// step); no alignment needed. bf16 -> f32 is a 16-bit shift (exact). vdpbf16ps is not used:
// it would round the activations to bf16. Must match scalar::matmul_bf16 within the
// f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

static inline __m512 bf16x16_to_f32(const uint8_t* p) {
  const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
}

struct WeightsBF16 {
  static constexpr int64_t kStepBytes = 64;
  static constexpr int64_t kElemBytes = 2;
  static inline void load(const uint8_t* p, __m512 w[2]) {
    w[0] = bf16x16_to_f32(p);
    w[1] = bf16x16_to_f32(p + 32);
  }
};

}  // namespace

void matmul_bf16(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsBF16>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx512
