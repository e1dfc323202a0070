// SPDX-License-Identifier: MIT
// CPU kernel table: one struct of function pointers per ISA, resolved once; feature detection.
#pragma once

#include <cstdint>

#include "../core/ggml_types.h"
#include "../core/status.h"

namespace lfm::cpu {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
const char* isa_name(Isa isa);  // "scalar" | "avx2" | "avx512"

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512vbmi = false, avx512bf16 = false, avx_vnni = false;
  bool os_avx = false, os_avx512 = false;  // XCR0 says the OS saves the YMM / ZMM state
};
const CpuFeatures& cpu_features();  // CPUID + XGETBV, once

// Highest ISA this CPU and OS support: avx512 needs F+BW+VL+DQ and XCR0 bits 5-7;
// avx2 needs AVX2+FMA+F16C and XCR0 bits 1-2.
Isa best_isa();

// Parses "scalar" | "avx2" | "avx512". Unknown name: kInvalidArg. A level above best_isa():
// kUnsupportedCpu naming the requested and the available level.
Status parse_isa(const char* name, Isa* out);

// The ISA used by default: best_isa(), lowered by the environment variable LFM2_CPU_ISA.
Status default_isa(Isa* out);

// --- kernel signatures (pointers first: output, then inputs, then sizes)

// Matrix product against a weight matrix W [n_rows, n_cols] (row-major, each row `w_row_bytes`
// bytes of the weight type) for rows [r0, r1) and tokens [0, n_tok):
//   y[t * ldy + r] = sum_c W[r, c] * x[t * ldx + c]
// Activations are F32 and are not rounded to the weight type (exact up to f32 accumulation).
// n_cols is a multiple of the weight block size (32 for Q4_0/Q8_0, 1 for F32/F16/BF16).
using MatmulFn = void (*)(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
                          const float* x, int64_t ldx, int64_t n_cols, int64_t n_tok,
                          int64_t r0, int64_t r1);

// y[i] = dequant(w_row)[i] for i < n (n a multiple of the block size).
using DequantRowFn = void (*)(float* y, const uint8_t* w_row, int64_t n);

// Activations rounded to 16 bits for the integer matrix products ("Q16"). Per group of 128
// columns (kQ16Group): d = max|x| / 32512 (0 for an all-zero group), q = rint(x / d), |q| <=
// 32512, stored as two int8 terms q = 256 * hi + lo with hi in [-127, 127] and lo in [-128, 127],
// so that u8 x s8 dot products (VNNI vpdpbusd, AVX2 vpmaddubsw) give sum w*q exactly as
// 256*dot(w, hi) + dot(w, lo). The rounding error is at most d/2 per element (2^-16 of the
// group's largest magnitude), 256 times smaller than 8-bit activations. d is stored per block of
// 32 columns (the four blocks of a group hold the same value), so kernels may scale per block or,
// as the prefill GEMM does, once per group.
// Row t: hi and lo at t*ld (ld >= n_cols, a multiple of kQ16Group; columns from n_cols to ld are
// zero), d at t*(ld/32), and at t*(ld/16) the sum of each 16 columns' rounded activations, d * sum
// q (the integer sum is exact; one rounding). Weight formats with a zero point or a minimum
// multiply these, so a product is exactly sum w * (q d) up to f32 rounding: the activation
// rounding error is weighted by the weights themselves, not by the unsigned quants (about half
// as large for zero-point formats as with the unrounded sums).
// With lo == nullptr the activations have one 8-bit term (llama.cpp's Q8 precision): d = max|x|
// / 127 per block of 32 columns and q = hi in [-127, 127]; kernels then do half the integer
// products.
constexpr int64_t kQ16Group = 128;
struct QuantActs {
  int8_t* hi;
  int8_t* lo;
  float* d;
  float* sum16;
  int64_t ld;
  // The same activations from row t on (row t becomes row 0).
  QuantActs from_row(int64_t t) const {
    return {hi + t * ld, lo ? lo + t * ld : nullptr, d + t * (ld / 32), sum16 + t * (ld / 16), ld};
  }
};

