// SPDX-License-Identifier: MIT
// Attention layer kernels (kernels.cuh, attention.cu section).
//
// qk_norm_rope_store: one block (128 threads) per row. The block first computes the row's RoPE
// table, cs[j] = f32(cos(pos * inv_freq[j])), sn[j] = f32(sin(...)) in double, with inv_freq
// computed on the host exactly as lfm2.cpp does (std::pow in double) and passed as a kernel
// parameter; then each warp takes whole heads (q heads, then k heads): RMSNorm with the sum of
// squares in double (as rmsnorm.cpp), then the NEOX rotation with the CPU's f32 formula (no
// contraction: __fmul_rn / __fadd_rn). K heads are also written to the K cache; V rows are copied.
//
// attention: two kernels, chosen per launch (attention_path, path 0):
//  * split (any T; always for Dh > 128 or T <= kTileMinRows): one block of 4 warps per (row,
//    query head, split of the keys). Warps take keys round-robin; per key a warp computes the
//    dot product (each lane owns dims lane + 32 i), reduces it with shuffles and updates its
//    online softmax (f32, expf, the CPU attention_f32 update order); the 4 warps are merged in
//    shared memory. With several splits (long contexts and few rows: flash-decoding) each block
//    writes (max, sum, acc[Dh]) to the workspace and attn_combine_kernel merges the splits.
//  * tiled (T > kTileMinRows and Dh <= 128): one block of 4 warps per (tile of 16 rows, query
//    head). The tile is cut into runs of rows of one sequence; for each run, K/V tiles of 32 keys
//    stream through shared memory; lane j of a warp scores key j for the warp's 4 rows, the
//    causal mask is key <= row_pos[row] per row, online softmax per row, then the P.V product
//    with p broadcast by shuffles.
// Scores and softmax are f32 with expf, as the CPU's SIMD attention kernels (the CPU scalar one
// evaluates in double); results agree to f32 rounding of sums over the keys.

#include <climits>
#include <cmath>
#include <cstdint>

#include "kernels.cuh"
#include "test_ops.h"

