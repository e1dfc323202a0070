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

#include "../avx512/simd_avx512.h"

namespace lfm::cpu::avx512vnni {
namespace {

using avx512::hsum;

constexpr int64_t kTileBytes = 128 * 1024;  // weight rows kept in L2 across token tiles
constexpr int64_t kPrefetchTiles = 1;  // measured best of 1, 2 and 4 (Zen 5, 2 threads)

template <class W, int RB, int TB>
static inline void q16_tile(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                            int64_t n_groups, int64_t last_bytes, int64_t r, int64_t t) {
  __m512 acc[RB][TB];
  for (int i = 0; i < RB; ++i) {
    for (int j = 0; j < TB; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  // Decode streams the weights from DRAM. The tile's RB rows are one contiguous block, read as
  // RB interleaved streams, which the hardware prefetchers follow poorly; instead each step
  // asks for the next line of the block kPrefetchTiles tiles ahead, in address order, so DRAM
  // sees one sequential stream (a step covers W::kGroupBytes of the tile, a line is 64 bytes:
  // lines are asked for slightly faster than they are consumed).
  const char* ahead = reinterpret_cast<const char*>(w + (r + kPrefetchTiles * RB) * w_row_bytes);
  for (int64_t g = 0; g < n_groups; ++g) {
    typename W::Act a[TB];
    for (int j = 0; j < TB; ++j) a[j].load(x, t + j, g);
    const int64_t n_bytes = g + 1 == n_groups ? last_bytes : W::kGroupBytes;
    for (int i = 0; i < RB; ++i) {
      const uint8_t* p = w + (r + i) * w_row_bytes + g * W::kGroupBytes;
      if constexpr (TB == 1) {
        _mm_prefetch(ahead, _MM_HINT_T0);
        ahead += 64;
      }
      typename W::Unpacked u;
      u.load(p, n_bytes);
      for (int j = 0; j < TB; ++j) W::madd(acc[i][j], u, a[j]);
    }
  }
  if constexpr (TB == 1) {
    // The lines the steps did not reach (kGroupBytes > 64).
    const char* end = reinterpret_cast<const char*>(w + (r + (kPrefetchTiles + 1) * RB) * w_row_bytes);
    for (; ahead < end; ahead += 64) _mm_prefetch(ahead, _MM_HINT_T0);
  }
  for (int i = 0; i < RB; ++i) {
    for (int j = 0; j < TB; ++j) y[(t + j) * ldy + r + i] = hsum(acc[i][j]);
  }
}

// Rows [r0, r1) x tokens [0, n_tok): blocks of rows whose weights fit in L2, then tiles of up
// to 4 tokens; 8 rows per tile for a single token (more row streams in flight), else 4.
template <class W>
static inline void q16_run(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes, const QuantActs& x,
                           int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1) {
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
        for (; r + 8 <= rb1; r += 8) q16_tile<W, 8, 1>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t);
      }
      for (; r + RB <= rb1; r += RB) {
        switch (tb) {
          case 1: q16_tile<W, RB, 1>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t); break;
          case 2: q16_tile<W, RB, 2>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t); break;
          case 3: q16_tile<W, RB, 3>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t); break;
          default: q16_tile<W, RB, 4>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t); break;
        }
      }
      for (; r < rb1; ++r) {
        switch (tb) {
          case 1: q16_tile<W, 1, 1>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t); break;
          case 2: q16_tile<W, 1, 2>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t); break;
          case 3: q16_tile<W, 1, 3>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t); break;
          default: q16_tile<W, 1, 4>(y, ldy, w, w_row_bytes, x, n_groups, last_bytes, r, t); break;
        }
      }
    }
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

}  // namespace
}  // namespace lfm::cpu::avx512vnni
