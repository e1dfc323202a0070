// SPDX-License-Identifier: MIT
// Matrix products with weights of every supported type (kernels.cuh: matmul, matmul_grouped).
//
//   y[t * ldy + r] = sum_c W[r, c] * x[t * ldx + c]      (grouped: W of the row's expert)
//
// Two kinds of kernels, both dequantising the weights on the fly with quant.cuh (values equal to
// the CPU's dequant_row) and accumulating in f32 (activations never rounded to fewer bits):
//
// * gemv_kernel (decode, n_tok <= 8; grouped: experts with <= 16 rows). One warp per output
//   row, 4 rows per 128-thread block. Lane l takes the groups of 8 columns l, l + 32, ...: the
//   warp walks the row front to back reading each weight byte once (a warp step covers 256
//   consecutive columns = 8 Q4_0 blocks = 144 contiguous bytes), dequantises its 8 weights and
//   multiplies them with the activations of up to kNT tokens (read through the read-only cache,
//   16-byte loads where x is aligned), then a shuffle reduction. More tokens than kNT are done
//   in chunks of kNT (the row is then re-read, from L2).
//
// * tiled kernels (prefill and larger batches): a block computes 64 output rows x 64 tokens with
//   256 threads, stepping over the columns 32 at a time: each thread dequantises 8 weights of
//   one row and loads 8 activations of one token into registers (prefetching the next step
//   while the current one is multiplied), and the tile goes to shared memory k-major
//   ([32][64 + 4] floats for W and for x). Then
//     - tiled_tc_kernel (compute capability >= 8.0): tensor cores, wmma m16n16k8 TF32 with the
//       3xTF32 split a = hi + lo (hi = tf32(a), lo = tf32(a - hi)), acc += a_lo*b_hi + a_hi*b_lo
//       + a_hi*b_hi with f32 accumulation: about f32 accuracy. 8 warps, each 16 rows x 32
//       tokens (two accumulator fragments); the result is staged through shared memory so that
//       partial tiles and any ldy store with plain bounds checks.
//     - tiled_simt_kernel (every architecture; used below 8.0): f32 FMAs, each thread 4 rows x
//       4 tokens from float4 reads of the shared tiles.
//
// matmul_grouped launches the GEMV kernel over (row blocks, experts) for the experts with at most
// 16 rows and, when max_rows > 16, the tiled kernel over (row tiles, experts, token tiles of
// max_rows) for the others; blocks whose expert has no work in their tile return at once.

#include <cuda_runtime.h>
#include <mma.h>

#include <atomic>
#include <cstdint>

#include "kernels.cuh"
#include "quant.cuh"

