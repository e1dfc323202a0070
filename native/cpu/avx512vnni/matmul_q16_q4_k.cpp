// SPDX-License-Identifier: MIT
// AVX-512 VNNI: Q4_K weights (layout: ../kernels_kquant.h) x Q16 activations, rows [r0, r1).
// Computes what scalar::matmul_q16_q4_k computes, with the f32 terms summed in another order.
// One group = one super-block = 256 columns = 144 bytes. From 2 tokens on, q16_run takes the
// panel GEMM, fed by unpack_block (below). One token (decode), per row and group:
//   two 64-byte loads of qs and, per vector v = 0..3, one vpermt2q and one vpand give 64 u8
//   quants whose qword j (int32 lanes 2j, 2j+1) holds elements 8v..8v+7 of sub-block j: qs
//   qword 4(j/2) + v, masked to its low nibbles (even j) or left in place as 16*q in its high
//   nibbles (odd j). Every vector has the same lane -> sub-block map, so the activations are
//   permuted to match once per group (shared by the rows), and vpdpbusd (u8 x s8) accumulates
//   the four vectors into one int32 vector per activation term (two independent chains): lane k
//   holds 16 products of sub-block k/2 (|16*q| <= 240: 256*hi + lo < 2^27, exact in int32; its
//   conversion to f32 may round once in the odd sub-blocks);
//   lane k is scaled by d*sc_{k/2} and by the block's activation scale, which carries the 1/16
//   of the odd sub-blocks (exact unless that scale is below 2^-122); the minimum term
//   -dmin*m_j*sx_j is one FMA over lanes 8..15 (the decoded scales' m half against the
//   activations' block sums, which are zero in lanes 0..7).
// The 6-bit scales and mins are decoded with 128-bit integer operations per row and group.
// Instructions per row and group: 3 loads, 8 for the quants, 11 for the scales, and per token
// 8 vpdpbusd, 2 to combine the terms, 1 conversion, 1 mul, 2 FMAs.
// 8-bit activations (x.lo == nullptr, dispatch.h): the hi term alone (Terms = 1), half the products.

#include "../kernel_sets.h"
#include "../kernels_kquant.h"
#include "q16_avx512.h"

namespace lfm::cpu::avx512vnni {
namespace {

// Lane k of the result: lane k/2 of v (16-lane index vector).
static inline __m512i dup_pairs() {
  return _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
}

struct WeightsQ4K {
  static constexpr int64_t kGroupCols = kQK_K;
  static constexpr int64_t kGroupBytes = kBlockQ4KBytes;
  static constexpr int kSubCols = 32;
  static int64_t group_bytes(int64_t cols) { return cols / kQK_K * kBlockQ4KBytes; }

