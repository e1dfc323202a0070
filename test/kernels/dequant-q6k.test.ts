// dequant_row for Q6_K: exact in every ISA, so scalar must equal the float64 decoding of the bytes
// (lib/gguf/quant-q6k.ts, checked against hand-built blocks in test/unit/quant-q6k.test.ts) and
// every SIMD ISA must equal scalar bit for bit.
import { describe, expect, it } from "vitest";
import { dequantize } from "../../lib/gguf/quant.js";
import { expectAllClose, expectBitExact, randomF16Bits, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { DEQUANT_EXACT } from "../helpers/tolerance.js";

const Q6_K = 14;
const BLOCK = 210;

function randomBlocks(n: number, rng: Rng): Uint8Array {
  const bytes = new Uint8Array((n / 256) * BLOCK);
  for (let o = 0; o < bytes.length; o += BLOCK) {
    for (let j = 0; j < 192; j++) bytes[o + j] = rng.int(0, 255);
    for (let j = 0; j < 16; j++) bytes[o + 192 + j] = rng.int(-128, 127) & 0xff;
    // Mostly normal d of both signs, a few subnormals / zeros (randomF16Bits) and the extremes.
    const d = rng.next() < 0.05 ? 0x7bff : randomF16Bits(rng, 1, 20);
    bytes[o + 208] = d & 0xff;
    bytes[o + 209] = d >>> 8;
  }
  return bytes;
}

describe("dequant_row Q6_K", () => {
  describe.each([256, 512, 768, 2048, 8192])("n=%i", (n) => {
    const rng = new Rng(91 + n);
    const bytes = randomBlocks(n, rng);
    const values = dequantize("Q6_K", bytes, n);
    const wOffset = (n / 256) % 2; // odd byte offsets: no alignment needed
    const run = (isa: string) => runKernel(isa, "dequant_row", { type: Q6_K, w: bytes, n, wOffset });
    const scalar = run("scalar");

    it("scalar equals the exact decoding", () => {
      expectAllClose(scalar, values, "scalar Q6_K", { atol: DEQUANT_EXACT });
    });

    it.each(simdIsas())("%s equals scalar bitwise", (isa) => {
      expectBitExact(run(isa), scalar, `${isa} Q6_K`);
    });
  });

  it("rejects n that is not a multiple of 256", () => {
    expect(() => runKernel("scalar", "dequant_row", { type: Q6_K, w: new Uint8Array(420), n: 128 }))
      .toThrow(/multiple of the block size/);
  });
});
