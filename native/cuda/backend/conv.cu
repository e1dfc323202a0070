// SPDX-License-Identifier: MIT
// Gated short convolution over a batch of segments (kernels.cuh, conv.cu section).
//
// For one segment with state rows st[0..L-2] (oldest first) and rows 0..n-1, let
//   S = [st[0], ..., st[L-2], bx_0, ..., bx_{n-1}],  bx_i = B_i * x_i (one f32 product),
// then row i's window is S[i .. i+L-1] (its last entry is bx_i) and the new state is
// S[n .. n+L-2] (older state rows survive when n < L - 1). Every S entry is a pure function of
// the inputs, so no output depends on another thread's result:
//   1. conv_y_kernel: one thread per (row, channel) computes y from its window (grid x = rows,
//      grid y = channel blocks); the segment of a row is found by binary search in seq_row0.
//   2. conv_state_kernel: one thread per (segment, channel) writes the new state, after kernel 1
//      (stream order) has read the old one. It writes rows j = 0, 1, ... in order and row j reads
//      S[n + j], i.e. old state row n + j >= j, which no earlier iteration has overwritten.
// The arithmetic is the CPU scalar kernel's (native/cpu/scalar/short_conv.cpp): bx in f32, the
// tap sum and the C product in double (products of two f32 are exact in double, so a contracted
// multiply-add rounds the same), taps in the order w[L-1]*bx, then k = 0..L-2; so y and the
// state match the CPU bit for bit.

#include <climits>
#include <cstdint>

#include "kernels.cuh"

namespace lfm::cuda {
namespace {

constexpr int kConvThreads = 128;

// The segment owning row t: the s with seq_row0[s] <= t < seq_row0[s + 1] (the last such s if
// empty segments share a start). Requires seq_row0[0] <= t < seq_row0[n_seq].
__device__ int find_segment(const int32_t* __restrict__ seq_row0, int32_t n_seq, int64_t t) {
  int lo = 0, hi = n_seq - 1;  // invariant: seq_row0[lo] <= t, answer in [lo, hi]
  while (lo < hi) {
    const int mid = lo + (hi - lo + 1) / 2;
    if (static_cast<int64_t>(seq_row0[mid]) <= t) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

// Entry j of S for channel c of a segment starting at row r0 (see the file comment).
// No __restrict__ on state: conv_state_kernel writes the state it reads through here.
__device__ __forceinline__ float s_entry(const float* state, const float* __restrict__ bcx,
                                         int64_t ld_bcx, int64_t D, int64_t L, int64_t r0, int64_t j, int64_t c) {
  if (j < L - 1) return state[j * D + c];
  const float* row = bcx + (r0 + j - (L - 1)) * ld_bcx;
  return __fmul_rn(row[c], row[2 * D + c]);
}

__global__ void conv_y_kernel(float* __restrict__ y, int64_t ldy, float* const* __restrict__ states,
                              const float* __restrict__ bcx, int64_t ld_bcx, const float* __restrict__ w, int64_t D,
                              int64_t L, const int32_t* __restrict__ seq_row0, int32_t n_seq) {
  const int64_t t = blockIdx.x;
  const int64_t c = static_cast<int64_t>(blockIdx.y) * kConvThreads + threadIdx.x;
  if (c >= D) return;
  if (t < seq_row0[0] || t >= seq_row0[n_seq]) return;  // rows outside every segment: untouched
  const int s = find_segment(seq_row0, n_seq, t);
  const int64_t r0 = seq_row0[s];
  const int64_t i = t - r0;  // local row index
  const float* state = states[s];
  const float* wc = w + c * L;
  const float* row = bcx + t * ld_bcx;
  const float bx = __fmul_rn(row[c], row[2 * D + c]);
  double conv = static_cast<double>(wc[L - 1]) * static_cast<double>(bx);
  for (int64_t k = 0; k < L - 1; ++k) {
    conv += static_cast<double>(wc[k]) * static_cast<double>(s_entry(state, bcx, ld_bcx, D, L, r0, i + k, c));
  }
  y[t * ldy + c] = static_cast<float>(static_cast<double>(row[D + c]) * conv);
}

__global__ void conv_state_kernel(float* const* __restrict__ states, const float* __restrict__ bcx, int64_t ld_bcx,
                                  int64_t D, int64_t L, const int32_t* __restrict__ seq_row0) {
  const int s = blockIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kConvThreads + threadIdx.x;
  if (c >= D) return;
  const int64_t r0 = seq_row0[s];
  const int64_t n = static_cast<int64_t>(seq_row0[s + 1]) - r0;
  if (n <= 0) return;  // an empty segment keeps its state
  float* state = states[s];
  for (int64_t j = 0; j < L - 1; ++j) {
    state[j * D + c] = s_entry(state, bcx, ld_bcx, D, L, r0, n + j, c);
  }
}

}  // namespace

cudaError_t short_conv(float* y, int64_t ldy, float* const* states, const float* bcx, int64_t ld_bcx,
                       const float* w, int64_t D, int64_t L, const int32_t* seq_row0, int32_t n_seq,
                       int64_t T, cudaStream_t stream) {
  if (T < 0 || D < 0 || n_seq < 0) return cudaErrorInvalidValue;
  if (T == 0 || D == 0 || n_seq == 0) return cudaSuccess;
  if (!y || !states || !bcx || !w || !seq_row0 || L < 2 || L > 8 || ldy < D || ld_bcx < 3 * D ||
      T > INT_MAX || n_seq > 65535) {
    return cudaErrorInvalidValue;
  }
  const int64_t cblocks = (D + kConvThreads - 1) / kConvThreads;
  if (cblocks > 65535) return cudaErrorInvalidValue;
  conv_y_kernel<<<dim3(static_cast<unsigned>(T), static_cast<unsigned>(cblocks)), kConvThreads, 0, stream>>>(
      y, ldy, states, bcx, ld_bcx, w, D, L, seq_row0, n_seq);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  conv_state_kernel<<<dim3(static_cast<unsigned>(cblocks), static_cast<unsigned>(n_seq)), kConvThreads, 0, stream>>>(
      states, bcx, ld_bcx, D, L, seq_row0);
  return cudaGetLastError();
}

}  // namespace lfm::cuda
