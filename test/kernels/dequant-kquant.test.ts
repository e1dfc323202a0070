// dequant_row for Q4_K / Q5_K: exact in every ISA, so scalar must equal the decoding of the
// bytes by the lib/gguf codecs (ggml's values) and every SIMD ISA must equal scalar bit for bit.
import { describe, expect, it } from "vitest";
import { expectAllClose, expectBitExact, randomF16Bits, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { DEQUANT_EXACT } from "../helpers/tolerance.js";
import { dequantize } from "../../lib/gguf/quant.js";

const IDS = { Q4_K: 12, Q5_K: 13 } as const;
const KTYPES = { Q4_K: { id: 12, bytes: 144 }, Q5_K: { id: 13, bytes: 176 } } as const;
type KType = keyof typeof KTYPES;

/** (as in matmul-kquant.test.ts) Random valid super-blocks: random f16 d/dmin (some negative or subnormal), scales, quants. */
function makeKWeights(type: KType, rows: number, cols: number, rng: Rng): { bytes: Uint8Array; values: Float64Array } {
  const bb = KTYPES[type].bytes;
  const nb = (rows * cols) / 256;
  const bytes = new Uint8Array(nb * bb);
  for (let b = 0; b < nb; b++) {
    const o = b * bb;
    for (let i = 4; i < bb; i++) bytes[o + i] = rng.int(0, 255);
    const d = randomF16Bits(rng, 4, 10) & (rng.next() < 0.1 ? 0xffff : 0x7fff);
    const m = randomF16Bits(rng, 4, 12) & (rng.next() < 0.1 ? 0xffff : 0x7fff);
    bytes[o] = d & 0xff;
    bytes[o + 1] = d >> 8;
    bytes[o + 2] = m & 0xff;
    bytes[o + 3] = m >> 8;
  }
  return { bytes, values: dequantize(type, bytes, rows * cols) };
}


describe.each(["Q4_K", "Q5_K"] as const)("dequant_row %s", (type) => {
  describe.each([256, 512, 768, 2048])("n=%i", (n) => {
    const rng = new Rng(91 + n);
    const w = makeKWeights(type, 1, n, rng);
    const wOffset = (n / 256) % 2; // odd byte offsets: block formats must not need alignment
    const run = (isa: string) => runKernel(isa, "dequant_row", { type: IDS[type], w: w.bytes, n, wOffset });
    const scalar = run("scalar");

    it("scalar equals the exact decoding", () => {
      expectAllClose(scalar, w.values, `scalar ${type}`, { atol: DEQUANT_EXACT });
    });

    it.each(simdIsas())("%s equals scalar bitwise", (isa) => {
      expectBitExact(run(isa), scalar, `${isa} ${type}`);
    });
  });

  it("rejects n that is not a multiple of 256", () => {
    expect(() => runKernel("scalar", "dequant_row", { type: IDS[type], w: new Uint8Array(400), n: 128 }))
      .toThrow(/multiple of the block size/);
  });
});
