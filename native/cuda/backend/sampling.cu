// SPDX-License-Identifier: MIT
// Token sampling on the device (kernels.cuh, sampling.cu section), as lib/sampling.ts
// sampleToken with rng() = u.
//
// Rows are processed in chunks of up to kSortElems / V rows (at least one), each chunk:
//  1. make_keys_kernel: for every (row, column) a 64-bit key (row << 32) | (~0u - ord(logit)),
//     ord a monotone map of the float to uint32 (-0 counted as +0, NaN after -inf), and the
//     value = column.
//  2. cub::DeviceRadixSort::SortPairs over the chunk's keys (bits [0, 32 + log2 rows)): a stable
//     ascending sort, so each row's columns come out by logit descending and, for equal
//     logits, by column ascending: the order of sampling.ts topKIndices.
//  3. probs_kernel (grid-stride, all SMs): for a sampled row, probs[i] = exp((l[c_i] - l[c_0]) /
//     temperature) in double for the first k sorted candidates (k = top_k, or V when 0 / >= V),
//     stored in the key buffer the sort left free.
//  4. finalize_kernel, one block of 512 threads per row: temperature <= 0: argmax of the row
//     (lowest index on ties; NaN never wins, except at index 0 as in sampling.ts). Otherwise the
//     sum over the k candidates, the top-p cut (first i where the running sum of probs[i] / sum
//     reaches top_p), the min-p cut (first i >= 1 with probs[i] < min_p * probs[0]), the total of
//     the kept prefix, and the draw r = u * total: the first i where r - (probs[0] + ... +
//     probs[i]) < 0, the last kept candidate when none. The sums and prefix sums are block
//     reductions and scans in double: the same terms as sampling.ts in another order (the totals
//     may differ by ~1e-16 relative, which changes the token only when u lands that close to a
//     boundary between two candidates).

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include <climits>
#include <cstdint>

#include "kernels.cuh"

namespace lfm::cuda {
namespace {

constexpr int64_t kSortElems = int64_t{1} << 21;  // elements per chunk (rows * V), one row at least
constexpr int kFinThreads = 512;
constexpr int kEltThreads = 256;

using Key = unsigned long long;

int64_t chunk_rows(int64_t V, int64_t n_rows) {
  int64_t c = kSortElems / V;
  if (c < 1) c = 1;
  if (c > n_rows) c = n_rows;
  return c;
}

int end_bit_for(int64_t rows) {
  int b = 0;
  while ((int64_t{1} << b) < rows) b++;
  return 32 + b;
}

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

// The chunk buffers inside the workspace.
struct Layout {
  int64_t rows = 0;  // rows per chunk
  size_t keys0 = 0, keys1 = 0, vals0 = 0, vals1 = 0, temp = 0, temp_bytes = 0, total = 0;
};

cudaError_t sort_temp_bytes(int64_t n_items, int end_bit, size_t* bytes) {
  cub::DoubleBuffer<Key> keys(nullptr, nullptr);
  cub::DoubleBuffer<int32_t> vals(nullptr, nullptr);
  *bytes = 0;
  return cub::DeviceRadixSort::SortPairs(nullptr, *bytes, keys, vals, static_cast<int>(n_items), 0, end_bit);
}

cudaError_t make_layout(int64_t V, int64_t n_rows, Layout* L) {
  *L = Layout{};
  L->rows = chunk_rows(V, n_rows);
  const int64_t N = L->rows * V;
  cudaError_t e = sort_temp_bytes(N, end_bit_for(L->rows), &L->temp_bytes);
  if (e != cudaSuccess) return e;
  size_t off = 0;
  L->keys0 = off;
  off += align256(static_cast<size_t>(N) * sizeof(Key));
  L->keys1 = off;
  off += align256(static_cast<size_t>(N) * sizeof(Key));
  L->vals0 = off;
  off += align256(static_cast<size_t>(N) * sizeof(int32_t));
  L->vals1 = off;
  off += align256(static_cast<size_t>(N) * sizeof(int32_t));
  L->temp = off;
  off += align256(L->temp_bytes);
  L->total = off;
  return cudaSuccess;
}

__device__ __forceinline__ uint32_t ordered(float f) {
  if (isnan(f)) return 0u;  // below -inf (0x007fffff)
  uint32_t b = __float_as_uint(f);
  if ((b & 0x7fffffffu) == 0u) b = 0u;  // -0 sorts as +0 (they compare equal in sampling.ts)
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__global__ void make_keys_kernel(Key* __restrict__ keys, int32_t* __restrict__ vals, const float* __restrict__ logits,
                                 int64_t V, int64_t N) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < N; idx += stride) {
    const int64_t row = idx / V, col = idx % V;
    keys[idx] = (static_cast<Key>(row) << 32) | static_cast<Key>(0xffffffffu - ordered(logits[idx]));
    vals[idx] = static_cast<int32_t>(col);
  }
}

__device__ __forceinline__ int64_t n_candidates(const Sampler& p, int64_t V) {
  return p.top_k > 0 ? (static_cast<int64_t>(p.top_k) < V ? static_cast<int64_t>(p.top_k) : V) : V;
}

__global__ void probs_kernel(double* __restrict__ probs, const int32_t* __restrict__ sidx,
                             const float* __restrict__ logits, const Sampler* __restrict__ params, int64_t V,
                             int64_t N) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < N; idx += stride) {
    const int64_t row = idx / V, i = idx % V;
    const Sampler p = params[row];
    if (p.temperature <= 0.0f || i >= n_candidates(p, V)) continue;
    const float* lr = logits + row * V;
    const double mx = static_cast<double>(lr[sidx[row * V]]);
    const double l = static_cast<double>(lr[sidx[idx]]);
    probs[idx] = exp((l - mx) / static_cast<double>(p.temperature));
  }
}

