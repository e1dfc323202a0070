// dequant_row for Q4_K / Q5_K: exact in every ISA, so scalar must equal the decoding of the
// bytes by the lib/gguf codecs (ggml's values) and every SIMD ISA must equal scalar bit for bit.
import { describe, expect, it } from "vitest";
import { expectAllClose, expectBitExact, KQUANT_TYPES, makeKQuantWeights, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { DEQUANT_EXACT } from "../helpers/tolerance.js";



describe.each(["Q4_K", "Q5_K"] as const)("dequant_row %s", (type) => {
  describe.each([256, 512, 768, 2048])("n=%i", (n) => {
    const rng = new Rng(91 + n);
    const w = makeKQuantWeights(type, 1, n, rng);
    const wOffset = (n / 256) % 2; // odd byte offsets: block formats must not need alignment
    const run = (isa: string) => runKernel(isa, "dequant_row", { type: KQUANT_TYPES[type].id, w: w.bytes, n, wOffset });
    const scalar = run("scalar");

    it("scalar equals the exact decoding", () => {
      expectAllClose(scalar, w.values, `scalar ${type}`, { atol: DEQUANT_EXACT });
    });

    it.each(simdIsas())("%s equals scalar bitwise", (isa) => {
      expectBitExact(run(isa), scalar, `${isa} ${type}`);
    });
  });

  it("rejects n that is not a multiple of 256", () => {
    expect(() => runKernel("scalar", "dequant_row", { type: KQUANT_TYPES[type].id, w: new Uint8Array(400), n: 128 }))
      .toThrow(/multiple of the block size/);
  });
});
