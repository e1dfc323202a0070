// SPDX-License-Identifier: MIT
// MoE routing, gather and combine (kernels.cuh, moe.cu section).
//
// moe_route, three kernels, all integer bookkeeping exact and order-independent:
//  1. route_select_kernel: one thread per token, blocks of kRouteTile (64) tokens. The thread
//     runs the CPU's moe_ffn selection loop verbatim (sigmoid in double, K passes picking the
//     largest p + bias with a strict '>' so ties go to the lowest expert, weights
//     p / (sum + 1e-6) * scale in double rounded to f32), writing sel / sel_w. Then the block
//     counts its tokens' picks per expert (shared-memory integer atomics) into
//     ws counts[block][e].
//  2. route_scan_kernel: one block; offsets[e] = prefix sum of the per-expert totals, then
//     counts[b][e] is replaced by the first grouped row of expert e for tile b:
//     offsets[e] + sum_{b' < b} counts[b'][e].
//  3. route_place_kernel: one thread per token again. For its k-th pick e, the grouped row is
//     base[b][e] + the number of earlier tokens of the same tile that picked e (a token picks an
//     expert at most once), which is exactly the CPU's order: expert-major, tokens ascending.
//     rows[r] = t; the token's slot j (j = the number of its picks with a smaller expert id, i.e.
//     ascending expert order) gets slot[t*K + j] = r and slot_w[t*K + j] = sel_w[t*K + k].
// moe_gather: one block per grouped row, copies the token's row.
// moe_combine: grid-stride over (t, i): acc = 0, then for j = 0..K-1 (ascending expert order)
//   acc = f32(double(acc) + double(w_j) * ye[slot_j]), the CPU's axpy_f32 applied in its order.

#include <climits>
#include <cstdint>

#include "kernels.cuh"

namespace lfm::cuda {
namespace {

constexpr int kRouteTile = 64;   // tokens per block in select / place
constexpr int kMaxExperts = 256;
constexpr int kMaxUsed = 32;     // K

int64_t route_tiles(int64_t T) { return (T + kRouteTile - 1) / kRouteTile; }

__global__ void route_select_kernel(int32_t* __restrict__ sel, float* __restrict__ sel_w, int32_t* __restrict__ counts,
                                    const float* __restrict__ logits, const float* __restrict__ bias, int T, int E,
                                    int K, float scale) {
  __shared__ int s_count[kMaxExperts];
  for (int e = threadIdx.x; e < E; e += kRouteTile) s_count[e] = 0;
  __syncthreads();
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kRouteTile + threadIdx.x;
  if (t < T) {
    const float* logit = logits + t * E;
    double prob[kMaxExperts];
    bool taken[kMaxExperts];
    for (int e = 0; e < E; e++) {
      prob[e] = 1.0 / (1.0 + exp(-static_cast<double>(logit[e])));
      taken[e] = false;
    }
    double sum = 0.0;
    int picked[kMaxUsed];
    for (int k = 0; k < K; k++) {
      int best = -1;
      double best_score = 0.0;
      for (int e = 0; e < E; e++) {
        const double score = prob[e] + static_cast<double>(bias[e]);
        if (!taken[e] && (best < 0 || score > best_score)) {
          best = e;
          best_score = score;
        }
      }
      taken[best] = true;  // best >= 0: K <= E, so an expert is left
      picked[k] = best;
      sum += prob[best];
      atomicAdd(&s_count[best], 1);
    }
    for (int k = 0; k < K; k++) {
      sel[t * K + k] = picked[k];
      sel_w[t * K + k] = static_cast<float>(prob[picked[k]] / (sum + 1e-6) * static_cast<double>(scale));
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += kRouteTile) counts[static_cast<int64_t>(blockIdx.x) * E + e] = s_count[e];
}

// One block of kMaxExperts threads.
__global__ void route_scan_kernel(int32_t* __restrict__ offsets, int32_t* __restrict__ counts, int n_tiles, int E) {
  __shared__ int s_total[kMaxExperts];
  const int e = threadIdx.x;
  if (e < E) {
    int tot = 0;
    for (int b = 0; b < n_tiles; b++) tot += counts[static_cast<int64_t>(b) * E + e];
    s_total[e] = tot;
  }
  __syncthreads();
  if (e == 0) {
    int run = 0;
    for (int x = 0; x < E; x++) {
      offsets[x] = run;
      run += s_total[x];
    }
    offsets[E] = run;
  }
  __syncthreads();  // offsets written by thread 0 (global memory, same block: visible after the barrier)
  if (e < E) {
    int run = offsets[e];
    for (int b = 0; b < n_tiles; b++) {
      const int64_t i = static_cast<int64_t>(b) * E + e;
      const int c = counts[i];
      counts[i] = run;
      run += c;
    }
  }
}

__global__ void route_place_kernel(int32_t* __restrict__ rows, int32_t* __restrict__ slot, float* __restrict__ slot_w,
                                   const int32_t* __restrict__ sel, const float* __restrict__ sel_w,
                                   const int32_t* __restrict__ base, int T, int E, int K) {
  __shared__ int32_t s_sel[kRouteTile * kMaxUsed];
  const int64_t t0 = static_cast<int64_t>(blockIdx.x) * kRouteTile;
  const int n_here = T - t0 < kRouteTile ? static_cast<int>(T - t0) : kRouteTile;
  for (int i = threadIdx.x; i < n_here * K; i += kRouteTile) s_sel[i] = sel[t0 * K + i];
  __syncthreads();
  const int lt = threadIdx.x;
  if (lt >= n_here) return;
  const int64_t t = t0 + lt;
  for (int k = 0; k < K; k++) {
    const int e = s_sel[lt * K + k];
    int rank = 0;  // earlier tokens of this tile that picked e
    for (int u = 0; u < lt; u++) {
      for (int kk = 0; kk < K; kk++) rank += s_sel[u * K + kk] == e ? 1 : 0;
    }
    int j = 0;  // position of e among this token's picks in ascending expert order
    for (int kk = 0; kk < K; kk++) j += s_sel[lt * K + kk] < e ? 1 : 0;
    const int r = base[static_cast<int64_t>(blockIdx.x) * E + e] + rank;
    rows[r] = static_cast<int32_t>(t);
    slot[t * K + j] = r;
    slot_w[t * K + j] = sel_w[t * K + k];
  }
}

__global__ void gather_kernel(float* __restrict__ xe, const float* __restrict__ u, int64_t D,
                              const int32_t* __restrict__ rows) {
  const int64_t r = blockIdx.x;
  const float* src = u + static_cast<int64_t>(rows[r]) * D;
  float* dst = xe + r * D;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) dst[i] = src[i];
}

__global__ void combine_kernel(float* __restrict__ out, const float* __restrict__ ye, int64_t D,
                               const int32_t* __restrict__ slot, const float* __restrict__ slot_w, int64_t T, int K) {
  const int64_t n = T * D;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += stride) {
    const int64_t t = idx / D, i = idx % D;
    float acc = 0.0f;
    for (int j = 0; j < K; j++) {
      const int64_t r = slot[t * K + j];
      acc = static_cast<float>(static_cast<double>(acc) +
                               static_cast<double>(slot_w[t * K + j]) * static_cast<double>(ye[r * D + i]));
    }
    out[idx] = acc;
  }
}

}  // namespace