namespace lfm::cuda {
namespace {

constexpr int kGemvWarps = 4;               // output rows per GEMV block
constexpr int kGemvThreads = 32 * kGemvWarps;
constexpr int64_t kDenseGemvMaxTok = 8;     // matmul: n_tok up to this uses the GEMV kernel
constexpr int64_t kGroupedGemvMaxRows = 16; // matmul_grouped: experts with up to this many rows

constexpr int kTileM = 64;   // output rows per tile
constexpr int kTileN = 64;   // tokens per tile
constexpr int kTileK = 32;   // columns per step
constexpr int kTileLd = 68;  // shared row stride (floats) of the k-major tiles: 64 + 4
constexpr int kTileThreads = 256;
static_assert(kTileM == kTileN, "the loaders use one mapping for the W and x tiles");
static_assert(kTileThreads * 8 == kTileM * kTileK, "each thread loads 8 weights and 8 activations per step");

constexpr int64_t kNoLimit = INT64_MAX;

// x[c .. c + 8) into v (zeros past n_cols). kVec: 16-byte loads (x 16-byte aligned, ldx % 4 == 0,
// c % 8 == 0).
template <bool kVec>
__device__ __forceinline__ void load_x8(const float* __restrict__ xr, int64_t c, int64_t n_cols, float v[8]) {
  if (c + 8 <= n_cols) {
    if constexpr (kVec) {
      const float4 a = __ldg(reinterpret_cast<const float4*>(xr + c));
      const float4 b = __ldg(reinterpret_cast<const float4*>(xr + c) + 1);
      v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
      v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) v[i] = __ldg(xr + c + i);
    }
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = c + i < n_cols ? __ldg(xr + c + i) : 0.0f;
  }
}

// The rows of x / y and the weights of this block: the whole batch (offsets == nullptr) or the
// rows of expert blockIdx.y. Returns the row count.
__device__ __forceinline__ int64_t block_rows(const int32_t* __restrict__ offsets, int64_t n_tok, int64_t mat_bytes,
                                              const uint8_t* __restrict__& w, int64_t& row0) {
  if (offsets == nullptr) {
    row0 = 0;
    return n_tok;
  }
  const int64_t e = blockIdx.y;
  row0 = offsets[e];
  w += e * mat_bytes;
  return static_cast<int64_t>(offsets[e + 1]) - row0;
}

// ---------------------------------------------------------------------------------------------
// GEMV: one warp per output row. Blocks of an expert with more than max_count rows return (the
// tiled kernel does those).

template <int kType, int kNT, bool kVec>
__global__ void __launch_bounds__(kGemvThreads)
    gemv_kernel(const uint8_t* __restrict__ w, int64_t mat_bytes, int64_t row_bytes, int64_t n_rows, int64_t n_cols,
                const float* __restrict__ x, int64_t ldx, float* __restrict__ y, int64_t ldy,
                const int32_t* __restrict__ offsets, int64_t n_tok, int64_t max_count) {
  int64_t row0 = 0;
  const int64_t count = block_rows(offsets, n_tok, mat_bytes, w, row0);
  if (count <= 0 || count > max_count) return;  // block-uniform
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kGemvWarps + static_cast<int64_t>(threadIdx.x >> 5);
  if (r >= n_rows) return;  // warp-uniform: no shuffle below is left waiting

  const uint8_t* wr = w + r * row_bytes;
  const float* xb = x + row0 * ldx;
  float* yb = y + row0 * ldy;
  const int64_t n8 = n_cols / 8;  // full groups of 8 columns

  for (int64_t t0 = 0; t0 < count; t0 += kNT) {
    const int64_t left = count - t0;
    const int nt = left < kNT ? static_cast<int>(left) : kNT;
    float acc[kNT];
#pragma unroll
    for (int t = 0; t < kNT; ++t) acc[t] = 0.0f;

#pragma unroll 2
    for (int64_t g = lane; g < n8; g += 32) {
      float wv[8];
      dq8<kType, kVec>(wr, 8 * g, wv);
#pragma unroll
      for (int t = 0; t < kNT; ++t) {
        if (t < nt) {
          float xv[8];
          load_x8<kVec>(xb + (t0 + t) * ldx, 8 * g, n_cols, xv);
#pragma unroll
          for (int i = 0; i < 8; ++i) acc[t] = fmaf(wv[i], xv[i], acc[t]);
        }
      }
    }
    if constexpr (quant_is_float(kType)) {  // the last n_cols % 8 columns (block size 1 only)
      const int64_t c = 8 * n8 + lane;
      if (c < n_cols) {
        const float wv = dq1<kType>(wr, c);
#pragma unroll
        for (int t = 0; t < kNT; ++t) {
          if (t < nt) acc[t] = fmaf(wv, __ldg(xb + (t0 + t) * ldx + c), acc[t]);
        }
      }
    }
#pragma unroll
    for (int t = 0; t < kNT; ++t) {
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) acc[t] += __shfl_xor_sync(0xffffffffu, acc[t], off);
    }
    if (lane == 0) {
#pragma unroll
      for (int t = 0; t < kNT; ++t) {
        if (t < nt) yb[(t0 + t) * ldy + r] = acc[t];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tiled products. Block (blockIdx.x, blockIdx.y, blockIdx.z) = (row tile, expert, token tile).
// Blocks of an expert with at most min_count rows return (the GEMV kernel does those).

// The register stage of one K-step: thread tid loads row (m0 + tid / 4) of W and token
// (n0 + tid / 4) of x, columns k0 + 8 * (tid % 4) .. + 8; zeros outside the matrices.
template <int kType, bool kVec>
struct TileLoader {
  const uint8_t* wr;
  const float* xr;
  bool w_ok, x_ok;
  int lm, lk;
  int64_t n_cols;
  float wv[8], xv[8];

  __device__ __forceinline__ TileLoader(const uint8_t* w, int64_t row_bytes, int64_t n_rows, int64_t m0,
                                        const float* x, int64_t ldx, int64_t row0, int64_t count, int64_t n0,
                                        int64_t n_cols_)
      : n_cols(n_cols_) {
    const int tid = static_cast<int>(threadIdx.x);
    lm = tid >> 2;
    lk = (tid & 3) * 8;
    w_ok = m0 + lm < n_rows;
    x_ok = n0 + lm < count;
    wr = w + (w_ok ? m0 + lm : 0) * row_bytes;
    xr = x + (row0 + (x_ok ? n0 + lm : 0)) * ldx;
  }
  __device__ __forceinline__ void load(int64_t k0) {
    const int64_t c = k0 + lk;
    if (w_ok && c < n_cols) {
      dq8_guarded<kType, kVec>(wr, c, n_cols, wv);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) wv[i] = 0.0f;
    }
    if (x_ok && c < n_cols) {
      load_x8<kVec>(xr, c, n_cols, xv);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) xv[i] = 0.0f;
    }
  }
  // ws[k][m], xs[k][n] with row stride kTileLd
  __device__ __forceinline__ void store(float* ws, float* xs) const {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      ws[(lk + i) * kTileLd + lm] = wv[i];
      xs[(lk + i) * kTileLd + lm] = xv[i];
    }
  }
};

template <int kType, bool kVec>
__global__ void __launch_bounds__(kTileThreads)
    tiled_simt_kernel(const uint8_t* __restrict__ w, int64_t mat_bytes, int64_t row_bytes, int64_t n_rows,
                      int64_t n_cols, const float* __restrict__ x, int64_t ldx, float* __restrict__ y, int64_t ldy,
                      const int32_t* __restrict__ offsets, int64_t n_tok, int64_t min_count) {
  int64_t row0 = 0;
  const int64_t count = block_rows(offsets, n_tok, mat_bytes, w, row0);
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * kTileM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.z) * kTileN;
  if (count <= min_count || n0 >= count) return;  // block-uniform, before any barrier

