// SPDX-License-Identifier: MIT
// RMSNorm and the elementwise ops of the forward pass (kernels.cuh, norm.cu section).
//
// rmsnorm: one block of 256 threads per row. The sum of squares is taken in double, as the CPU
// scalar kernel (native/cpu/scalar/rmsnorm.cpp) does: each square of an f32 is exact in double,
// so only the summation order differs from the CPU (a block reduction instead of a loop), which
// moves the double sum by ~1e-16 relative; s = f32(1 / sqrt(sum / n + eps)) in double (IEEE sqrt
// and division, as the CPU), then y = (x * s) * w in f32 (two products: nothing to contract).
// add_inplace: grid-stride x += y (one f32 addition, the CPU's axpy with a = 1 rounds the same).
// swiglu: grid-stride y = g / (1 + expf(-g)) * up in f32 (the CPU scalar evaluates in double and
// rounds once; this is within a few ulp, as the CPU's SIMD versions are).

#include <cub/block/block_reduce.cuh>

#include <climits>
#include <cstdint>

#include "kernels.cuh"

namespace lfm::cuda {
namespace {

constexpr int kNormThreads = 256;
constexpr int kEltThreads = 256;

// Blocks for a grid-stride loop over n elements (at least 1, at most 65535 * 32).
unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kEltThreads - 1) / kEltThreads;
  const int64_t cap = 65535LL * 32;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// No __restrict__ on x / y: y may alias x. Each thread reads its elements of x in the first
// loop and again in the second, and writes y only in the second, after the block-wide barrier
// of the reduction, so aliasing is safe.
__global__ void rmsnorm_kernel(float* y, int64_t ldy, const float* x, int64_t ldx, const float* __restrict__ w,
                               int64_t n, float eps) {
  using Reduce = cub::BlockReduce<double, kNormThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ float s_scale;
  const int64_t row = blockIdx.x;
  const float* xr = x + row * ldx;
  float* yr = y + row * ldy;
  double sum_sq = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kNormThreads) {
    const double v = static_cast<double>(xr[i]);
    sum_sq += v * v;
  }
  const double total = Reduce(tmp).Sum(sum_sq);  // valid in thread 0
  if (threadIdx.x == 0) {
    s_scale = static_cast<float>(1.0 / sqrt(total / static_cast<double>(n) + static_cast<double>(eps)));
  }
  __syncthreads();
  const float s = s_scale;
  for (int64_t i = threadIdx.x; i < n; i += kNormThreads) {
    yr[i] = __fmul_rn(__fmul_rn(xr[i], s), w[i]);
  }
}

__global__ void add_kernel(float* __restrict__ x, const float* __restrict__ y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    x[i] = __fadd_rn(x[i], y[i]);
  }
}

// No __restrict__: y may alias gate or up (each element is read before it is written, by the
// same thread).
__global__ void swiglu_kernel(float* y, const float* gate, const float* up, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float g = gate[i];
    const float u = up[i];
    const float silu = __fdiv_rn(g, __fadd_rn(1.0f, expf(-g)));
    y[i] = __fmul_rn(silu, u);
  }
}

}  // namespace

cudaError_t rmsnorm(float* y, int64_t ldy, const float* x, int64_t ldx, const float* w, int64_t n, int64_t rows,
                    float eps, cudaStream_t stream) {
  if (rows < 0 || n < 0 || rows > INT_MAX) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  if (n == 0 || !y || !x || !w || ldx < n || ldy < n) return cudaErrorInvalidValue;
  rmsnorm_kernel<<<static_cast<unsigned>(rows), kNormThreads, 0, stream>>>(y, ldy, x, ldx, w, n, eps);
  return cudaGetLastError();
}

cudaError_t add_inplace(float* x, const float* y, int64_t n, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  add_kernel<<<grid_for(n), kEltThreads, 0, stream>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t swiglu(float* y, const float* gate, const float* up, int64_t n, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!y || !gate || !up) return cudaErrorInvalidValue;
  swiglu_kernel<<<grid_for(n), kEltThreads, 0, stream>>>(y, gate, up, n);
  return cudaGetLastError();
}

}  // namespace lfm::cuda