// The row stride (ld) of QuantActs for rows of n_cols columns.
constexpr int64_t quant_acts_ld(int64_t n_cols) { return (n_cols + kQ16Group - 1) / kQ16Group * kQ16Group; }

// Row t of a QuantActs, as the scalar reference kernels read it.
struct QuantActsRow {
  const int8_t* hi;
  const int8_t* lo;  // null for one 8-bit term
  const float* d;
  const float* sum16;
  QuantActsRow(const QuantActs& x, int64_t t) : QuantActsRow(x.from_row(t)) {}
  explicit QuantActsRow(const QuantActs& r) : hi(r.hi), lo(r.lo), d(r.d), sum16(r.sum16) {}
  // The activation integer of column c: 256*hi + lo (two terms) or hi (one).
  int32_t q(int64_t c) const { return lo ? 256 * hi[c] + lo[c] : hi[c]; }
};

// Rounds rows [t0, t1) of x (row t at x + t*ldx, n_cols columns) into `out` (same row index).
using QuantizeActsFn = void (*)(const QuantActs& out, const float* x, int64_t ldx, int64_t n_cols,
                                int64_t t0, int64_t t1);

// As MatmulFn, with the activations in Q16 form: y[t*ldy + r] = sum_c W[r,c] * xq[t, c].
using MatmulQ16Fn = void (*)(float* y, int64_t ldy, const uint8_t* w, int64_t w_row_bytes,
                             const QuantActs& x, int64_t n_cols, int64_t n_tok, int64_t r0, int64_t r1);

struct CpuKernels {
  const char* isa;  // "scalar" | "avx2" | "avx512"

  MatmulFn matmul[kGgmlTypeCount];          // by GgmlType id; nullptr = type not supported
  DequantRowFn dequant_row[kGgmlTypeCount];  // by GgmlType id

  // The integer path, where this ISA implements it natively (entries are not inherited from a
  // lower ISA: a table without them uses `matmul` with f32 activations). The scalar table has
  // them as the reference the fast versions are tested against.
  QuantizeActsFn quantize_acts;
  MatmulQ16Fn matmul_q16[kGgmlTypeCount];

  // y[i] = w[i] * x[i] / sqrt(mean(x^2) + eps), i < n. y may alias x.
  void (*rmsnorm_f32)(float* y, const float* x, const float* w, int64_t n, float eps);

  // y[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)). y may alias gate or up.
  void (*swiglu_f32)(float* y, const float* gate, const float* up, int64_t n);

  // Gated short convolution over channels [c0, c1) for tokens t = 0..n_tok-1 (one sequence):
  //   B = bcx[t*ld_bcx + c], C = bcx[t*ld_bcx + H + c], x = bcx[t*ld_bcx + 2H + c]
  //   bx_t = B * x
  //   conv = sum_{k<L} w[c*L + k] * win[k], win = [state rows (oldest first) ..., bx_t] (last L)
  //   y[t*ld_y + c] = C * conv
  // state is [(L-1)][H] (row 0 oldest, channel fastest); on return it holds the last L-1 bx
  // of the window (older state rows when n_tok < L-1). H = n_channels. 2 <= L <= 8.
  void (*short_conv_f32)(float* y, int64_t ld_y, float* state, const float* bcx, int64_t ld_bcx,
                         const float* w, int64_t n_channels, int64_t L, int64_t n_tok,
                         int64_t c0, int64_t c1);

  // One query head against n_keys cached keys/values (causal masking is the caller's n_keys):
  //   s_j = scale * dot(q, k + j*ld_kv); p = softmax(s); out[d] = sum_j p_j * v[j*ld_kv + d]
  // computed with an online softmax (no score buffer). d < head_dim, n_keys >= 1.
  void (*attention_f32)(float* out, const float* q, const float* k, const float* v,
                        int64_t ld_kv, int64_t n_keys, int64_t head_dim, float scale);

  // y[i] += a * x[i]
  void (*axpy_f32)(float* y, float a, const float* x, int64_t n);
};

// The table for `isa`, complete (missing fast kernels fall back to the next level down).
// The caller must not ask for more than best_isa(); scalar is always available.
const CpuKernels& cpu_kernels(Isa isa);

}  // namespace lfm::cpu