  __shared__ alignas(16) float ws[kTileK * kTileLd];
  __shared__ alignas(16) float xs[kTileK * kTileLd];

  TileLoader<kType, kVec> ld(w, row_bytes, n_rows, m0, x, ldx, row0, count, n0, n_cols);
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid & 15;  // rows 4tx .. 4tx+3 of the tile
  const int ty = tid >> 4;  // tokens 4ty .. 4ty+3
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
  }

  ld.load(0);
  for (int64_t k0 = 0; k0 < n_cols; k0 += kTileK) {
    ld.store(ws, xs);
    __syncthreads();
    if (k0 + kTileK < n_cols) ld.load(k0 + kTileK);  // in flight during the products
#pragma unroll 8
    for (int k = 0; k < kTileK; ++k) {
      const float4 a = *reinterpret_cast<const float4*>(ws + k * kTileLd + 4 * tx);
      const float4 b = *reinterpret_cast<const float4*>(xs + k * kTileLd + 4 * ty);
      const float av[4] = {a.x, a.y, a.z, a.w};
      const float bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
    }
    __syncthreads();
  }

#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int64_t t = n0 + 4 * ty + j;
    if (t < count) {
      float* yr = y + (row0 + t) * ldy;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t r = m0 + 4 * tx + i;
        if (r < n_rows) yr[r] = acc[i][j];
      }
    }
  }
}

// The 3xTF32 split of a fragment: hi = tf32(v), lo = tf32(v - hi) (v - hi is exact in f32).
template <typename Frag>
__device__ __forceinline__ void split_tf32(Frag& hi, Frag& lo) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#pragma unroll
  for (int i = 0; i < hi.num_elements; ++i) {
    const float v = hi.x[i];
    const float h = nvcuda::wmma::__float_to_tf32(v);
    hi.x[i] = h;
    lo.x[i] = nvcuda::wmma::__float_to_tf32(v - h);
  }
#endif
}

