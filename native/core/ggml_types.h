// SPDX-License-Identifier: MIT
// ggml tensor types as stored in GGUF files, their block layouts and the half-precision helpers.
#pragma once

#include <cstdint>
#include <cmath>
#include <cstring>

namespace lfm {

// Numeric values are the GGUF on-disk ids (ggml_type).
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
};
constexpr int kGgmlTypeCount = 40;  // table size for arrays indexed by type id

struct TypeTraits {
  const char* name;    // "Q4_0", or nullptr for ids this project does not know
  // (whether the engine computes with a type is the kernel table's business: cpu/dispatch.h)
  int64_t block_size;  // elements per block
  int64_t type_size;   // bytes per block
};

// Traits for any 32-bit id (unknown ids get name == nullptr).
const TypeTraits& type_traits(uint32_t type_id);

// Bytes taken by a row of n elements (n must be a multiple of the block size).
static inline int64_t row_bytes(GgmlType t, int64_t n) {
  const TypeTraits& tr = type_traits(static_cast<uint32_t>(t));
  return n / tr.block_size * tr.type_size;
}

// --- block layouts (identical to ggml)

constexpr int kQK4_0 = 32;
struct BlockQ4_0 {
  uint16_t d;               // f16 scale
  uint8_t qs[kQK4_0 / 2];   // element j (j < 16) in the low nibble of qs[j], element j+16 in the high nibble; value = (q - 8) * d
};
static_assert(sizeof(BlockQ4_0) == 18, "BlockQ4_0 layout");

constexpr int kQK8_0 = 32;
struct BlockQ8_0 {
  uint16_t d;         // f16 scale
  int8_t qs[kQK8_0];  // value = q * d
};
static_assert(sizeof(BlockQ8_0) == 34, "BlockQ8_0 layout");

// --- half-precision conversions (portable, exact; SIMD kernels use their own)

static inline float fp32_from_bits(uint32_t w) { float f; std::memcpy(&f, &w, 4); return f; }
static inline uint32_t fp32_to_bits(float f) { uint32_t w; std::memcpy(&w, &f, 4); return w; }

static inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return fp32_from_bits(sign);
    // subnormal: normalise
    int e = -1;
    do { e++; mant <<= 1; } while ((mant & 0x400u) == 0);
    mant &= 0x3ffu;
    return fp32_from_bits(sign | static_cast<uint32_t>(127 - 15 - e) << 23 | mant << 13);
  }
  if (exp == 0x1f) return fp32_from_bits(sign | 0x7f800000u | mant << 13);
  return fp32_from_bits(sign | (exp + 127 - 15) << 23 | mant << 13);
}

// Round to nearest even (the result ggml's GGML_FP32_TO_FP16 gives). The float additions do the
// rounding: scaling by 2^112 then 2^-110 saturates overflow to inf, and adding a power of two
// chosen from the exponent leaves exactly 10 mantissa bits (or the subnormal grid) to keep.
static inline uint16_t fp32_to_fp16(float f) {
  const uint32_t w = fp32_to_bits(f);
  const uint32_t sign = w & 0x80000000u;
  const uint32_t twice = w + w;  // drops the sign
  float base = (std::fabs(f) * 0x1.0p+112f) * 0x1.0p-110f;
  uint32_t bias = twice & 0xff000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = fp32_from_bits((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = fp32_to_bits(base);
  const uint32_t nonsign = ((bits >> 13) & 0x7c00u) + (bits & 0x0fffu);
  return static_cast<uint16_t>((sign >> 16) | (twice > 0xff000000u ? 0x7e00u : nonsign));
}

static inline float bf16_to_fp32(uint16_t h) { return fp32_from_bits(static_cast<uint32_t>(h) << 16); }

}  // namespace lfm