namespace lfm::cuda {


namespace {

constexpr int kMaxDh = 256;
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr unsigned kFull = 0xffffffffu;
constexpr int64_t kTileMinRows = 32;  // the tiled kernel for more rows than this
constexpr int kTileRows = 16;         // BM: query rows per tile (4 per warp)
constexpr int kRowsPerWarp = kTileRows / kWarps;
constexpr int kTileKeys = 32;         // BN: keys per K/V tile (one per lane)
constexpr int64_t kKeysPerSplit = 256;
constexpr int64_t kMaxSplits = 32;
constexpr int64_t kSplitTargetBlocks = 1024;

struct InvFreq {
  double v[kMaxDh / 2];
};

__device__ __forceinline__ double warp_sum_d(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  return v;
}
__device__ __forceinline__ float warp_sum_f(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  return v;
}
__device__ __forceinline__ float warp_max_f(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
  return v;
}

// --- QK norm, RoPE, cache store

__global__ void qk_norm_rope_store_kernel(float* __restrict__ q, float* __restrict__ k, const float* __restrict__ v,
                                          const float* __restrict__ q_norm, const float* __restrict__ k_norm,
                                          int Hq, int Hkv, int Dh, float eps, const int32_t* __restrict__ row_seq,
                                          const int32_t* __restrict__ row_pos, float* const* __restrict__ k_cache,
                                          float* const* __restrict__ v_cache, InvFreq inv) {
  __shared__ float s_cs[kMaxDh / 2], s_sn[kMaxDh / 2];
  const int64_t t = blockIdx.x;
  const int half = Dh / 2;
  const int64_t nq = static_cast<int64_t>(Hq) * Dh, nkv = static_cast<int64_t>(Hkv) * Dh;
  const int seq = row_seq[t];
  const int64_t pos = row_pos[t];
  for (int j = threadIdx.x; j < half; j += kThreads) {
    const double a = static_cast<double>(pos) * inv.v[j];
    double sn = 0.0, cs = 0.0;
    sincos(a, &sn, &cs);
    s_cs[j] = static_cast<float>(cs);
    s_sn[j] = static_cast<float>(sn);
  }
  __syncthreads();
  float* kc = k_cache[seq] + pos * nkv;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int hh = warp; hh < Hq + Hkv; hh += kWarps) {
    const bool is_q = hh < Hq;
    float* x = is_q ? q + t * nq + static_cast<int64_t>(hh) * Dh : k + t * nkv + static_cast<int64_t>(hh - Hq) * Dh;
    const float* wn = is_q ? q_norm : k_norm;
    float* dst = is_q ? nullptr : kc + static_cast<int64_t>(hh - Hq) * Dh;
    double sum_sq = 0.0;
    for (int d = lane; d < Dh; d += 32) {
      const double xv = static_cast<double>(x[d]);
      sum_sq += xv * xv;
    }
    sum_sq = warp_sum_d(sum_sq);
    const float s = static_cast<float>(1.0 / sqrt(sum_sq / static_cast<double>(Dh) + static_cast<double>(eps)));
    __syncwarp();
    for (int j = lane; j < half; j += 32) {
      const float x0 = __fmul_rn(__fmul_rn(x[j], s), wn[j]);
      const float x1 = __fmul_rn(__fmul_rn(x[j + half], s), wn[j + half]);
      const float cs = s_cs[j], sn = s_sn[j];
      const float o0 = __fsub_rn(__fmul_rn(x0, cs), __fmul_rn(x1, sn));
      const float o1 = __fadd_rn(__fmul_rn(x1, cs), __fmul_rn(x0, sn));
      x[j] = o0;
      x[j + half] = o1;
      if (dst) {
        dst[j] = o0;
        dst[j + half] = o1;
      }
    }
  }
  float* vc = v_cache[seq] + pos * nkv;
  const float* vr = v + t * nkv;
  for (int64_t i = threadIdx.x; i < nkv; i += kThreads) vc[i] = vr[i];
}

// --- split kernel (per row, query head and split of the keys)

// partial record of (row, head, split): [0] running max, [1] sum of exp, [2 .. 2+Dh) accumulator.
template <int NI>
__global__ void __launch_bounds__(kThreads) attn_split_kernel(
    float* __restrict__ out, float* __restrict__ partial, const float* __restrict__ q, int Hq, int Hkv, int Dh,
    float scale, const int32_t* __restrict__ row_seq, const int32_t* __restrict__ row_pos,
    const float* const* __restrict__ k_cache, const float* const* __restrict__ v_cache, int n_splits,
    int64_t chunk) {
  __shared__ float s_m[kWarps], s_l[kWarps];
  __shared__ float s_acc[kWarps][32 * NI];
  const int64_t th = blockIdx.x;
  const int64_t t = th / Hq;
  const int h = static_cast<int>(th % Hq);
  const int sp = blockIdx.y;
  const int g = h / (Hq / Hkv);
  const int64_t nq = static_cast<int64_t>(Hq) * Dh, nkv = static_cast<int64_t>(Hkv) * Dh;
  const int64_t n_keys = static_cast<int64_t>(row_pos[t]) + 1;
  const int64_t start = static_cast<int64_t>(sp) * chunk;
  const int64_t end = sp == n_splits - 1 ? n_keys : (start + chunk < n_keys ? start + chunk : n_keys);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float* kc = k_cache[row_seq[t]] + static_cast<int64_t>(g) * Dh;
  const float* vc = v_cache[row_seq[t]] + static_cast<int64_t>(g) * Dh;
  const float* qr = q + t * nq + static_cast<int64_t>(h) * Dh;

  float qv[NI], acc[NI];
#pragma unroll
  for (int i = 0; i < NI; i++) {
    const int d = lane + 32 * i;
    qv[i] = d < Dh ? qr[d] : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = start + warp; j < end; j += kWarps) {
    const float* kj = kc + j * nkv;
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < NI; i++) {
      const int d = lane + 32 * i;
      if (d < Dh) dot = fmaf(qv[i], kj[d], dot);
    }
    const float s = warp_sum_f(dot) * scale;  // identical in every lane
    if (s > m) {  // new maximum: rescale what was accumulated so far
      const float corr = expf(m - s);
      l *= corr;
#pragma unroll
      for (int i = 0; i < NI; i++) acc[i] *= corr;
      m = s;
    }
    const float p = expf(s - m);
    l += p;
    const float* vj = vc + j * nkv;
#pragma unroll
    for (int i = 0; i < NI; i++) {
      const int d = lane + 32 * i;
      if (d < Dh) acc[i] = fmaf(p, vj[d], acc[i]);
    }
  }
  if (lane == 0) {
    s_m[warp] = m;
    s_l[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < NI; i++) s_acc[warp][lane + 32 * i] = acc[i];
  __syncthreads();

  float mb = -INFINITY;
  for (int w = 0; w < kWarps; w++) mb = fmaxf(mb, s_m[w]);
  float wt[kWarps];
  float lb = 0.0f;
  for (int w = 0; w < kWarps; w++) {
    wt[w] = (mb == -INFINITY || s_m[w] == -INFINITY) ? 0.0f : expf(s_m[w] - mb);
    lb = fmaf(s_l[w], wt[w], lb);
  }
  const int64_t rec = (th * n_splits + sp) * (static_cast<int64_t>(Dh) + 2);
  for (int d = threadIdx.x; d < Dh; d += kThreads) {
    float a = 0.0f;
    for (int w = 0; w < kWarps; w++) a = fmaf(s_acc[w][d], wt[w], a);
    if (n_splits == 1) {
      out[t * nq + static_cast<int64_t>(h) * Dh + d] = a / lb;  // lb > 0: key 0 is always in split 0
    } else {
      partial[rec + 2 + d] = a;
    }
  }
  if (n_splits > 1 && threadIdx.x == 0) {
    partial[rec] = mb;
    partial[rec + 1] = lb;
  }
}

// Merges the splits of each (row, head): one block per (row, head).
__global__ void attn_combine_kernel(float* __restrict__ out, const float* __restrict__ partial, int Dh,
                                    int n_splits) {
  const int64_t th = blockIdx.x;  // t * Hq + h: out row offset th * Dh
  const int64_t stride = static_cast<int64_t>(Dh) + 2;
  const float* base = partial + th * n_splits * stride;
  float mb = -INFINITY;
  for (int s = 0; s < n_splits; s++) mb = fmaxf(mb, base[s * stride]);
  float lb = 0.0f;
  for (int s = 0; s < n_splits; s++) {
    const float ms = base[s * stride];
    const float w = ms == -INFINITY ? 0.0f : expf(ms - mb);
    lb = fmaf(base[s * stride + 1], w, lb);
  }
  for (int d = threadIdx.x; d < Dh; d += blockDim.x) {
    float a = 0.0f;
    for (int s = 0; s < n_splits; s++) {
      const float ms = base[s * stride];
      const float w = ms == -INFINITY ? 0.0f : expf(ms - mb);
      a = fmaf(base[s * stride + 2 + d], w, a);
    }
    out[th * Dh + d] = a / lb;
  }
}

// --- tiled kernel (prefill)

// Dynamic shared memory: sQ [kTileRows][Dh], sK [kTileKeys][Dh + 1] (odd stride: lane j reads
// row j without bank conflicts), sV [kTileKeys][Dh].
size_t tile_smem_bytes(int Dh) {
  return sizeof(float) * (static_cast<size_t>(kTileRows) * Dh + static_cast<size_t>(kTileKeys) * (Dh + 1) +
                          static_cast<size_t>(kTileKeys) * Dh);
}

template <int NI>
__global__ void __launch_bounds__(kThreads) attn_tile_kernel(
    float* __restrict__ out, const float* __restrict__ q, int64_t T, int Hq, int Hkv, int Dh, float scale,
    const int32_t* __restrict__ row_seq, const int32_t* __restrict__ row_pos, const float* const* __restrict__ k_cache,
    const float* const* __restrict__ v_cache) {
  extern __shared__ float smem[];
  float* sQ = smem;
  float* sK = sQ + kTileRows * Dh;
  float* sV = sK + kTileKeys * (Dh + 1);
  __shared__ int64_t s_end, s_kmax;
  __shared__ int s_seq;

  const int64_t t0 = static_cast<int64_t>(blockIdx.x) * kTileRows;
  const int64_t t1 = t0 + kTileRows < T ? t0 + kTileRows : T;
  const int h = blockIdx.y;
  const int g = h / (Hq / Hkv);
  const int64_t nq = static_cast<int64_t>(Hq) * Dh, nkv = static_cast<int64_t>(Hkv) * Dh;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  int64_t rb = t0;
  while (rb < t1) {  // runs of rows of one sequence; rb, re, kmax are block-uniform
    if (threadIdx.x == 0) {
      const int seq = row_seq[rb];
      int64_t re = rb;
      int64_t kmax = 0;
      while (re < t1 && row_seq[re] == seq) {
        const int64_t nk = static_cast<int64_t>(row_pos[re]) + 1;
        kmax = nk > kmax ? nk : kmax;
        re++;
      }
      s_seq = seq;
      s_end = re;
      s_kmax = kmax;
    }
    __syncthreads();
    const int64_t re = s_end, kmax = s_kmax;
    const int seq = s_seq;
    const float* kc = k_cache[seq] + static_cast<int64_t>(g) * Dh;
    const float* vc = v_cache[seq] + static_cast<int64_t>(g) * Dh;
    for (int idx = threadIdx.x; idx < kTileRows * Dh; idx += kThreads) {
      const int r = idx / Dh, d = idx % Dh;
      sQ[idx] = rb + r < re ? q[(rb + r) * nq + static_cast<int64_t>(h) * Dh + d] : 0.0f;
    }
    int pos[kRowsPerWarp];  // -1: row not in this run
    float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][NI];
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; i++) {
      const int64_t t = rb + warp * kRowsPerWarp + i;
      pos[i] = t < re ? row_pos[t] : -1;
      m[i] = -INFINITY;
      l[i] = 0.0f;
#pragma unroll
      for (int ii = 0; ii < NI; ii++) acc[i][ii] = 0.0f;
    }
    for (int64_t kv0 = 0; kv0 < kmax; kv0 += kTileKeys) {
      __syncthreads();  // sQ written (first tile); the previous tile's sK / sV reads are done
      for (int idx = threadIdx.x; idx < kTileKeys * Dh; idx += kThreads) {
        const int j = idx / Dh, d = idx % Dh;
        const int64_t key = kv0 + j;
        const bool in = key < kmax;
        sK[j * (Dh + 1) + d] = in ? kc[key * nkv + d] : 0.0f;
        sV[j * Dh + d] = in ? vc[key * nkv + d] : 0.0f;
      }
      __syncthreads();
      const int64_t key = kv0 + lane;
      float s[kRowsPerWarp];
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; i++) s[i] = 0.0f;
      const float* kr = sK + lane * (Dh + 1);
      const float* qw = sQ + warp * kRowsPerWarp * Dh;
      for (int d = 0; d < Dh; d++) {
        const float kd = kr[d];
#pragma unroll
        for (int i = 0; i < kRowsPerWarp; i++) s[i] = fmaf(qw[i * Dh + d], kd, s[i]);
      }
      float p[kRowsPerWarp];
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; i++) {
        const bool valid = key < kmax && key <= static_cast<int64_t>(pos[i]);
        const float sc = valid ? s[i] * scale : -INFINITY;
        const float m_new = fmaxf(m[i], warp_max_f(sc));
        const bool any = m_new != -INFINITY;  // warp-uniform
        const float corr = any ? expf(m[i] - m_new) : 1.0f;
        p[i] = valid && any ? expf(sc - m_new) : 0.0f;
        l[i] = fmaf(l[i], corr, warp_sum_f(p[i]));
#pragma unroll
        for (int ii = 0; ii < NI; ii++) acc[i][ii] *= corr;
        m[i] = any ? m_new : m[i];
      }
      const int64_t left = kmax - kv0;
      const int jn = left < kTileKeys ? static_cast<int>(left) : kTileKeys;  // block-uniform
      for (int j = 0; j < jn; j++) {
        float vj[NI];
#pragma unroll
        for (int ii = 0; ii < NI; ii++) {
          const int d = lane + 32 * ii;
          vj[ii] = d < Dh ? sV[j * Dh + d] : 0.0f;
        }
#pragma unroll
        for (int i = 0; i < kRowsPerWarp; i++) {
          const float pj = __shfl_sync(kFull, p[i], j);
#pragma unroll
          for (int ii = 0; ii < NI; ii++) acc[i][ii] = fmaf(pj, vj[ii], acc[i][ii]);
        }
      }
    }
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; i++) {
      if (pos[i] < 0) continue;
      const int64_t t = rb + warp * kRowsPerWarp + i;
#pragma unroll
      for (int ii = 0; ii < NI; ii++) {
        const int d = lane + 32 * ii;
        if (d < Dh) out[t * nq + static_cast<int64_t>(h) * Dh + d] = acc[i][ii] / l[i];  // l > 0: key 0 valid
      }
    }
    rb = re;
    __syncthreads();  // every thread has read s_end / s_kmax / sQ before the next run rewrites them
  }
}