template <int kType, bool kVec>
__global__ void __launch_bounds__(kTileThreads)
    tiled_tc_kernel(const uint8_t* __restrict__ w, int64_t mat_bytes, int64_t row_bytes, int64_t n_rows,
                    int64_t n_cols, const float* __restrict__ x, int64_t ldx, float* __restrict__ y, int64_t ldy,
                    const int32_t* __restrict__ offsets, int64_t n_tok, int64_t min_count) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  int64_t row0 = 0;
  const int64_t count = block_rows(offsets, n_tok, mat_bytes, w, row0);
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * kTileM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.z) * kTileN;
  if (count <= min_count || n0 >= count) return;  // block-uniform, before any barrier

  // ws [kTileK][kTileLd] then xs [kTileK][kTileLd]; after the K loop the same memory holds the
  // result tile cs [kTileN][kTileLd] (token-major), 2 * 32 * 68 == 64 * 68 floats.
  __shared__ alignas(128) float smem[2 * kTileK * kTileLd];
  static_assert(2 * kTileK * kTileLd >= kTileN * kTileLd, "the result stage fits");
  float* ws = smem;
  float* xs = smem + kTileK * kTileLd;

  TileLoader<kType, kVec> ld(w, row_bytes, n_rows, m0, x, ldx, row0, count, n0, n_cols);
  const int warp = static_cast<int>(threadIdx.x >> 5);
  const int wm = (warp & 3) * 16;   // tile rows wm .. wm+15
  const int wn = (warp >> 2) * 32;  // tile tokens wn .. wn+31 (two fragments)

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2];
  wmma::fill_fragment(acc[0], 0.0f);
  wmma::fill_fragment(acc[1], 0.0f);

  ld.load(0);
  for (int64_t k0 = 0; k0 < n_cols; k0 += kTileK) {
    ld.store(ws, xs);
    __syncthreads();
    if (k0 + kTileK < n_cols) ld.load(k0 + kTileK);
#pragma unroll
    for (int kk = 0; kk < kTileK; kk += 8) {
      // A(m, k) = W[m0 + wm + m, k0 + kk + k] = ws[(kk + k) * ld + wm + m]: column-major A.
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> a_hi, a_lo;
      wmma::load_matrix_sync(a_hi, ws + kk * kTileLd + wm, kTileLd);
      split_tf32(a_hi, a_lo);
#pragma unroll
      for (int f = 0; f < 2; ++f) {
        // B(k, n) = x[n0 + wn + 16f + n][k0 + kk + k] = xs[(kk + k) * ld + wn + 16f + n]: row-major B.
        wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b_hi, b_lo;
        wmma::load_matrix_sync(b_hi, xs + kk * kTileLd + wn + 16 * f, kTileLd);
        split_tf32(b_hi, b_lo);
        wmma::mma_sync(acc[f], a_lo, b_hi, acc[f]);  // small terms first
        wmma::mma_sync(acc[f], a_hi, b_lo, acc[f]);
        wmma::mma_sync(acc[f], a_hi, b_hi, acc[f]);
      }
    }
    __syncthreads();
  }

  // C(m, n) -> cs[(wn + 16f + n) * ld + wm + m] (column-major C with ldm = kTileLd).
  float* cs = smem;
  wmma::store_matrix_sync(cs + wn * kTileLd + wm, acc[0], kTileLd, wmma::mem_col_major);
  wmma::store_matrix_sync(cs + (wn + 16) * kTileLd + wm, acc[1], kTileLd, wmma::mem_col_major);
  __syncthreads();
  for (int idx = static_cast<int>(threadIdx.x); idx < kTileM * kTileN; idx += kTileThreads) {
    const int n = idx / kTileM, m = idx % kTileM;
    const int64_t t = n0 + n, r = m0 + m;
    if (t < count && r < n_rows) y[(row0 + t) * ldy + r] = cs[n * kTileLd + m];
  }
#endif
}

// ---------------------------------------------------------------------------------------------
// Host side

// Compute capability major of the current device, cached per device (0 when unknown).
int device_cc_major() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cache[kMaxDevices];
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  if (dev < 0 || dev >= kMaxDevices) return 0;
  int major = cache[dev].load(std::memory_order_relaxed);
  if (major == 0) {
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
      (void)cudaGetLastError();
      return 0;
    }
    cache[dev].store(major, std::memory_order_relaxed);
  }
  return major;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Checked shape of one launch.
struct Shape {
  int64_t row_bytes = 0, mat_bytes = 0;
  bool vec = false;  // 16-byte loads of x (and of F32 / F16 / BF16 weights)
};

