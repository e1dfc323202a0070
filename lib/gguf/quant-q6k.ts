// SPDX-License-Identifier: MIT
// Q6_K codec: a port of ggml's reference encoder and decoder.
import type { GgmlTypeName } from "./types.js";
import type { TypeCodec } from "./half.js";

export const Q6K_CODECS: Partial<Record<GgmlTypeName, TypeCodec>> = {};
