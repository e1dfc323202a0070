// Random Q4_1 / Q5_0 / Q5_1 weight matrices for the kernel tests: random block bytes (f16 scale
// and min of either sign, every quant pattern) and their exact values from the codec's decoder
// (ggml's float32 values, which every kernel must reproduce).
import { dequantize } from "../../lib/gguf/quant.js";
import { randomF16Bits, Rng } from "./kernels.js";

export const LEGACY_TYPES = ["Q4_1", "Q5_0", "Q5_1"] as const;
export type LegacyType = (typeof LEGACY_TYPES)[number];

/** GGUF type ids. */
export const LEGACY_IDS: Record<LegacyType, number> = { Q4_1: 3, Q5_0: 6, Q5_1: 7 };
export const LEGACY_BLOCK_BYTES: Record<LegacyType, number> = { Q4_1: 20, Q5_0: 22, Q5_1: 24 };

export interface LegacyWeights {
  type: LegacyType;
  bytes: Uint8Array;
  /** Row-major [rows][cols] dequantized values. */
  values: Float64Array;
  rows: number;
  cols: number;
}

export function makeLegacyWeights(type: LegacyType, rows: number, cols: number, rng: Rng): LegacyWeights {
  const bb = LEGACY_BLOCK_BYTES[type];
  const nBlocks = (rows * cols) / 32;
  const bytes = new Uint8Array(nBlocks * bb);
  for (let b = 0; b < nBlocks; b++) {
    const o = b * bb;
    for (let i = 0; i < bb; i++) bytes[o + i] = rng.int(0, 255);
    // d of either sign (ggml's d is >= 0 for the min types, but kernels must not care); m of
    // the size of 8 to 16 steps so that q * d + m cancels and rounds.
    const d = (randomF16Bits(rng, 8, 14) & 0x7fff) | (rng.next() < 0.1 ? 0x8000 : 0);
    bytes[o] = d & 0xff;
    bytes[o + 1] = d >>> 8;
    if (type !== "Q5_0") {
      const m = randomF16Bits(rng, 10, 17);
      bytes[o + 2] = m & 0xff;
      bytes[o + 3] = m >>> 8;
    }
  }
  const values = dequantize(type, bytes, rows * cols);
  return { type, bytes, values, rows, cols };
}