  struct Act {
    // Terms hi / lo in the weights' order: vector v, qword j = columns 32j + 8v .. 32j + 8v + 7.
    __m512i h[4], l[4];
    __m512 da;  // lane k: activation scale of block k/2, divided by 16 for odd k/2 (the weights hold 16*q)
    __m512 sx;  // lanes 0..7: 0; lane 8 + j: activation sum of block j
    static inline void gather(const int8_t* s, __m512i out[4]) {
      const __m512i x0 = _mm512_loadu_si512(s), x1 = _mm512_loadu_si512(s + 64);
      const __m512i x2 = _mm512_loadu_si512(s + 128), x3 = _mm512_loadu_si512(s + 192);
      // Qwords 4j + v of (x0, x1) for j = 0..3, v = 0,1 (p01) and v = 2,3 (p23); q from (x2, x3).
      const __m512i i01 = _mm512_setr_epi64(0, 4, 8, 12, 1, 5, 9, 13);
      const __m512i i23 = _mm512_setr_epi64(2, 6, 10, 14, 3, 7, 11, 15);
      const __m512i p01 = _mm512_permutex2var_epi64(x0, i01, x1), p23 = _mm512_permutex2var_epi64(x0, i23, x1);
      const __m512i q01 = _mm512_permutex2var_epi64(x2, i01, x3), q23 = _mm512_permutex2var_epi64(x2, i23, x3);
      out[0] = _mm512_shuffle_i64x2(p01, q01, _MM_SHUFFLE(1, 0, 1, 0));
      out[1] = _mm512_shuffle_i64x2(p01, q01, _MM_SHUFFLE(3, 2, 3, 2));
      out[2] = _mm512_shuffle_i64x2(p23, q23, _MM_SHUFFLE(1, 0, 1, 0));
      out[3] = _mm512_shuffle_i64x2(p23, q23, _MM_SHUFFLE(3, 2, 3, 2));
    }
    template <int Terms>
    void load(const QuantActs& x, int64_t t, int64_t g) {
      gather(x.hi + t * x.ld + g * kGroupCols, h);
      if constexpr (Terms == 2) gather(x.lo + t * x.ld + g * kGroupCols, l);
      da = _mm512_mul_ps(_mm512_permutexvar_ps(dup_pairs(), _mm512_castps256_ps512(_mm256_loadu_ps(x.d + t * (x.ld / 32) + g * 8))),
                         _mm512_setr_ps(1, 1, 0.0625f, 0.0625f, 1, 1, 0.0625f, 0.0625f, 1, 1, 0.0625f, 0.0625f, 1, 1, 0.0625f, 0.0625f));
      const __m512 s = _mm512_loadu_ps(x.sum16 + t * (x.ld / 16) + g * 16);
      const __m512i even = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 4, 6, 8, 10, 12, 14);
      const __m512i odd = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 5, 7, 9, 11, 13, 15);
      sx = _mm512_add_ps(_mm512_maskz_permutexvar_ps(0xff00, even, s), _mm512_maskz_permutexvar_ps(0xff00, odd, s));
    }
  };

  struct Unpacked {
    __m512i q[4];  // quants, u8 (16*q in the odd sub-blocks), in the order of Act::h / Act::l
    __m512 ws;     // lane k: d*sc_{k/2}
    __m512 dm;     // lanes 0..7: d*sc_j (times 0 in the minimum term), 8 + j: dmin*m_j
    void load(const uint8_t* p, int64_t /*n_bytes: always kGroupBytes*/) {
      const __m512i a = _mm512_loadu_si512(p + 16), b = _mm512_loadu_si512(p + 80);
      // Qword j: low nibbles for even j, high nibbles for odd j.
      const __m512i nib = _mm512_setr_epi64(0x0f0f0f0f0f0f0f0fLL, 0xf0f0f0f0f0f0f0f0ULL, 0x0f0f0f0f0f0f0f0fLL,
                                            0xf0f0f0f0f0f0f0f0ULL, 0x0f0f0f0f0f0f0f0fLL, 0xf0f0f0f0f0f0f0f0ULL,
                                            0x0f0f0f0f0f0f0f0fLL, 0xf0f0f0f0f0f0f0f0ULL);
      for (int v = 0; v < 4; ++v) {
        const __m512i idx = _mm512_setr_epi64(v, v, 4 + v, 4 + v, 8 + v, 8 + v, 12 + v, 12 + v);
        q[v] = _mm512_and_si512(_mm512_permutex2var_epi64(a, idx, b), nib);
      }
      // Header: dword 0 = d | dmin << 16, dwords 1..3 = u0, u1, u2 (the 12 scale bytes). The
      // byte-parallel get_scale_min_k4 of kquant_unpack_scales, one dword per lane:
      //   [u0 & 3f.., (u2 & 0f..) | ((u0 >> 2) & 30..), u1 & 3f.., ((u2 >> 4) & 0f..) | ((u1 >> 2) & 30..)]
      const __m128i hdr = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i u = _mm_srlv_epi32(_mm_shuffle_epi32(hdr, _MM_SHUFFLE(3, 2, 3, 1)), _mm_setr_epi32(0, 0, 0, 4));
      const __m128i top = _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(hdr, _MM_SHUFFLE(2, 2, 1, 1)), 2),
                                        _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
      const __m128i sm = _mm_ternarylogic_epi32(u, _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f),
                                                top, 0xea);  // (A & B) | C: sc_0..7, m_0..7
      // [d x8, dmin x8]
      const __m512 dd = _mm512_cvtph_ps(
          _mm256_permutexvar_epi16(_mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), _mm256_castsi128_si256(hdr)));
      dm = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(sm)), dd);
      ws = _mm512_permutexvar_ps(dup_pairs(), dm);
    }
  };

  template <int Terms>
  static inline void madd(__m512& acc, const Unpacked& w, const Act& a) {
    const __m512i h = dot4_terms<Terms>(w.q, a.h, a.l);
    acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(h), a.da), w.ws, acc);
    acc = _mm512_fnmadd_ps(w.dm, a.sx, acc);
  }

  // For the prefill GEMM: the 32 quants of columns 32b..32b+31 of a row (sub-block b % 8 of
  // super-block b / 8) in column order, and per 16-column half the scale and zero such that
  // scale*q + zero is the weight exactly as dequant_row_q4_k gives it (d*sc*q is exact).
  static void unpack_block(const uint8_t* row, int64_t b, uint8_t q[32], float scale[2], float zero[2]) {
    const uint8_t* blk = row + b / 8 * kBlockQ4KBytes;
    const int j = static_cast<int>(b % 8);
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * (j / 2)));
    const __m256i v = _mm256_and_si256(_mm256_srl_epi16(raw, _mm_cvtsi32_si128(4 * (j & 1))), _mm256_set1_epi8(0x0f));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), v);
    float sc[8], mn[8];
    kquant_block_scales(blk, sc, mn);
    scale[0] = scale[1] = sc[j];
    zero[0] = zero[1] = -mn[j];
  }
};