int64_t split_count(int64_t T, int64_t Hq, int64_t max_keys) {
  const int64_t work = T * Hq;
  if (work >= kSplitTargetBlocks || max_keys <= kKeysPerSplit) return 1;
  int64_t s = (max_keys + kKeysPerSplit - 1) / kKeysPerSplit;
  const int64_t by_blocks = (kSplitTargetBlocks + work - 1) / work;
  if (s > kMaxSplits) s = kMaxSplits;
  if (s > by_blocks) s = by_blocks;
  return s < 1 ? 1 : s;
}

bool use_tiled(int64_t T, int64_t Dh) { return Dh <= 128 && T > kTileMinRows; }

template <int NI>
cudaError_t launch_split(float* out, float* partial, const float* q, int64_t T, int64_t Hq, int64_t Hkv, int64_t Dh,
                         float scale, const int32_t* row_seq, const int32_t* row_pos, const float* const* k_cache,
                         const float* const* v_cache, int64_t n_splits, int64_t chunk, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(T * Hq), static_cast<unsigned>(n_splits));
  attn_split_kernel<NI><<<grid, kThreads, 0, stream>>>(out, partial, q, static_cast<int>(Hq), static_cast<int>(Hkv),
                                                       static_cast<int>(Dh), scale, row_seq, row_pos, k_cache,
                                                       v_cache, static_cast<int>(n_splits), chunk);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || n_splits == 1) return e;
  attn_combine_kernel<<<static_cast<unsigned>(T * Hq), kThreads, 0, stream>>>(out, partial, static_cast<int>(Dh),
                                                                              static_cast<int>(n_splits));
  return cudaGetLastError();
}

