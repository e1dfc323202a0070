// SPDX-License-Identifier: MIT
// AVX-512: y[t*ldy + r] = sum_c d_b * (q[r,c] - 8) * x[t*ldx + c], Q4_0 weights, rows [r0, r1).
// Layout: row r at w + r*w_row_bytes, n_cols/32 blocks of 18 bytes (f16 d; element j < 16 in
// the low nibble of qs[j], j+16 in the high nibble). n_cols a multiple of 32; no alignment.
// Dequantization is exact: a 16-entry table (q - 8) * d is built per block and indexed with
// vpermps (which reads only the low 4 bits of each index, so the low nibble needs no mask).
// Must match scalar::matmul_q4_0 within the f32-accumulation tolerance (test/kernels).

#include "../kernel_sets.h"
#include "simd_avx512.h"

namespace lfm::cpu::avx512 {
namespace {

struct WeightsQ4_0 {
  static constexpr int64_t kStepBytes = 18;
  static constexpr int64_t kElemBytes = 0;
  static inline void load(const uint8_t* p, __m512 w[2]) {
    uint16_t d_bits;
    std::memcpy(&d_bits, p, 2);
    const __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16(static_cast<short>(d_bits)));
    const __m512 levels = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m512 table = _mm512_mul_ps(levels, d);  // exact: 4-bit times 11-bit significands
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2)));
    w[0] = _mm512_permutexvar_ps(idx, table);                         // low nibbles
    w[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), table);   // high nibbles
  }
};

}  // namespace

void matmul_q4_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const float* x,
                 int64_t ldx, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  mm_run<WeightsQ4_0>(y, ldy, w, w_row_bytes, x, ldx, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx512
