// SPDX-License-Identifier: MIT
// Device-side dequantisation of the weight types the CUDA backend computes with, shared by the
// matrix products (matmul.cu) and the embedding lookup (embed.cu).
//
// The unit of work is a group of 8 consecutive elements of one row starting at a column c0 that
// is a multiple of 8 (dq8); F32 / F16 / BF16 rows also have single elements (dq1) for the tail of
// rows whose length is not a multiple of 8. Every value equals the CPU's dequant_row bit for bit
// (native/cpu/scalar/dequant_row*.cpp): the f16 -> f32 and bf16 -> f32 conversions are exact, the
// small integers are made exact with the 2^23 trick (below), and the formulas are the CPU's:
//   Q8_0 q * d            Q4_0 (q - 8) * d        Q5_0 (q - 16) * d
//   Q4_1, Q5_1 fmaf(q, d, m)  (= q * d + m: q * d is exact)
//   Q4_K, Q5_K fmaf(d * sc_j, q, -(dmin * m_j))  (= d1 * q - m1: d1 * q is exact)
//   Q6_K (d * sc) * (q - 32)  (exact)
//
// Alignment: quantised rows are read with 2-byte loads (every block size and field offset of
// these types is even), so a quantised matrix must start at an even address; F32 rows need 4
// bytes. With kVec the F32 / F16 / BF16 rows are read with 16-byte loads and must start at
// 16-byte-aligned addresses (the launchers check this and pick kVec accordingly).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "kernels.cuh"