// Whole panels of 16 full rows a super-block (8 panel blocks) at a time: each row's scales and
// minimums are decoded once per super-block (unpack_block decodes them for every block), its
// 128 quant bytes split into the 8 sub-blocks' nibbles, then each block is transposed into the
// panel layout. Same values as build_panel_rows over unpack_block.
template <>
struct PanelBuilder<WeightsQ4K> {
  static void build(PanelBlock* panel, const uint8_t* w, int64_t w_row_bytes, int64_t r, int64_t n_blocks) {
    static_assert(kBuildBlocks == 8, "one super-block per buffer");
    alignas(64) PanelRowsBuffer q;
    float sc[kPanelRows][8], mn[kPanelRows][8];
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int64_t sb = 0; sb < n_blocks / 8; ++sb) {
      for (int i = 0; i < kPanelRows; ++i) {
        const uint8_t* blk = w + (r + i) * w_row_bytes + sb * kBlockQ4KBytes;
        kquant_block_scales(blk, sc[i], mn[i]);
        for (int p = 0; p < 4; ++p) {
          const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * p));
          _mm256_store_si256(reinterpret_cast<__m256i*>(q[i][2 * p]), _mm256_and_si256(raw, m4));
          _mm256_store_si256(reinterpret_cast<__m256i*>(q[i][2 * p + 1]), _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4));
        }
      }
      for (int j = 0; j < 8; ++j) {
        PanelBlock& pb = panel[sb * 8 + j];
        for (int i = 0; i < kPanelRows; ++i) {
          pb.scale[0][i] = pb.scale[1][i] = sc[i][j];
          pb.zero[0][i] = pb.zero[1][i] = -mn[i][j];
        }
        store_panel_quads(pb, q, j);
      }
    }
  }
};

}  // namespace

void matmul_q16_q4_k(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                     int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  q16_run<WeightsQ4K>(y, ldy, w, w_row_bytes, x, n_cols, n_tok, r0, r1);
}

}  // namespace lfm::cpu::avx512vnni