struct ArgMax {
  float v;
  int i;  // -1: none
};
struct ArgMaxOp {
  __device__ __forceinline__ ArgMax operator()(const ArgMax& a, const ArgMax& b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    if (a.v > b.v) return a;
    if (b.v > a.v) return b;
    return a.i < b.i ? a : b;
  }
};
struct MinOp {
  __device__ __forceinline__ int operator()(int a, int b) const { return a < b ? a : b; }
};

using ReduceD = cub::BlockReduce<double, kFinThreads>;
using ReduceI = cub::BlockReduce<int, kFinThreads>;
using ReduceA = cub::BlockReduce<ArgMax, kFinThreads>;
using ScanD = cub::BlockScan<double, kFinThreads>;

struct FinShared {
  union {
    typename ReduceD::TempStorage rd;
    typename ReduceI::TempStorage ri;
    typename ReduceA::TempStorage ra;
    typename ScanD::TempStorage sd;
  } tmp;
  double d;
  int i;
};

// Block-wide helpers: every thread of the block must call them (uniform control flow). Each
// starts with a barrier, so the shared temporaries of the previous call are free again.
__device__ double block_sum(FinShared& sh, double v) {
  __syncthreads();
  const double r = ReduceD(sh.tmp.rd).Sum(v);
  if (threadIdx.x == 0) sh.d = r;
  __syncthreads();
  return sh.d;
}
__device__ int block_min(FinShared& sh, int v) {
  __syncthreads();
  const int r = ReduceI(sh.tmp.ri).Reduce(v, MinOp());
  if (threadIdx.x == 0) sh.i = r;
  __syncthreads();
  return sh.i;
}
// Inclusive prefix sum of v over the block's threads; *total = the block's sum (every thread).
__device__ double block_scan(FinShared& sh, double v, double* total) {
  __syncthreads();
  double inc = 0.0;
  ScanD(sh.tmp.sd).InclusiveSum(v, inc, *total);
  return inc;
}

__global__ void __launch_bounds__(kFinThreads) finalize_kernel(int32_t* __restrict__ tokens,
                                                               const float* __restrict__ logits,
                                                               const int32_t* __restrict__ sidx,
                                                               const double* __restrict__ probs,
                                                               const Sampler* __restrict__ params, int64_t V) {
  __shared__ FinShared sh;
  __shared__ int s_arg;
  const int64_t row = blockIdx.x;
  const Sampler p = params[row];
  const float* lr = logits + row * V;
  const int tid = threadIdx.x;

  if (p.temperature <= 0.0f) {  // block-uniform
    ArgMax best{0.0f, -1};
    for (int64_t i = tid; i < V; i += kFinThreads) {
      const float v = lr[i];
      if (isnan(v)) continue;
      if (best.i < 0 || v > best.v) best = ArgMax{v, static_cast<int>(i)};
    }
    const ArgMax r = ReduceA(sh.tmp.ra).Reduce(best, ArgMaxOp());
    if (tid == 0) s_arg = isnan(lr[0]) || r.i < 0 ? 0 : r.i;
    __syncthreads();
    if (tid == 0) tokens[row] = s_arg;
    return;
  }

  const double* P = probs + row * V;
  const int32_t* S = sidx + row * V;
  const int64_t k = n_candidates(p, V);

  double part = 0.0;
  for (int64_t i = tid; i < k; i += kFinThreads) part += P[i];
  const double sum = block_sum(sh, part);

  int64_t n = k;
  if (p.top_p < 1.0f) {
    const double top_p = static_cast<double>(p.top_p);
    double carry = 0.0;
    for (int64_t base = 0; base < k; base += kFinThreads) {
      const int64_t i = base + tid;
      double tile_total = 0.0;
      const double inc = block_scan(sh, i < k ? P[i] / sum : 0.0, &tile_total);
      const int cand = (i < k && carry + inc >= top_p) ? static_cast<int>(i) : INT_MAX;
      const int first = block_min(sh, cand);
      if (first != INT_MAX) {
        n = static_cast<int64_t>(first) + 1;
        break;
      }
      carry += tile_total;
    }
  }
  if (p.min_p > 0.0f) {
    const double floor_p = static_cast<double>(p.min_p) * P[0];
    int cand = INT_MAX;
    for (int64_t i = 1 + tid; i < n; i += kFinThreads) {
      if (!(P[i] >= floor_p)) {
        cand = static_cast<int>(i);
        break;  // i only grows for this thread
      }
    }
    const int first = block_min(sh, cand);
    if (first != INT_MAX) n = first;
  }
  part = 0.0;
  for (int64_t i = tid; i < n; i += kFinThreads) part += P[i];
  const double total = block_sum(sh, part);
  const double r = static_cast<double>(p.u) * total;
  int64_t chosen = n - 1;
  double carry = 0.0;
  for (int64_t base = 0; base < n; base += kFinThreads) {
    const int64_t i = base + tid;
    double tile_total = 0.0;
    const double inc = block_scan(sh, i < n ? P[i] : 0.0, &tile_total);
    const int cand = (i < n && r - (carry + inc) < 0.0) ? static_cast<int>(i) : INT_MAX;
    const int first = block_min(sh, cand);
    if (first != INT_MAX) {
      chosen = first;
      break;
    }
    carry += tile_total;
  }
  if (tid == 0) tokens[row] = S[chosen];
}

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kEltThreads - 1) / kEltThreads;
  const int64_t cap = 65535LL * 32;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

}  // namespace