cudaError_t check_matrix(const DevMatrix& w, const float* x, int64_t ldx, const float* y, int64_t ldy, Shape* s) {
  if (!matmul_supports(w.type) || w.data == nullptr || x == nullptr || y == nullptr) return cudaErrorInvalidValue;
  const int type = static_cast<int>(w.type);
  const int64_t be = quant_block_elems(type), bb = quant_block_bytes(type);
  if (w.n_rows <= 0 || w.n_cols <= 0 || w.n_cols % be != 0 || w.n_mats < 1) return cudaErrorInvalidValue;
  if (w.row_bytes != w.n_cols / be * bb) return cudaErrorInvalidValue;
  if (ldx < w.n_cols || ldy < w.n_rows) return cudaErrorInvalidValue;
  const int64_t mat_bytes = w.mat_bytes != 0 ? w.mat_bytes : w.n_rows * w.row_bytes;
  if (mat_bytes < w.n_rows * w.row_bytes) return cudaErrorInvalidValue;
  const uintptr_t base = reinterpret_cast<uintptr_t>(w.data);
  if (base % (type == qt::kF32 ? 4 : 2) != 0 || mat_bytes % (type == qt::kF32 ? 4 : 2) != 0) {
    return cudaErrorInvalidValue;
  }
  if (reinterpret_cast<uintptr_t>(x) % 4 != 0 || reinterpret_cast<uintptr_t>(y) % 4 != 0) return cudaErrorInvalidValue;
  s->row_bytes = w.row_bytes;
  s->mat_bytes = mat_bytes;
  s->vec = aligned16(x) && ldx % 4 == 0;
  if (quant_is_float(type)) s->vec = s->vec && base % 16 == 0 && w.row_bytes % 16 == 0 && mat_bytes % 16 == 0;
  return cudaSuccess;
}

// Launch arguments shared by every kernel.
struct Args {
  const uint8_t* w;
  int64_t mat_bytes, row_bytes, n_rows, n_cols;
  const float* x;
  int64_t ldx;
  float* y;
  int64_t ldy;
  const int32_t* offsets;
  int64_t n_tok;
};

template <int kType, int kNT, bool kVec>
void launch_gemv_t(const Args& a, unsigned n_mats, int64_t max_count, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((a.n_rows + kGemvWarps - 1) / kGemvWarps), n_mats, 1);
  gemv_kernel<kType, kNT, kVec><<<grid, kGemvThreads, 0, stream>>>(a.w, a.mat_bytes, a.row_bytes, a.n_rows, a.n_cols,
                                                                  a.x, a.ldx, a.y, a.ldy, a.offsets, a.n_tok,
                                                                  max_count);
}

template <int kType, bool kVec>
void launch_gemv_nt(const Args& a, int nt, unsigned n_mats, int64_t max_count, cudaStream_t stream) {
  switch (nt) {
    case 1: launch_gemv_t<kType, 1, kVec>(a, n_mats, max_count, stream); break;
    case 2: launch_gemv_t<kType, 2, kVec>(a, n_mats, max_count, stream); break;
    case 4: launch_gemv_t<kType, 4, kVec>(a, n_mats, max_count, stream); break;
    default: launch_gemv_t<kType, 8, kVec>(a, n_mats, max_count, stream); break;
  }
}

// Tokens per GEMV pass for batches of up to `rows` rows: 1, 2, 4 or 8.
int gemv_nt(int64_t rows) { return rows <= 1 ? 1 : rows <= 2 ? 2 : rows <= 4 ? 4 : 8; }

cudaError_t launch_gemv(uint32_t type, bool vec, const Args& a, int nt, unsigned n_mats, int64_t max_count,
                        cudaStream_t stream) {
  const bool ok = dispatch_quant_type(type, [&](auto tc) {
    constexpr int kType = decltype(tc)::value;
    if (vec) {
      launch_gemv_nt<kType, true>(a, nt, n_mats, max_count, stream);
    } else {
      launch_gemv_nt<kType, false>(a, nt, n_mats, max_count, stream);
    }
  });
  return ok ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_tiled(uint32_t type, bool vec, bool tensor, const Args& a, unsigned n_mats, int64_t max_count,
                         int64_t min_count, cudaStream_t stream) {
  const int64_t row_tiles = (a.n_rows + kTileM - 1) / kTileM;
  const int64_t tok_tiles = (max_count + kTileN - 1) / kTileN;
  if (row_tiles > INT32_MAX || tok_tiles > 65535) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(row_tiles), n_mats, static_cast<unsigned>(tok_tiles));
  const bool use_tc = tensor && device_cc_major() >= 8;
  const bool ok = dispatch_quant_type(type, [&](auto tc) {
    constexpr int kType = decltype(tc)::value;
#define LFM_TILED_ARGS \
  a.w, a.mat_bytes, a.row_bytes, a.n_rows, a.n_cols, a.x, a.ldx, a.y, a.ldy, a.offsets, a.n_tok, min_count
    if (use_tc) {
      if (vec) {
        tiled_tc_kernel<kType, true><<<grid, kTileThreads, 0, stream>>>(LFM_TILED_ARGS);
      } else {
        tiled_tc_kernel<kType, false><<<grid, kTileThreads, 0, stream>>>(LFM_TILED_ARGS);
      }
    } else {
      if (vec) {
        tiled_simt_kernel<kType, true><<<grid, kTileThreads, 0, stream>>>(LFM_TILED_ARGS);
      } else {
        tiled_simt_kernel<kType, false><<<grid, kTileThreads, 0, stream>>>(LFM_TILED_ARGS);
      }
    }
#undef LFM_TILED_ARGS
  });
  return ok ? cudaGetLastError() : cudaErrorInvalidValue;
}

}  // namespace

