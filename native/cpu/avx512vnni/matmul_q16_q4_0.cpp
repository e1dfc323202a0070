// SPDX-License-Identifier: MIT
// AVX-512 VNNI: Q4_0 weights (layout: scalar/matmul_q4_0.cpp) x Q16 activations, rows [r0, r1).
// Computes what scalar::matmul_q16_q4_0 computes, with the blocks' f32 terms summed in another
// order. One group = 4 blocks = 128 columns = 72 bytes:
//   two 64-byte loads (at 0 and 8) and one vpermt2b gather the four 16-byte qs arrays into
//   [qs0 | qs1 | qs2 | qs3]; the low nibbles are elements 0-15 of each block, the high ones
//   16-31, and the activations are permuted to match (once per group, shared by the rows);
//   vpdpbusd (u8 weight x s8 activation, 4 products per int32 lane) over both activation terms,
//   combined as 256*hi + lo, so lane i holds 8 exact products of block i/4;
//   each lane is scaled by its block's weight scale d and activation scale, and the zero point
//   (-8 d times the block's rounded activation sum, a quarter per lane) is added.
// The last group of a row may hold 1-3 blocks: masked loads read only the row's bytes and the
// activations beyond n_cols are zero.

#include "../kernel_sets.h"
#include "q16_avx512.h"

namespace lfm::cpu::avx512vnni {
namespace {

struct WeightsQ4_0 {
  static constexpr int64_t kGroupCols = 128;
  static constexpr int64_t kGroupBytes = 72;
  static int64_t group_bytes(int64_t cols) { return cols / 32 * 18; }
  static constexpr int kSubCols = 32;

  // Prefill panels (q16_avx512.h): the 32 nibbles of block b in column order, scale d, zero -8d.
  static void unpack_block(const uint8_t* row, int64_t b, uint8_t q[32], float scale[2], float zero[2]) {
    const uint8_t* blk = row + b * 18;
    uint16_t d_bits;
    std::memcpy(&d_bits, blk, 2);
    const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i m4 = _mm_set1_epi8(0x0f);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm_and_si128(qs, m4));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm_and_si128(_mm_srli_epi16(qs, 4), m4));
    const float d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(d_bits)));
    scale[0] = scale[1] = d;
    zero[0] = zero[1] = -8.0f * d;
  }

  struct Act {
    __m512i hl, hh, ll, lh;  // terms hi/lo, elements 0-15 / 16-31 of the 4 blocks
    __m512 da;               // lane i: activation scale of block i/4
    __m512 zp;               // lane i: -8/4 * activation sum of block i/4
    template <int Terms>
    void load(const QuantActs& x, int64_t t, int64_t g) {
      const int8_t* h = x.hi + t * x.ld + g * kGroupCols;

      const __m512i first = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13);  // 8-byte units
      const __m512i second = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
      const __m512i h0 = _mm512_loadu_si512(h), h1 = _mm512_loadu_si512(h + 64);
      hl = _mm512_permutex2var_epi64(h0, first, h1);
      hh = _mm512_permutex2var_epi64(h0, second, h1);
      if constexpr (Terms == 2) {
        const int8_t* l = x.lo + t * x.ld + g * kGroupCols;
        const __m512i l0 = _mm512_loadu_si512(l), l1 = _mm512_loadu_si512(l + 64);
        ll = _mm512_permutex2var_epi64(l0, first, l1);
        lh = _mm512_permutex2var_epi64(l0, second, l1);
      }
      const __m512i blk = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
      da = _mm512_permutexvar_ps(blk, _mm512_castps128_ps512(_mm_loadu_ps(x.d + t * (x.ld / 32) + g * 4)));
      const __m512 s = _mm512_castps256_ps512(_mm256_loadu_ps(x.sum16 + t * (x.ld / 16) + g * 8));
      const __m512i even = _mm512_add_epi32(blk, blk);
      const __m512 pair = _mm512_add_ps(_mm512_permutexvar_ps(even, s),
                                        _mm512_permutexvar_ps(_mm512_add_epi32(even, _mm512_set1_epi32(1)), s));
      zp = _mm512_mul_ps(pair, _mm512_set1_ps(-2.0f));
    }
  };

  struct Unpacked {
    __m512i lo, hi;  // nibbles as u8: [blocks 0-3 elements 0-15], [blocks 0-3 elements 16-31]
    __m512 d;        // lane i: weight scale of block i/4
    void load(const uint8_t* p, int64_t n_bytes) {
      __m512i a, b;
      if (n_bytes == kGroupBytes) {
        a = _mm512_loadu_si512(p);
        b = _mm512_loadu_si512(p + 8);
      } else {
        a = _mm512_maskz_loadu_epi8(first_bytes(n_bytes), p);
        b = _mm512_maskz_loadu_epi8(first_bytes(n_bytes - 8), p + 8);
      }
      // Byte 16k + j of the result: qs[j] of block k, at 18k + 2 + j in the group (from a below
      // 64, else from b, which starts 8 bytes later).
      alignas(64) static const uint8_t kQs[64] = {
          2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,  17,
          20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,
          38,  39,  40,  41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51,  52,  53,
          56,  57,  58,  59,  60,  61,  62,  63,  120, 121, 122, 123, 124, 125, 126, 127};
      const __m512i qs = _mm512_permutex2var_epi8(a, _mm512_load_si512(kQs), b);
      const __m512i m4 = _mm512_set1_epi8(0x0f);
      lo = _mm512_and_si512(qs, m4);
      hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4);
      // f16 scale of block k: word 9k of the group.
      d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(word_index(), a)));
    }
    static inline __m512i word_index() {
      return _mm512_setr_epi32(0, 0, 9 | (9 << 16), 9 | (9 << 16), 18 | (18 << 16), 18 | (18 << 16),
                               27 | (27 << 16), 27 | (27 << 16), 0, 0, 0, 0, 0, 0, 0, 0);
    }
  };

  template <int Terms>
  static inline void madd(__m512& acc, const Unpacked& w, const Act& a) {
    const __m512i zero = _mm512_setzero_si512();
    __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, w.lo, a.hl), w.hi, a.hh);
    if constexpr (Terms == 2) {
      dot = combine_terms(dot, _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, w.lo, a.ll), w.hi, a.lh));
    }
    const __m512 v = _mm512_cvtepi32_ps(dot);
    acc = _mm512_fmadd_ps(w.d, _mm512_fmadd_ps(v, a.da, a.zp), acc);
  }
};

