// SPDX-License-Identifier: MIT
// The integer-path matmul driver for native/cpu/avx512vnni/*.cpp (compiled with AVX-512 VNNI and
// VBMI). Internal linkage only, as in avx512/simd_avx512.h.
//
// A weight format W provides, for one group of kGroupCols columns (a whole number of blocks):
//   static constexpr int64_t kGroupCols, kGroupBytes;  // columns and bytes of a full group
//   static int64_t group_bytes(int64_t cols);          // bytes of a partial last group
//   struct Act { void load(const QuantActs& x, int64_t t, int64_t g); };  // activation side
//   struct Unpacked { void load(const uint8_t* p, int64_t n_bytes); };    // one row's group
//   static void madd(__m512& acc, const Unpacked& w, const Act& a);     // acc += lanes of w.a
// q16_tile<W, RB, TB> computes RB rows x TB tokens: each row's group is unpacked once for the
// TB tokens and each token's group once for the RB rows. The 16 lanes of acc are summed at the
// end (pairwise tree).
#pragma once

#include <type_traits>
#include <vector>

#include "../avx512/simd_avx512.h"

namespace lfm::cpu::avx512vnni {
namespace {

using avx512::hsum;

constexpr int64_t kTileBytes = 128 * 1024;  // weight rows kept in L2 across token tiles
constexpr int64_t kGemmMinTokens = 2;          // from 2 tokens on, the panel GEMM
constexpr int64_t kPrefetchTiles = 1;  // measured best of 1, 2 and 4 (Zen 5, 2 threads)

template <class W, int RB, int TB, int Terms>
static inline void q16_tile(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                            int64_t n_groups, int64_t last_bytes, int64_t r, int64_t t) {
  __m512 acc[RB][TB];
  for (int i = 0; i < RB; ++i) {
    for (int j = 0; j < TB; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  // Decode streams the weights from DRAM. The tile's RB rows are one contiguous block, read as
  // RB interleaved streams, which the hardware prefetchers follow poorly; instead each step
  // asks for the next W::kGroupBytes of the block kPrefetchTiles tiles ahead, in address order,
  // so DRAM sees one sequential stream and the next tile has arrived when it starts.
  const char* ahead = reinterpret_cast<const char*>(w + (r + kPrefetchTiles * RB) * w_row_bytes);
  for (int64_t g = 0; g < n_groups; ++g) {
    typename W::Act a[TB];
    for (int j = 0; j < TB; ++j) a[j].template load<Terms>(x, t + j, g);
    const int64_t n_bytes = g + 1 == n_groups ? last_bytes : W::kGroupBytes;
    for (int i = 0; i < RB; ++i) {
      const uint8_t* p = w + (r + i) * w_row_bytes + g * W::kGroupBytes;
      if constexpr (TB == 1) {
        for (int64_t o = 0; o < W::kGroupBytes; o += 64) _mm_prefetch(ahead + o, _MM_HINT_T0);
        ahead += W::kGroupBytes;
      }
      typename W::Unpacked u;
      u.load(p, n_bytes);
      for (int j = 0; j < TB; ++j) W::template madd<Terms>(acc[i][j], u, a[j]);
    }
  }
  for (int i = 0; i < RB; ++i) {
    for (int j = 0; j < TB; ++j) y[(t + j) * ldy + r + i] = hsum(acc[i][j]);
  }
}

// Mask of the first n bytes of a 64-byte load (none for n <= 0, all for n >= 64).
static inline __mmask64 first_bytes(int64_t n) {
  if (n <= 0) return 0;
  return n >= 64 ? ~static_cast<__mmask64>(0) : (static_cast<__mmask64>(1) << n) - 1;
}

// 256*hi + lo in each int32 lane, from the two int8 terms' dot products.
static inline __m512i combine_terms(__m512i dot_hi, __m512i dot_lo) {
  return _mm512_add_epi32(_mm512_slli_epi32(dot_hi, 8), dot_lo);
}

// Per int32 lane, the dot of 4 weight vectors (u8) with the activation terms (s8): hi alone
// (Terms = 1) or combined as 256*hi + lo (Terms = 2).
template <int Terms>
static inline __m512i dot4_terms(const __m512i (&w)[4], const __m512i (&h)[4], const __m512i (&l)[4]) {
  const __m512i zero = _mm512_setzero_si512();
  __m512i dh = _mm512_dpbusd_epi32(zero, w[0], h[0]);
  for (int v = 1; v < 4; ++v) dh = _mm512_dpbusd_epi32(dh, w[v], h[v]);
  if constexpr (Terms == 2) {
    __m512i dl = _mm512_dpbusd_epi32(zero, w[0], l[0]);
    for (int v = 1; v < 4; ++v) dl = _mm512_dpbusd_epi32(dl, w[v], l[v]);
    dh = combine_terms(dh, dl);
  }
  return dh;
}

// --- prefill: panel GEMM
//
// For more than one token the weights of 16 rows are unpacked once into a panel and reused by
// every token: per 32-column block, 8 x 64 bytes of quants laid out [column quad][row][4] (one
// zmm holds 4 columns of 16 rows, the operand vpdpbusd wants with a broadcast 4-column
// activation quad), then per 16-column half the rows' scales and zero points. The weight format
// provides, besides the decode policy:
//   static constexpr int kSubCols;  // 32: one scale / zero point per block, 16: per half
//   static void unpack_block(const uint8_t* row, int64_t b, uint8_t q[32], float scale[2],
//                            float zero[2]);  // weight of column 32b+j = scale[j/16]*q[j] + zero[j/16]
// The microkernel keeps kGemmPanels panels x kGemmTokens tokens of int32 accumulators for both
// activation terms; each block's integer dots are converted once and scaled by the row scale (and,
// per block or per 128-column group, by the token's activation scale), and the zero points
// multiply the activation sums.

constexpr int kPanelRows = 16;
constexpr int64_t kPanelBlockBytes = 8 * 64 + 2 * 2 * kPanelRows * 4;  // quants, scales, zeros

struct alignas(64) PanelBlock {
  uint8_t q[8][kPanelRows][4];
  float scale[2][kPanelRows];
  float zero[2][kPanelRows];
};
static_assert(sizeof(PanelBlock) == kPanelBlockBytes, "panel block layout");

// out[k] = dword k of rows r[0..15], for k < 8 (a 16 x 8 transposition of 32-bit units; the
// upper halves of r are ignored).
static inline void transpose16x8(const __m512i (&r)[16], __m512i (&out)[8]) {
  __m512i a[16], b[16];
  for (int i = 0; i < 8; ++i) {
    a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  // b[4i + c], 128-bit lane L: dword 4L + c of rows 4i .. 4i + 3.
  for (int i = 0; i < 4; ++i) {
    b[4 * i] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
    b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
  }
  // Dword 4L + c of the 16 rows: lane L of b[c], b[4 + c], b[8 + c], b[12 + c], for L = 0, 1.
  for (int c = 0; c < 4; ++c) {
    const __m512i t0 = _mm512_shuffle_i32x4(b[c], b[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i t2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
    out[c] = _mm512_shuffle_i32x4(t0, t2, _MM_SHUFFLE(2, 0, 2, 0));
    out[4 + c] = _mm512_shuffle_i32x4(t0, t2, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

// Panel builders unpack rows in order (sequential reads) kBuildBlocks blocks at a time into a
// buffer of [row][block][32] quants; this transposes block k of it into a panel block's quads.
constexpr int kBuildBlocks = 8;
using PanelRowsBuffer = uint8_t[kPanelRows][kBuildBlocks][32];

static inline void store_panel_quads(PanelBlock& pb, const PanelRowsBuffer& q, int k) {
  __m512i rows[kPanelRows], quads[8];
  for (int i = 0; i < kPanelRows; ++i) {
    rows[i] = _mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(q[i][k])));
  }
  transpose16x8(rows, quads);
  for (int m = 0; m < 8; ++m) _mm512_store_si512(pb.q[m], quads[m]);
}

// Rows [r, r + n_rows) through the format's unpack_block, block by block (rows past n_rows are
// zero). A weight format may instead provide a builder of full 16-row panels (specialising
// PanelBuilder below).
template <class W>
static inline void build_panel_rows(PanelBlock* panel, const uint8_t* w, int64_t w_row_bytes, int64_t r, int n_rows,
                                    int64_t n_blocks) {
  alignas(64) PanelRowsBuffer q;
  for (int64_t b0 = 0; b0 < n_blocks; b0 += kBuildBlocks) {
    const int nb = static_cast<int>(n_blocks - b0 < kBuildBlocks ? n_blocks - b0 : kBuildBlocks);
    for (int i = 0; i < kPanelRows; ++i) {
      for (int k = 0; k < nb; ++k) {
        PanelBlock& pb = panel[b0 + k];
        if (i >= n_rows) {
          std::memset(q[i][k], 0, 32);
          for (int h = 0; h < 2; ++h) pb.scale[h][i] = pb.zero[h][i] = 0.0f;
          continue;
        }
        float scale[2], zero[2];
        W::unpack_block(w + (r + i) * w_row_bytes, b0 + k, q[i][k], scale, zero);
        for (int h = 0; h < 2; ++h) {
          pb.scale[h][i] = scale[h];
          pb.zero[h][i] = zero[h];
        }
      }
    }
    for (int k = 0; k < nb; ++k) store_panel_quads(panel[b0 + k], q, k);
  }
}

// Full panels (16 rows) of a format; build_panel takes partial ones to build_panel_rows.
template <class W>
struct PanelBuilder {
  static void build(PanelBlock* panel, const uint8_t* w, int64_t w_row_bytes, int64_t r, int64_t n_blocks) {
    build_panel_rows<W>(panel, w, w_row_bytes, r, kPanelRows, n_blocks);
  }
};

template <class W>
static inline void build_panel(PanelBlock* panel, const uint8_t* w, int64_t w_row_bytes, int64_t r, int n_rows,
                               int64_t n_blocks) {
  if (n_rows < kPanelRows) {
    build_panel_rows<W>(panel, w, w_row_bytes, r, n_rows, n_blocks);
  } else {
    PanelBuilder<W>::build(panel, w, w_row_bytes, r, n_blocks);
  }
}

static inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int RG, int TT, int kSubCols, int Terms>
static inline void gemm_tile(float* y, int64_t ldy, const PanelBlock* const* panel, const int* n_rows,
                             const QuantActs& x, int64_t t0, int64_t n_blocks, int64_t r) {
  constexpr int kSubs = 32 / kSubCols;  // halves per block with their own scale
  constexpr int kQuads = 8 / kSubs;     // column quads per half
  __m512 acc[RG][TT];
  for (int g = 0; g < RG; ++g) {
    for (int t = 0; t < TT; ++t) acc[g][t] = _mm512_setzero_ps();
  }
  const int8_t* hi[TT];
  const int8_t* lo[TT];
  for (int t = 0; t < TT; ++t) {
    hi[t] = x.hi + (t0 + t) * x.ld;
    lo[t] = Terms == 2 ? x.lo + (t0 + t) * x.ld : nullptr;
  }
  const float* da = x.d + t0 * (x.ld / 32);
  const float* s16 = x.sum16 + t0 * (x.ld / 16);
  // Two terms: the activation scale is shared by the 4 blocks of a 128-column group (dispatch.h),
  // so the blocks' dots times the row scales add up in grp and the group's scale multiplies
  // the sum once (one FMA per block instead of a multiply and an FMA).
  constexpr bool kGrouped = Terms == 2;
  constexpr int64_t kGroupBlocks = kQ16Group / 32;
  __m512 grp[RG][TT];
  for (int64_t b = 0; b < n_blocks; ++b) {
    if (kGrouped && b % kGroupBlocks == 0) {
      for (int g = 0; g < RG; ++g) {
        for (int t = 0; t < TT; ++t) grp[g][t] = _mm512_setzero_ps();
      }
    }
    for (int s = 0; s < kSubs; ++s) {
      __m512i ih[RG][TT], il[RG][TT];
      for (int g = 0; g < RG; ++g) {
        for (int t = 0; t < TT; ++t) ih[g][t] = il[g][t] = _mm512_setzero_si512();
      }
      for (int k = s * kQuads; k < (s + 1) * kQuads; ++k) {
        __m512i wq[RG];
        for (int g = 0; g < RG; ++g) wq[g] = _mm512_load_si512(panel[g][b].q[k]);
        const int64_t c = b * 32 + 4 * k;
        for (int t = 0; t < TT; ++t) {
          const __m512i ah = bcast4(hi[t] + c);
          for (int g = 0; g < RG; ++g) ih[g][t] = _mm512_dpbusd_epi32(ih[g][t], wq[g], ah);
          if constexpr (Terms == 2) {
            const __m512i al = bcast4(lo[t] + c);
            for (int g = 0; g < RG; ++g) il[g][t] = _mm512_dpbusd_epi32(il[g][t], wq[g], al);
          }
        }
      }
      for (int g = 0; g < RG; ++g) {
        const __m512 sc = _mm512_load_ps(panel[g][b].scale[s]);
        const __m512 zr = _mm512_load_ps(panel[g][b].zero[s]);
        for (int t = 0; t < TT; ++t) {
          const __m512 v = _mm512_cvtepi32_ps(Terms == 2 ? combine_terms(ih[g][t], il[g][t]) : ih[g][t]);
          const float sx = kSubs == 1 ? s16[t * (x.ld / 16) + 2 * b] + s16[t * (x.ld / 16) + 2 * b + 1]
                                      : s16[t * (x.ld / 16) + 2 * b + s];
          if constexpr (kGrouped) {
            grp[g][t] = _mm512_fmadd_ps(v, sc, grp[g][t]);
          } else {
            acc[g][t] = _mm512_fmadd_ps(v, _mm512_mul_ps(sc, _mm512_set1_ps(da[t * (x.ld / 32) + b])), acc[g][t]);
          }
          acc[g][t] = _mm512_fmadd_ps(zr, _mm512_set1_ps(sx), acc[g][t]);
        }
      }
    }
    if (kGrouped && (b % kGroupBlocks == kGroupBlocks - 1 || b + 1 == n_blocks)) {
      for (int t = 0; t < TT; ++t) {
        const __m512 dt = _mm512_set1_ps(da[t * (x.ld / 32) + b]);
        for (int g = 0; g < RG; ++g) acc[g][t] = _mm512_fmadd_ps(grp[g][t], dt, acc[g][t]);
      }
    }
  }
  for (int g = 0; g < RG; ++g) {
    const __mmask16 m = static_cast<__mmask16>((1u << n_rows[g]) - 1u);
    for (int t = 0; t < TT; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * ldy + r + g * kPanelRows, m, acc[g][t]);
  }
}

// f(std::integral_constant<int, v>{}) for a run-time v in [1, N].
template <int N, class F>
static inline void with_const(int v, const F& f) {
  if constexpr (N > 1) {
    if (v < N) return with_const<N - 1>(v, f);
  }
  f(std::integral_constant<int, N>{});
}

// Microkernel shape: kGemmPanels panels (48 rows) x kGemmTokens tokens. Measured on Zen 5 (one
// thread, 2048 x 8192 and 8192 x 2048 Q4_0 x 512 tokens, two-term activations) against 2 x 4, 2 x
// 3, 4 x 2 and 3 x 3: 3 x 2 was 8-10% faster than the 2 x 4 used before. Fewer tokens per
// panel load cost little; fewer broadcast activation quads per integer product (one per 3
// instead of one per 2) take load off the vector pipes that the products need.
constexpr int kGemmPanels = 3;
constexpr int kGemmTokens = 2;

// Rows [r0, r1) x tokens [0, n_tok) through up to kGemmPanels panels of 16 rows at a time.
template <class W, int Terms>
static inline void q16_gemm(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                            int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  const int64_t n_blocks = n_cols / 32;
  thread_local std::vector<PanelBlock> storage;  // kGemmPanels panels; grows to the widest row seen
  if (static_cast<int64_t>(storage.size()) < kGemmPanels * n_blocks) {
    storage.resize(static_cast<size_t>(kGemmPanels * n_blocks));
  }
  for (int64_t r = r0; r < r1; r += kGemmPanels * kPanelRows) {
    const PanelBlock* panels[kGemmPanels];
    int n_rows[kGemmPanels];
    int n_panels = 0;
    for (; n_panels < kGemmPanels && r + n_panels * kPanelRows < r1; ++n_panels) {
      const int64_t left = r1 - r - n_panels * kPanelRows;
      n_rows[n_panels] = static_cast<int>(left < kPanelRows ? left : kPanelRows);
      PanelBlock* p = storage.data() + n_panels * n_blocks;
      build_panel<W>(p, w, w_row_bytes, r + n_panels * kPanelRows, n_rows[n_panels], n_blocks);
      panels[n_panels] = p;
    }
    for (int64_t t = 0; t < n_tok; t += kGemmTokens) {
      const int tt = static_cast<int>(n_tok - t < kGemmTokens ? n_tok - t : kGemmTokens);
      with_const<kGemmPanels>(n_panels, [&](auto rg) {
        with_const<kGemmTokens>(tt, [&](auto tc) {
          gemm_tile<decltype(rg)::value, decltype(tc)::value, W::kSubCols, Terms>(y, ldy, panels, n_rows, x, t, n_blocks, r);
        });
      });
    }
  }
}

// Rows [r0, r1) x tokens [0, n_tok): blocks of rows whose weights fit in L2, then tiles of up
// to 4 tokens; 8 rows per tile for a single token (more row streams in flight), else 4.
template <class W, int Terms>
static inline void q16_run_terms(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                                 int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  if (n_tok >= kGemmMinTokens) {
    q16_gemm<W, Terms>(y, ldy, w, w_row_bytes, x, n_cols, n_tok, r0, r1);
    return;
  }
  constexpr int RB = 4, TB = 4;
  const int64_t n_groups = (n_cols + W::kGroupCols - 1) / W::kGroupCols;
  const int64_t last_bytes = W::group_bytes(n_cols - (n_groups - 1) * W::kGroupCols);
  int64_t rows_per_block = kTileBytes / (w_row_bytes > 0 ? w_row_bytes : 1);
  rows_per_block = rows_per_block < RB ? RB : rows_per_block / RB * RB;
  for (int64_t rb0 = r0; rb0 < r1; rb0 += rows_per_block) {
    const int64_t rb1 = rb0 + rows_per_block < r1 ? rb0 + rows_per_block : r1;
    for (int64_t t = 0; t < n_tok; t += TB) {
      const int64_t tb = n_tok - t < TB ? n_tok - t : TB;
      int64_t r = rb0;
      if (tb == 1) {
        for (; r + 8 <= rb1; r += 8) q16_tile<W, 8, 1, Terms>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t);
      }
      with_const<TB>(static_cast<int>(tb), [&](auto tc) {
        constexpr int kTB = decltype(tc)::value;
        for (; r + RB <= rb1; r += RB) q16_tile<W, RB, kTB, Terms>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t);
        for (; r < rb1; ++r) q16_tile<W, 1, kTB, Terms>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t);
      });
    }
  }
}

// Two activation terms (16-bit) or one (8-bit: x.lo == nullptr).
template <class W>
static inline void q16_run(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                           int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
  if (x.lo) {
    q16_run_terms<W, 2>(y, ldy, w, w_row_bytes, x, n_cols, n_tok, r0, r1);
  } else {
    q16_run_terms<W, 1>(y, ldy, w, w_row_bytes, x, n_cols, n_tok, r0, r1);
  }
}

}  // namespace
}  // namespace lfm::cpu::avx512vnni