template <int NI>
cudaError_t launch_tiled(float* out, const float* q, int64_t T, int64_t Hq, int64_t Hkv, int64_t Dh, float scale,
                         const int32_t* row_seq, const int32_t* row_pos, const float* const* k_cache,
                         const float* const* v_cache, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((T + kTileRows - 1) / kTileRows), static_cast<unsigned>(Hq));
  attn_tile_kernel<NI><<<grid, kThreads, tile_smem_bytes(static_cast<int>(Dh)), stream>>>(
      out, q, T, static_cast<int>(Hq), static_cast<int>(Hkv), static_cast<int>(Dh), scale, row_seq, row_pos, k_cache,
      v_cache);
  return cudaGetLastError();
}

}  // namespace

cudaError_t qk_norm_rope_store(float* q, float* k, const float* v, const float* q_norm, const float* k_norm,
                               int64_t T, int64_t Hq, int64_t Hkv, int64_t Dh, float eps, float theta,
                               const int32_t* row_seq, const int32_t* row_pos, float* const* k_cache,
                               float* const* v_cache, cudaStream_t stream) {
  if (T < 0) return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  if (!q || !k || !v || !q_norm || !k_norm || !row_seq || !row_pos || !k_cache || !v_cache || Hq < 1 || Hkv < 1 ||
      Hq > 4096 || Hkv > Hq || Dh < 2 || Dh > kMaxDh || Dh % 2 != 0 || T > INT_MAX) {
    return cudaErrorInvalidValue;
  }
  InvFreq inv{};
  for (int64_t i = 0; i < Dh / 2; i++) {
    inv.v[i] = std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(Dh));
  }
  qk_norm_rope_store_kernel<<<static_cast<unsigned>(T), kThreads, 0, stream>>>(
      q, k, v, q_norm, k_norm, static_cast<int>(Hq), static_cast<int>(Hkv), static_cast<int>(Dh), eps, row_seq,
      row_pos, k_cache, v_cache, inv);
  return cudaGetLastError();
}