namespace lfm::cuda {

// GgmlType ids (native/core/ggml_types.h) as compile-time constants for the kernel templates.
namespace qt {
constexpr int kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ4_K = 12, kQ5_K = 13,
              kQ6_K = 14, kBF16 = 30;
}  // namespace qt

// Elements per block and bytes per block of the supported types (0 for the others).
__host__ __device__ constexpr int64_t quant_block_elems(int type) {
  return type == qt::kF32 || type == qt::kF16 || type == qt::kBF16                                          ? 1
         : type == qt::kQ8_0 || type == qt::kQ4_0 || type == qt::kQ4_1 || type == qt::kQ5_0 || type == qt::kQ5_1 ? 32
         : type == qt::kQ4_K || type == qt::kQ5_K || type == qt::kQ6_K                                        ? 256
                                                                                                              : 0;
}
__host__ __device__ constexpr int64_t quant_block_bytes(int type) {
  return type == qt::kF32    ? 4
         : type == qt::kF16  ? 2
         : type == qt::kBF16 ? 2
         : type == qt::kQ8_0 ? 34
         : type == qt::kQ4_0 ? 18
         : type == qt::kQ4_1 ? 20
         : type == qt::kQ5_0 ? 22
         : type == qt::kQ5_1 ? 24
         : type == qt::kQ4_K ? 144
         : type == qt::kQ5_K ? 176
         : type == qt::kQ6_K ? 210
                             : 0;
}
__host__ __device__ constexpr bool quant_is_float(int type) {
  return type == qt::kF32 || type == qt::kF16 || type == qt::kBF16;
}

// --- scalar helpers

__device__ __forceinline__ float dq_f16(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float dq_bf16(uint16_t h) { return __uint_as_float(static_cast<uint32_t>(h) << 16); }

// (float)v for 0 <= v < 2^23, exactly, without the (slow) integer-to-float conversion unit:
// 2^23 + v is a float whose mantissa holds v, and subtracting 2^23 is exact.
__device__ __forceinline__ float dq_u2f(uint32_t v) { return __uint_as_float(0x4B000000u | v) - 8388608.0f; }
// (float)(v - off) for 0 <= v < 2^23, 0 <= off < 2^23, exactly (2^23 + v - (2^23 + off)).
__device__ __forceinline__ float dq_u2f_minus(uint32_t v, float two23_plus_off) {
  return __uint_as_float(0x4B000000u | v) - two23_plus_off;
}

__device__ __forceinline__ uint16_t dq_ld16(const uint8_t* p) {  // p 2-byte aligned
  return __ldg(reinterpret_cast<const unsigned short*>(p));
}
// 8 bytes at a 2-byte-aligned address, as two little-endian 32-bit words.
__device__ __forceinline__ void dq_ld8(const uint8_t* p, uint32_t& lo, uint32_t& hi) {
  const unsigned short* s = reinterpret_cast<const unsigned short*>(p);
  lo = static_cast<uint32_t>(__ldg(s + 0)) | static_cast<uint32_t>(__ldg(s + 1)) << 16;
  hi = static_cast<uint32_t>(__ldg(s + 2)) | static_cast<uint32_t>(__ldg(s + 3)) << 16;
}
// Byte i (0..7) of the pair (lo, hi).
__device__ __forceinline__ uint32_t dq_byte(uint32_t lo, uint32_t hi, int i) {
  return ((i < 4 ? lo : hi) >> (8 * (i & 3))) & 0xffu;
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block (scales = 12 bytes
// at blk + 4), as ggml's get_scale_min_k4 / kquant_unpack_scales.
__device__ __forceinline__ void dq_kquant_scale_min(const uint8_t* scales, int j, uint32_t& sc, uint32_t& mn) {
  if (j < 4) {
    sc = __ldg(scales + j) & 63u;
    mn = __ldg(scales + j + 4) & 63u;
  } else {
    const uint32_t a = __ldg(scales + j + 4), lo = __ldg(scales + j - 4), hi = __ldg(scales + j);
    sc = (a & 0x0fu) | ((lo >> 6) << 4);
    mn = (a >> 4) | ((hi >> 6) << 4);
  }
}

// --- one element (F32 / F16 / BF16 only): w = W[row, c]

template <int kType>
__device__ __forceinline__ float dq1(const uint8_t* __restrict__ row, int64_t c) {
  static_assert(quant_is_float(kType), "dq1 is for F32 / F16 / BF16");
  if constexpr (kType == qt::kF32) {
    return __ldg(reinterpret_cast<const float*>(row) + c);
  } else if constexpr (kType == qt::kF16) {
    return dq_f16(dq_ld16(row + 2 * c));
  } else {
    return dq_bf16(dq_ld16(row + 2 * c));
  }
}

// --- 8 elements: w[i] = W[row, c0 + i], i < 8, c0 a multiple of 8 and c0 + 8 <= n_cols

template <int kType, bool kVec>
__device__ __forceinline__ void dq8(const uint8_t* __restrict__ row, int64_t c0, float w[8]) {
  if constexpr (kType == qt::kF32) {
    if constexpr (kVec) {
      const float4* p = reinterpret_cast<const float4*>(row + 4 * c0);
      const float4 a = __ldg(p), b = __ldg(p + 1);
      w[0] = a.x; w[1] = a.y; w[2] = a.z; w[3] = a.w;
      w[4] = b.x; w[5] = b.y; w[6] = b.z; w[7] = b.w;
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) w[i] = dq1<kType>(row, c0 + i);
    }
  } else if constexpr (kType == qt::kF16 || kType == qt::kBF16) {
    uint32_t u[4];
    if constexpr (kVec) {
      const uint4 v = __ldg(reinterpret_cast<const uint4*>(row + 2 * c0));
      u[0] = v.x; u[1] = v.y; u[2] = v.z; u[3] = v.w;
    } else {
      const unsigned short* s = reinterpret_cast<const unsigned short*>(row + 2 * c0);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        u[i] = static_cast<uint32_t>(__ldg(s + 2 * i)) | static_cast<uint32_t>(__ldg(s + 2 * i + 1)) << 16;
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint16_t h0 = static_cast<uint16_t>(u[i] & 0xffffu), h1 = static_cast<uint16_t>(u[i] >> 16);
      if constexpr (kType == qt::kF16) {
        w[2 * i] = dq_f16(h0);
        w[2 * i + 1] = dq_f16(h1);
      } else {
        w[2 * i] = dq_bf16(h0);
        w[2 * i + 1] = dq_bf16(h1);
      }
    }
  } else if constexpr (kType == qt::kQ8_0) {
    const uint8_t* blk = row + (c0 / 32) * 34;
    const int j0 = static_cast<int>(c0 % 32);
    const float d = dq_f16(dq_ld16(blk));
    uint32_t lo, hi;
    dq_ld8(blk + 2 + j0, lo, hi);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      // int8 q: (byte ^ 0x80) = q + 128 in [0, 255]; minus 128 gives q exactly.
      w[i] = dq_u2f_minus(dq_byte(lo, hi, i) ^ 0x80u, 8388736.0f) * d;
    }
  } else if constexpr (kType == qt::kQ4_0 || kType == qt::kQ4_1) {
    constexpr int kBytes = kType == qt::kQ4_0 ? 18 : 20;
    constexpr int kQs = kType == qt::kQ4_0 ? 2 : 4;
    const uint8_t* blk = row + (c0 / 32) * kBytes;
    const int j0 = static_cast<int>(c0 % 32);  // 0, 8, 16 or 24
    const int shift = j0 < 16 ? 0 : 4;        // elements 16..31 are the high nibbles of qs[0..15]
    const float d = dq_f16(dq_ld16(blk));
    uint32_t lo, hi;
    dq_ld8(blk + kQs + (j0 & 15), lo, hi);
    if constexpr (kType == qt::kQ4_0) {
#pragma unroll
      for (int i = 0; i < 8; ++i) w[i] = dq_u2f_minus((dq_byte(lo, hi, i) >> shift) & 15u, 8388616.0f) * d;
    } else {
      const float m = dq_f16(dq_ld16(blk + 2));
#pragma unroll
      for (int i = 0; i < 8; ++i) w[i] = fmaf(dq_u2f((dq_byte(lo, hi, i) >> shift) & 15u), d, m);
    }
  } else if constexpr (kType == qt::kQ5_0 || kType == qt::kQ5_1) {
    constexpr int kBytes = kType == qt::kQ5_0 ? 22 : 24;
    constexpr int kQh = kType == qt::kQ5_0 ? 2 : 4;
    constexpr int kQs = kType == qt::kQ5_0 ? 6 : 8;
    const uint8_t* blk = row + (c0 / 32) * kBytes;
    const int j0 = static_cast<int>(c0 % 32);
    const int shift = j0 < 16 ? 0 : 4;
    const float d = dq_f16(dq_ld16(blk));
    // bit j of the 32-bit little-endian qh is bit 4 of element j
    const uint32_t qh = static_cast<uint32_t>(dq_ld16(blk + kQh)) | static_cast<uint32_t>(dq_ld16(blk + kQh + 2)) << 16;
    uint32_t lo, hi;
    dq_ld8(blk + kQs + (j0 & 15), lo, hi);
    float m = 0.0f;
    if constexpr (kType == qt::kQ5_1) m = dq_f16(dq_ld16(blk + 2));
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const uint32_t q = ((dq_byte(lo, hi, i) >> shift) & 15u) | (((qh >> (j0 + i)) & 1u) << 4);
      if constexpr (kType == qt::kQ5_0) {
        w[i] = dq_u2f_minus(q, 8388624.0f) * d;
      } else {
        w[i] = fmaf(dq_u2f(q), d, m);
      }
    }
  } else if constexpr (kType == qt::kQ4_K || kType == qt::kQ5_K) {
    constexpr int kBytes = kType == qt::kQ4_K ? 144 : 176;
    constexpr int kQs = kType == qt::kQ4_K ? 16 : 48;
    const uint8_t* blk = row + (c0 / 256) * kBytes;
    const int e0 = static_cast<int>(c0 % 256);
    const int j = e0 / 32;   // sub-block
    const int l0 = e0 % 32;  // 0, 8, 16 or 24
    const float d = dq_f16(dq_ld16(blk)), dmin = dq_f16(dq_ld16(blk + 2));
    uint32_t sc, mn;
    dq_kquant_scale_min(blk + 4, j, sc, mn);
    const float d1 = d * dq_u2f(sc), m1 = dmin * dq_u2f(mn);  // exact products, as the CPU
    const int shift = 4 * (j & 1);
    uint32_t lo, hi;
    dq_ld8(blk + kQs + 32 * (j / 2) + l0, lo, hi);
    uint32_t hlo = 0, hhi = 0;
    if constexpr (kType == qt::kQ5_K) dq_ld8(blk + 16 + l0, hlo, hhi);  // qh[l]: bit j is bit 4 of element l of sub-block j
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      uint32_t q = (dq_byte(lo, hi, i) >> shift) & 15u;
      if constexpr (kType == qt::kQ5_K) q |= ((dq_byte(hlo, hhi, i) >> j) & 1u) << 4;
      w[i] = fmaf(d1, dq_u2f(q), -m1);
    }
  } else if constexpr (kType == qt::kQ6_K) {
    const uint8_t* blk = row + (c0 / 256) * 210;
    const int e0 = static_cast<int>(c0 % 256);
    const int h = e0 / 128;        // half
    const int g = (e0 % 128) / 32;  // group of 32 within the half
    const int l0 = e0 % 32;         // 0, 8, 16 or 24
    const float d = dq_f16(dq_ld16(blk + 208));
    const int8_t s = static_cast<int8_t>(__ldg(blk + 192 + 8 * h + 2 * g + l0 / 16));
    const float ds = d * static_cast<float>(s);  // exact (11 + 8 bits)
    uint32_t qlo, qhi, hlo, hhi;
    dq_ld8(blk + 64 * h + 32 * (g & 1) + l0, qlo, qhi);
    dq_ld8(blk + 128 + 32 * h + l0, hlo, hhi);
    const int lshift = 4 * (g >> 1), hshift = 2 * g;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const uint32_t q = ((dq_byte(qlo, qhi, i) >> lshift) & 15u) | (((dq_byte(hlo, hhi, i) >> hshift) & 3u) << 4);
      w[i] = ds * dq_u2f_minus(q, 8388640.0f);  // (q - 32), exact
    }
  } else {
    static_assert(kType == qt::kF32, "unsupported weight type");
  }
}