size_t moe_routing_workspace_bytes(int64_t T, int64_t E, int64_t K) {
  (void)K;
  if (T <= 0 || E <= 0) return 0;
  return static_cast<size_t>(route_tiles(T) * E) * sizeof(int32_t);
}

cudaError_t moe_route(const MoeRouting& r, const float* logits, const float* bias, int64_t T, int64_t E,
                      int64_t K, float scale, const Workspace& ws, cudaStream_t stream) {
  if (T < 0 || E < 1 || E > kMaxExperts || K < 1 || K > kMaxUsed || K > E) return cudaErrorInvalidValue;
  if (!r.offsets) return cudaErrorInvalidValue;
  if (T == 0) return cudaMemsetAsync(r.offsets, 0, static_cast<size_t>(E + 1) * sizeof(int32_t), stream);
  if (!r.sel || !r.sel_w || !r.rows || !r.slot || !r.slot_w || !logits || !bias || T * K > INT_MAX) {
    return cudaErrorInvalidValue;
  }
  const int64_t tiles = route_tiles(T);
  if (!ws.ptr || ws.bytes < moe_routing_workspace_bytes(T, E, K)) return cudaErrorInvalidValue;
  int32_t* counts = static_cast<int32_t*>(ws.ptr);
  const int Ti = static_cast<int>(T), Ei = static_cast<int>(E), Ki = static_cast<int>(K);
  route_select_kernel<<<static_cast<unsigned>(tiles), kRouteTile, 0, stream>>>(r.sel, r.sel_w, counts, logits, bias,
                                                                              Ti, Ei, Ki, scale);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  route_scan_kernel<<<1, kMaxExperts, 0, stream>>>(r.offsets, counts, static_cast<int>(tiles), Ei);
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  route_place_kernel<<<static_cast<unsigned>(tiles), kRouteTile, 0, stream>>>(r.rows, r.slot, r.slot_w, r.sel,
                                                                             r.sel_w, counts, Ti, Ei, Ki);
  return cudaGetLastError();
}

cudaError_t moe_gather(float* xe, const float* u, int64_t D, const int32_t* rows, int64_t R, cudaStream_t stream) {
  if (R < 0 || D < 0 || R > INT_MAX) return cudaErrorInvalidValue;
  if (R == 0 || D == 0) return cudaSuccess;
  if (!xe || !u || !rows) return cudaErrorInvalidValue;
  gather_kernel<<<static_cast<unsigned>(R), 256, 0, stream>>>(xe, u, D, rows);
  return cudaGetLastError();
}

cudaError_t moe_combine(float* out, const float* ye, int64_t D, const int32_t* slot, const float* slot_w,
                        int64_t T, int64_t K, cudaStream_t stream) {
  if (T < 0 || D < 0 || K < 1 || K > INT_MAX) return cudaErrorInvalidValue;
  if (T == 0 || D == 0) return cudaSuccess;
  if (!out || !ye || !slot || !slot_w) return cudaErrorInvalidValue;
  const int64_t n = T * D;
  int64_t blocks = (n + 255) / 256;
  if (blocks > 65535LL * 32) blocks = 65535LL * 32;
  combine_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(out, ye, D, slot, slot_w, T, static_cast<int>(K));
  return cudaGetLastError();
}

}  // namespace lfm::cuda