size_t attention_split_workspace_bytes(int64_t T, int64_t Hq, int64_t Dh, int64_t max_keys) {
  if (T <= 0 || Hq <= 0 || Dh <= 0) return 0;
  const int64_t s = split_count(T, Hq, max_keys);
  if (s <= 1) return 0;
  return static_cast<size_t>(T * Hq * s * (Dh + 2)) * sizeof(float);
}

size_t attention_workspace_bytes(int64_t T, int64_t Hq, int64_t Dh, int64_t max_keys) {
  if (use_tiled(T, Dh)) return 0;
  return attention_split_workspace_bytes(T, Hq, Dh, max_keys);
}

cudaError_t attention_path(float* out, const float* q, int64_t T, int64_t Hq, int64_t Hkv, int64_t Dh, float scale,
                           const int32_t* row_seq, const int32_t* row_pos, const float* const* k_cache,
                           const float* const* v_cache, int64_t max_keys, const Workspace& ws, int path,
                           cudaStream_t stream) {
  if (T < 0) return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  if (!out || !q || !row_seq || !row_pos || !k_cache || !v_cache || Hq < 1 || Hkv < 1 || Hq % Hkv != 0 ||
      Dh < 1 || Dh > kMaxDh || T * Hq > INT_MAX || path < 0 || path > 2) {
    return cudaErrorInvalidValue;
  }
  const bool tiled = path == 0 ? use_tiled(T, Dh) : path == 2;
  const int ni = static_cast<int>((Dh + 31) / 32);
  if (tiled) {
    if (Dh > 128 || Hq > 65535) return cudaErrorInvalidValue;
    switch (ni) {
      case 1: return launch_tiled<1>(out, q, T, Hq, Hkv, Dh, scale, row_seq, row_pos, k_cache, v_cache, stream);
      case 2: return launch_tiled<2>(out, q, T, Hq, Hkv, Dh, scale, row_seq, row_pos, k_cache, v_cache, stream);
      case 3: return launch_tiled<3>(out, q, T, Hq, Hkv, Dh, scale, row_seq, row_pos, k_cache, v_cache, stream);
      default: return launch_tiled<4>(out, q, T, Hq, Hkv, Dh, scale, row_seq, row_pos, k_cache, v_cache, stream);
    }
  }
  const int64_t mk = max_keys < 1 ? 1 : max_keys;
  const int64_t n_splits = split_count(T, Hq, mk);
  const int64_t chunk = (mk + n_splits - 1) / n_splits;
  float* partial = nullptr;
  if (n_splits > 1) {
    if (!ws.ptr || ws.bytes < attention_split_workspace_bytes(T, Hq, Dh, mk)) return cudaErrorInvalidValue;
    partial = static_cast<float*>(ws.ptr);
  }
#define LFM_SPLIT(N) \
  launch_split<N>(out, partial, q, T, Hq, Hkv, Dh, scale, row_seq, row_pos, k_cache, v_cache, n_splits, chunk, stream)
  switch (ni) {
    case 1: return LFM_SPLIT(1);
    case 2: return LFM_SPLIT(2);
    case 3: return LFM_SPLIT(3);
    case 4: return LFM_SPLIT(4);
    case 5: return LFM_SPLIT(5);
    case 6: return LFM_SPLIT(6);
    case 7: return LFM_SPLIT(7);
    default: return LFM_SPLIT(8);
  }
#undef LFM_SPLIT
}

cudaError_t attention(float* out, const float* q, int64_t T, int64_t Hq, int64_t Hkv, int64_t Dh, float scale,
                      const int32_t* row_seq, const int32_t* row_pos, const float* const* k_cache,
                      const float* const* v_cache, int64_t max_keys, const Workspace& ws, cudaStream_t stream) {
  return attention_path(out, q, T, Hq, Hkv, Dh, scale, row_seq, row_pos, k_cache, v_cache, max_keys, ws, 0, stream);
}

}  // namespace lfm::cuda