// As dq8, for any c0 (a multiple of 8) < n_cols: elements at or past n_cols are 0. Only F32 / F16
// / BF16 rows can end inside a group of 8 (the block size of the others is 32 or 256).
template <int kType, bool kVec>
__device__ __forceinline__ void dq8_guarded(const uint8_t* __restrict__ row, int64_t c0, int64_t n_cols, float w[8]) {
  if constexpr (quant_is_float(kType)) {
    if (c0 + 8 <= n_cols) {
      dq8<kType, kVec>(row, c0, w);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) w[i] = c0 + i < n_cols ? dq1<kType>(row, c0 + i) : 0.0f;
    }
  } else {
    dq8<kType, kVec>(row, c0, w);
  }
}

// Calls f(std::integral_constant<int, kType>{}) for the runtime type id (a generic lambda reads the
// id as decltype(tc)::value); returns false for ids not supported.
template <typename F>
inline bool dispatch_quant_type(uint32_t type, F&& f) {
  switch (type) {
    case qt::kF32: f(std::integral_constant<int, qt::kF32>{}); return true;
    case qt::kF16: f(std::integral_constant<int, qt::kF16>{}); return true;
    case qt::kBF16: f(std::integral_constant<int, qt::kBF16>{}); return true;
    case qt::kQ8_0: f(std::integral_constant<int, qt::kQ8_0>{}); return true;
    case qt::kQ4_0: f(std::integral_constant<int, qt::kQ4_0>{}); return true;
    case qt::kQ4_1: f(std::integral_constant<int, qt::kQ4_1>{}); return true;
    case qt::kQ5_0: f(std::integral_constant<int, qt::kQ5_0>{}); return true;
    case qt::kQ5_1: f(std::integral_constant<int, qt::kQ5_1>{}); return true;
    case qt::kQ4_K: f(std::integral_constant<int, qt::kQ4_K>{}); return true;
    case qt::kQ5_K: f(std::integral_constant<int, qt::kQ5_K>{}); return true;
    case qt::kQ6_K: f(std::integral_constant<int, qt::kQ6_K>{}); return true;
    default: return false;
  }
}

// --- matmul internals exposed to the kernel test hook (test_ops_matmul.cu); defined in matmul.cu.

// Which kernels a product uses. kAuto is what matmul / matmul_grouped do. kGemv: the
// weight-streaming kernel for every token count (grouped: for every expert). kTiledSimt /
// kTiledTensor: the tiled product (kTiledTensor uses the 3xTF32 tensor-core kernel where the
// device has compute capability 8.0 or more and the SIMT kernel elsewhere).
enum class MatmulPath : int { kAuto = 0, kGemv = 1, kTiledSimt = 2, kTiledTensor = 3 };

cudaError_t matmul_path(const DevMatrix& w, int64_t mat, const float* x, int64_t ldx, int64_t n_tok, float* y,
                        int64_t ldy, MatmulPath path, cudaStream_t stream);
cudaError_t matmul_grouped_path(const DevMatrix& w, const int32_t* offsets, const float* x, int64_t ldx,
                                int64_t max_rows, float* y, int64_t ldy, MatmulPath path, cudaStream_t stream);

}  // namespace lfm::cuda