size_t sample_workspace_bytes(int64_t V, int64_t n_rows) {
  if (V <= 0 || n_rows <= 0 || V > INT_MAX) return 0;
  Layout L;
  if (make_layout(V, n_rows, &L) != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error of the query
    return 0;            // sample() then reports the workspace as too small
  }
  return L.total;
}

cudaError_t sample(int32_t* tokens, const float* logits, int64_t V, int64_t n_rows, const Sampler* params,
                   const Workspace& ws, cudaStream_t stream) {
  if (n_rows < 0 || V < 1 || V > (int64_t{1} << 30)) return cudaErrorInvalidValue;
  if (n_rows == 0) return cudaSuccess;
  if (!tokens || !logits || !params || n_rows > INT_MAX) return cudaErrorInvalidValue;
  Layout L;
  cudaError_t e = make_layout(V, n_rows, &L);
  if (e != cudaSuccess) return e;
  if (!ws.ptr || ws.bytes < L.total) return cudaErrorInvalidValue;
  uint8_t* base = static_cast<uint8_t*>(ws.ptr);
  Key* keys0 = reinterpret_cast<Key*>(base + L.keys0);
  Key* keys1 = reinterpret_cast<Key*>(base + L.keys1);
  int32_t* vals0 = reinterpret_cast<int32_t*>(base + L.vals0);
  int32_t* vals1 = reinterpret_cast<int32_t*>(base + L.vals1);
  void* temp = base + L.temp;

  for (int64_t r0 = 0; r0 < n_rows; r0 += L.rows) {
    const int64_t nr = n_rows - r0 < L.rows ? n_rows - r0 : L.rows;
    const int64_t N = nr * V;
    const float* lg = logits + r0 * V;
    const int end_bit = end_bit_for(nr);
    make_keys_kernel<<<grid_for(N), kEltThreads, 0, stream>>>(keys0, vals0, lg, V, N);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
    cub::DoubleBuffer<Key> keys(keys0, keys1);
    cub::DoubleBuffer<int32_t> vals(vals0, vals1);
    size_t need = 0;
    if ((e = sort_temp_bytes(N, end_bit, &need)) != cudaSuccess) return e;
    if (need > L.temp_bytes) return cudaErrorInvalidValue;
    size_t have = L.temp_bytes;
    e = cub::DeviceRadixSort::SortPairs(temp, have, keys, vals, static_cast<int>(N), 0, end_bit, stream);
    if (e != cudaSuccess) return e;
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
    // The sorted columns are in vals.Current(); the key buffer the sort did not end in holds the
    // probabilities (N doubles fit in N 64-bit keys).
    const int32_t* sidx = vals.Current();
    double* probs = reinterpret_cast<double*>(keys.Alternate());
    probs_kernel<<<grid_for(N), kEltThreads, 0, stream>>>(probs, sidx, lg, params + r0, V, N);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
    finalize_kernel<<<static_cast<unsigned>(nr), kFinThreads, 0, stream>>>(tokens + r0, lg, sidx, probs, params + r0,
                                                                          V);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace lfm::cuda
