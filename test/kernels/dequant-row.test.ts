// dequant_row for F32, F16, BF16, Q8_0, Q4_0: exact in every ISA, so scalar must equal the
// float64 decoding of the bytes and every SIMD ISA must equal scalar bit for bit.
import { describe, expect, it } from "vitest";
import {
  blockSize, expectAllClose, expectBitExact, GGML, makeWeights, Rng, runKernel, simdIsas, type WeightType,
} from "../helpers/kernels.js";
import { DEQUANT_EXACT } from "../helpers/tolerance.js";

const TYPES: WeightType[] = ["F32", "F16", "BF16", "Q8_0", "Q4_0"];
const N_ELEM = [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 100, 2048];
const N_BLOCK = [32, 64, 96, 160, 2048];

describe.each(TYPES)("dequant_row %s", (type) => {
  const sizes = blockSize(type) === 1 ? N_ELEM : N_BLOCK;
  describe.each(sizes)("n=%i", (n) => {
    const rng = new Rng(77 + n);
    const w = makeWeights(type, 1, n, rng);
    const wOffset = n % 2; // odd byte offsets: block formats must not need alignment
    const run = (isa: string) => runKernel(isa, "dequant_row", { type: GGML[type], w: w.bytes, n, wOffset });
    const scalar = run("scalar");

    it("scalar equals the exact decoding", () => {
      expectAllClose(scalar, w.values, `scalar ${type}`, { atol: DEQUANT_EXACT });
    });

    it.each(simdIsas())("%s equals scalar bitwise", (isa) => {
      expectBitExact(run(isa), scalar, `${isa} ${type}`);
    });
  });

  it("rejects n that is not a multiple of the block", () => {
    if (blockSize(type) === 1) return;
    expect(() => runKernel("scalar", "dequant_row", { type: GGML[type], w: new Uint8Array(64), n: 31 }))
      .toThrow(/multiple of the block size/);
  });
});
