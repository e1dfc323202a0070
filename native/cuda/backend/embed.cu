// SPDX-License-Identifier: MIT
// Token embedding lookup (kernels.cuh: embed): x[t * D + i] = dequant(emb row tokens[t])[i].
// One 128-thread block per token; thread i dequantises the groups of 8 columns i, i + 128, ...
// with quant.cuh (values equal to the CPU's dequant_row), then the F32 / F16 / BF16 tail of
// D % 8 columns. A token id outside [0, n_vocab) (the caller checks ids, so this is a bug
// elsewhere) gives a row of NaN rather than a read outside the table.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels.cuh"
#include "quant.cuh"

namespace lfm::cuda {
namespace {

constexpr int kEmbedThreads = 128;

template <int kType, bool kVec>
__global__ void __launch_bounds__(kEmbedThreads)
    embed_kernel(float* __restrict__ x, const uint8_t* __restrict__ table, int64_t row_bytes, int64_t n_vocab,
                 int64_t D, const int32_t* __restrict__ tokens) {
  const int64_t t = blockIdx.x;
  const int32_t tok = tokens[t];
  float* xo = x + t * D;
  if (tok < 0 || static_cast<int64_t>(tok) >= n_vocab) {  // block-uniform
    for (int64_t i = threadIdx.x; i < D; i += kEmbedThreads) xo[i] = __uint_as_float(0x7fc00000u);
    return;
  }
  const uint8_t* row = table + static_cast<int64_t>(tok) * row_bytes;
  const int64_t n8 = D / 8;
  for (int64_t g = threadIdx.x; g < n8; g += kEmbedThreads) {
    float w[8];
    dq8<kType, kVec>(row, 8 * g, w);
#pragma unroll
    for (int i = 0; i < 8; ++i) xo[8 * g + i] = w[i];
  }
  if constexpr (quant_is_float(kType)) {
    for (int64_t c = 8 * n8 + threadIdx.x; c < D; c += kEmbedThreads) xo[c] = dq1<kType>(row, c);
  }
}

}  // namespace

cudaError_t embed(float* x, const DevMatrix& emb, const int32_t* tokens, int64_t n_tok, cudaStream_t stream) {
  if (!matmul_supports(emb.type) || emb.data == nullptr || x == nullptr || tokens == nullptr || n_tok < 0) {
    return cudaErrorInvalidValue;
  }
  const int type = static_cast<int>(emb.type);
  const int64_t be = quant_block_elems(type), bb = quant_block_bytes(type);
  if (emb.n_rows <= 0 || emb.n_cols <= 0 || emb.n_cols % be != 0 || emb.row_bytes != emb.n_cols / be * bb) {
    return cudaErrorInvalidValue;
  }
  const uintptr_t base = reinterpret_cast<uintptr_t>(emb.data);
  if (base % (type == qt::kF32 ? 4 : 2) != 0 || reinterpret_cast<uintptr_t>(x) % 4 != 0) return cudaErrorInvalidValue;
  if (n_tok == 0) return cudaSuccess;
  if (n_tok > INT32_MAX) return cudaErrorInvalidValue;
  // 16-byte loads of F32 / F16 / BF16 rows where every row starts 16-byte aligned.
  const bool vec = base % 16 == 0 && emb.row_bytes % 16 == 0;
  const bool ok = dispatch_quant_type(emb.type, [&](auto tc) {
    constexpr int kType = decltype(tc)::value;
    if (vec) {
      embed_kernel<kType, true><<<static_cast<unsigned>(n_tok), kEmbedThreads, 0, stream>>>(
          x, emb.data, emb.row_bytes, emb.n_rows, emb.n_cols, tokens);
    } else {
      embed_kernel<kType, false><<<static_cast<unsigned>(n_tok), kEmbedThreads, 0, stream>>>(
          x, emb.data, emb.row_bytes, emb.n_rows, emb.n_cols, tokens);
    }
  });
  return ok ? cudaGetLastError() : cudaErrorInvalidValue;
}

}  // namespace lfm::cuda