// Whole panels of 16 full rows straight from the blocks: per block, the 16 rows' qs arrays go
// four to a zmm (row j + 4L in 128-bit lane L of vector j), a 4 x 4 transposition of dwords
// within the lanes gives dword k of the 16 rows in order, and its low / high nibbles are
// column quads k and 4 + k; the 16 scales come from one gather of the blocks' first dwords.
// About a sixth of the instructions of unpacking row by row and transposing.
template <>
struct PanelBuilder<WeightsQ4_0> {
  static void build(PanelBlock* panel, const uint8_t* w, int64_t w_row_bytes, int64_t r, int64_t n_blocks) {
    const uint8_t* base = w + r * w_row_bytes;
    const __m512i row_off = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32(static_cast<int32_t>(w_row_bytes)));
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* blk = base + b * 18;
      __m512i z[4];
      for (int j = 0; j < 4; ++j) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + j * w_row_bytes + 2)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + (j + 4) * w_row_bytes + 2)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + (j + 8) * w_row_bytes + 2)), 2);
        z[j] = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + (j + 12) * w_row_bytes + 2)), 3);
      }
      const __m512i a0 = _mm512_unpacklo_epi32(z[0], z[1]), a1 = _mm512_unpackhi_epi32(z[0], z[1]);
      const __m512i a2 = _mm512_unpacklo_epi32(z[2], z[3]), a3 = _mm512_unpackhi_epi32(z[2], z[3]);
      const __m512i t[4] = {_mm512_unpacklo_epi64(a0, a2), _mm512_unpackhi_epi64(a0, a2), _mm512_unpacklo_epi64(a1, a3),
                            _mm512_unpackhi_epi64(a1, a3)};
      PanelBlock& pb = panel[b];
      for (int k = 0; k < 4; ++k) {
        _mm512_store_si512(pb.q[k], _mm512_and_si512(t[k], m4));
        _mm512_store_si512(pb.q[4 + k], _mm512_and_si512(_mm512_srli_epi16(t[k], 4), m4));
      }
      const __m512i dw = _mm512_i32gather_epi32(row_off, blk, 1);
      const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dw));
      const __m512 zero = _mm512_mul_ps(d, _mm512_set1_ps(-8.0f));
      for (int h = 0; h < 2; ++h) {
        _mm512_store_ps(pb.scale[h], d);
        _mm512_store_ps(pb.zero[h], zero);
      }
    }
  }
};

}  // namespace

void matmul_q16_q4_0(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                     int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  q16_run<WeightsQ4_0>(y, ldy, w, w_row_bytes, x, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx512vnni