bool matmul_supports(uint32_t type) {
  return type < 64 && quant_block_elems(static_cast<int>(type)) != 0;
}

size_t matmul_workspace_bytes(const DevMatrix&, int64_t) { return 0; }
size_t matmul_grouped_workspace_bytes(const DevMatrix&, int64_t) { return 0; }

cudaError_t matmul_path(const DevMatrix& w, int64_t mat, const float* x, int64_t ldx, int64_t n_tok, float* y,
                        int64_t ldy, MatmulPath path, cudaStream_t stream) {
  Shape s;
  const cudaError_t e = check_matrix(w, x, ldx, y, ldy, &s);
  if (e != cudaSuccess) return e;
  if (mat < 0 || mat >= w.n_mats || n_tok < 0) return cudaErrorInvalidValue;
  if (n_tok == 0) return cudaSuccess;
  const Args a{w.data + mat * s.mat_bytes, s.mat_bytes, s.row_bytes, w.n_rows, w.n_cols, x, ldx, y, ldy, nullptr,
               n_tok};
  const bool vec = s.vec && (quant_is_float(static_cast<int>(w.type)) ? aligned16(a.w) : true);
  if (path == MatmulPath::kGemv || (path == MatmulPath::kAuto && n_tok <= kDenseGemvMaxTok)) {
    return launch_gemv(w.type, vec, a, gemv_nt(n_tok), 1, kNoLimit, stream);
  }
  return launch_tiled(w.type, vec, path != MatmulPath::kTiledSimt, a, 1, n_tok, -1, stream);
}

cudaError_t matmul_grouped_path(const DevMatrix& w, const int32_t* offsets, const float* x, int64_t ldx,
                                int64_t max_rows, float* y, int64_t ldy, MatmulPath path, cudaStream_t stream) {
  Shape s;
  const cudaError_t e = check_matrix(w, x, ldx, y, ldy, &s);
  if (e != cudaSuccess) return e;
  if (offsets == nullptr || max_rows < 0 || w.n_mats > 65535) return cudaErrorInvalidValue;
  if (max_rows == 0) return cudaSuccess;
  const Args a{w.data, s.mat_bytes, s.row_bytes, w.n_rows, w.n_cols, x, ldx, y, ldy, offsets, 0};
  const unsigned n_mats = static_cast<unsigned>(w.n_mats);
  switch (path) {
    case MatmulPath::kGemv:
      return launch_gemv(w.type, s.vec, a, gemv_nt(max_rows), n_mats, kNoLimit, stream);
    case MatmulPath::kTiledSimt:
    case MatmulPath::kTiledTensor:
      return launch_tiled(w.type, s.vec, path == MatmulPath::kTiledTensor, a, n_mats, max_rows, 0, stream);
    case MatmulPath::kAuto:
      break;
  }
  // Experts with up to kGroupedGemvMaxRows rows: GEMV; the others (only possible when max_rows
  // is larger): tiled. Each kernel skips the experts of the other.
  cudaError_t r = launch_gemv(w.type, s.vec, a, gemv_nt(max_rows), n_mats, kGroupedGemvMaxRows, stream);
  if (r != cudaSuccess || max_rows <= kGroupedGemvMaxRows) return r;
  return launch_tiled(w.type, s.vec, true, a, n_mats, max_rows, kGroupedGemvMaxRows, stream);
}

cudaError_t matmul(const DevMatrix& w, int64_t mat, const float* x, int64_t ldx, int64_t n_tok, float* y,
                   int64_t ldy, const Workspace&, cudaStream_t stream) {
  return matmul_path(w, mat, x, ldx, n_tok, y, ldy, MatmulPath::kAuto, stream);
}

cudaError_t matmul_grouped(const DevMatrix& w, const int32_t* offsets, const float* x, int64_t ldx,
                           int64_t max_rows, float* y, int64_t ldy, const Workspace&, cudaStream_t stream) {
  return matmul_grouped_path(w, offsets, x, ldx, max_rows, y, ldy, MatmulPath::kAuto, stream);
}

}  // namespace lfm::cuda
