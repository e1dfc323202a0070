// dequant_row for Q4_1, Q5_0, Q5_1: scalar must equal the codec's decoding (ggml's float32
// values) exactly and every SIMD ISA must equal scalar bit for bit.
import { describe, expect, it } from "vitest";
import { expectAllClose, expectBitExact, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { LEGACY_IDS, LEGACY_TYPES, makeLegacyWeights } from "../helpers/legacy-weights.js";
import { DEQUANT_EXACT } from "../helpers/tolerance.js";

const N_BLOCK = [32, 64, 96, 160, 2048];

describe.each(LEGACY_TYPES)("dequant_row %s", (type) => {
  describe.each(N_BLOCK)("n=%i", (n) => {
    const rng = new Rng(91 + n);
    const w = makeLegacyWeights(type, 1, n, rng);
    const wOffset = (n / 32) % 2; // odd byte offsets: no alignment needed
    const run = (isa: string) => runKernel(isa, "dequant_row", { type: LEGACY_IDS[type], w: w.bytes, n, wOffset });
    const scalar = run("scalar");

    it("scalar equals the exact decoding", () => {
      expectAllClose(scalar, w.values, `scalar ${type}`, { atol: DEQUANT_EXACT });
    });

    it.each(simdIsas())("%s equals scalar bitwise", (isa) => {
      expectBitExact(run(isa), scalar, `${isa} ${type}`);
    });
  });

  it("decodes every 5-bit / 4-bit quant at its position", () => {
    // One block with d = 1, m = 0 and quant j = j (Q5_*) or j % 16 (Q4_1).
    const bytes = new Uint8Array(type === "Q4_1" ? 20 : type === "Q5_0" ? 22 : 24);
    bytes[1] = 0x3c; // f16 1.0
    const qs = type === "Q4_1" ? 4 : type === "Q5_0" ? 6 : 8;
    const q = (j: number) => (type === "Q4_1" ? j % 16 : j);
    for (let j = 0; j < 16; j++) bytes[qs + j] = (q(j) & 15) | ((q(j + 16) & 15) << 4);
    if (type !== "Q4_1") bytes.set([0, 0, 0xff, 0xff], qs - 4); // bit 4 set for j >= 16
    const want = Array.from({ length: 32 }, (_, j) => q(j) - (type === "Q5_0" ? 16 : 0));
    for (const isa of ["scalar", ...simdIsas()]) {
      expect(Array.from(runKernel(isa, "dequant_row", { type: LEGACY_IDS[type], w: bytes, n: 32 })), isa).toEqual(want);
    }
  });

  it("rejects n that is not a multiple of the block", () => {
    expect(() => runKernel("scalar", "dequant_row", { type: LEGACY_IDS[type], w: new Uint8Array(64), n: 31 }))
      .toThrow(/multiple of the block size/);
  });
});
