// SPDX-License-Identifier: MIT
// The ggml type table: name, block size and block bytes for every on-disk type id, and which ones
// the engine computes with. Ids that ggml has retired (4, 5, 31-33, 36-38) or that do not exist
// yet are unknown: their size cannot be computed, so files holding them are refused.
#include "ggml_types.h"

namespace lfm {

namespace {

// K-quant and i-quant super-block size (ggml QK_K).
constexpr int64_t kQK_K = 256;

struct TypeTable {
  TypeTraits t[kGgmlTypeCount];

  constexpr TypeTable() : t{} {
    for (int i = 0; i < kGgmlTypeCount; i++) t[i] = TypeTraits{nullptr, 0, 0};
    //    id    name        elements  bytes per block
    t[0] = {"F32", 1, 4};
    t[1] = {"F16", 1, 2};
    t[2] = {"Q4_0", 32, 2 + 16};           // d + 32 nibbles
    t[3] = {"Q4_1", 32, 2 + 2 + 16};      // d, m + 32 nibbles
    t[6] = {"Q5_0", 32, 2 + 4 + 16};      // d, qh + 32 nibbles
    t[7] = {"Q5_1", 32, 2 + 2 + 4 + 16};  // d, m, qh + 32 nibbles
    t[8] = {"Q8_0", 32, 2 + 32};           // d + 32 bytes
    t[9] = {"Q8_1", 32, 2 + 2 + 32};      // d, s + 32 bytes
    t[10] = {"Q2_K", kQK_K, 16 + 64 + 2 + 2};             // scales, qs, d, dmin
    t[11] = {"Q3_K", kQK_K, 32 + 64 + 12 + 2};            // hmask, qs, scales, d
    t[12] = {"Q4_K", kQK_K, 2 + 2 + 12 + 128};            // d, dmin, scales, qs
    t[13] = {"Q5_K", kQK_K, 2 + 2 + 12 + 32 + 128};       // d, dmin, scales, qh, qs
    t[14] = {"Q6_K", kQK_K, 128 + 64 + 16 + 2};           // ql, qh, scales, d
    t[15] = {"Q8_K", kQK_K, 4 + 256 + 2 * 16};            // f32 d, qs, i16 bsums
    t[16] = {"IQ2_XXS", kQK_K, 2 + 2 * 32};               // d, u16 qs[32]
    t[17] = {"IQ2_XS", kQK_K, 2 + 2 * 32 + 8};            // d, u16 qs[32], scales
    t[18] = {"IQ3_XXS", kQK_K, 2 + 96};                   // d, qs[3*256/8]
    t[19] = {"IQ1_S", kQK_K, 2 + 32 + 2 * 8};             // d, qs, u16 qh[8]
    t[20] = {"IQ4_NL", 32, 2 + 16};                       // d + 32 nibbles
    t[21] = {"IQ3_S", kQK_K, 2 + 64 + 8 + 32 + 4};        // d, qs, qh, signs, scales
    t[22] = {"IQ2_S", kQK_K, 2 + 64 + 8 + 8};             // d, qs, qh, scales
    t[23] = {"IQ4_XS", kQK_K, 2 + 2 + 4 + 128};           // d, scales_h, scales_l, qs
    t[24] = {"I8", 1, 1};
    t[25] = {"I16", 1, 2};
    t[26] = {"I32", 1, 4};
    t[27] = {"I64", 1, 8};
    t[28] = {"F64", 1, 8};
    t[29] = {"IQ1_M", kQK_K, 32 + 16 + 8};                // qs, qh, scales
    t[30] = {"BF16", 1, 2};
    t[34] = {"TQ1_0", kQK_K, 48 + 4 + 2};                 // qs (base 3), qh, d
    t[35] = {"TQ2_0", kQK_K, 64 + 2};                     // qs (2 bits), d
    t[39] = {"MXFP4", 32, 1 + 16};                        // e8m0 scale + 32 e2m1 nibbles
  }
};

constexpr TypeTable kTable;
constexpr TypeTraits kUnknown{nullptr, 0, 0};

static_assert(kTable.t[2].type_size == sizeof(BlockQ4_0), "Q4_0 block size");
static_assert(kTable.t[8].type_size == sizeof(BlockQ8_0), "Q8_0 block size");
static_assert(kTable.t[10].type_size == 84 && kTable.t[11].type_size == 110 &&
                  kTable.t[12].type_size == 144 && kTable.t[13].type_size == 176 &&
                  kTable.t[14].type_size == 210 && kTable.t[15].type_size == 292,
              "K-quant block sizes as in ggml");

}  // namespace

const TypeTraits& type_traits(uint32_t type_id) {
  if (type_id >= static_cast<uint32_t>(kGgmlTypeCount)) return kUnknown;
  return kTable.t[type_id];
}

}  // namespace lfm
