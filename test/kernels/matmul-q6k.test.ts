// matmul with Q6_K weights (f32 activations): scalar vs a float64 reference built from the exact
// decoded weights (lib/gguf/quant-q6k.ts, itself checked in test/unit/quant-q6k.test.ts), and
// every SIMD ISA of this CPU vs scalar. Rows outside [r0, r1) and the padding of ldy must stay
// untouched.
import { describe, expect, it } from "vitest";
import {
  expectAllClose, makeQ6KWeights, matmulReference, Q6_K_BLOCK_BYTES as BLOCK, Q6_K_ID as Q6_K, Rng, runKernel, runMatmul,
  simdIsas, type MatmulCase,
} from "../helpers/kernels.js";
import { matmulScaleTol, SCALAR_REL, SCALAR_SCALE } from "../helpers/tolerance.js";

function cases(): MatmulCase[] {
  const out: MatmulCase[] = [];
  const N_TOK = [1, 2, 3, 5, 8];
  [256, 512, 2048].forEach((cols, i) => {
    for (const nTok of N_TOK) {
      const rows = [1, 3, 6, 9, 13][(i + nTok) % 5]!;
      const inner = rows >= 3 && (nTok + i) % 2 === 1; // odd row range [1, rows - 1)
      out.push({
        rows, cols, nTok, r0: inner ? 1 : 0, r1: inner ? rows - 1 : rows,
        ldx: cols + (nTok % 3 === 2 ? 5 : 0), ldy: rows + (nTok % 2 === 1 ? 2 : 0), wOffset: (nTok + i) % 2,
      });
    }
  });
  // Odd row ranges with full 4-row tiles plus remainders, and a decode / prefill at 2048.
  out.push({ rows: 11, cols: 512, nTok: 3, r0: 2, r1: 11, ldx: 512, ldy: 11, wOffset: 1 });
  out.push({ rows: 37, cols: 2048, nTok: 1, r0: 3, r1: 36, ldx: 2048, ldy: 37, wOffset: 0 });
  out.push({ rows: 37, cols: 2048, nTok: 8, r0: 0, r1: 37, ldx: 2048, ldy: 37, wOffset: 0 });
  return out;
}

const name = (c: MatmulCase) =>
  `${c.rows}x${c.cols} nTok=${c.nTok} rows [${c.r0},${c.r1}) ldx=${c.ldx} ldy=${c.ldy} wOffset=${c.wOffset}`;

describe("matmul Q6_K", () => {
  describe.each(cases().map((c) => [name(c), c] as const))("%s", (_label, c) => {
    const rng = new Rng(4000 + c.cols * 31 + c.nTok * 7 + c.rows);
    const w = makeQ6KWeights(c.rows, c.cols, rng);
    const x = rng.f32Array(c.nTok * c.ldx);
    const ref = matmulReference(w.values, x, c);
    const scalar = runMatmul("scalar", Q6_K, w.bytes, x, c);

    it("scalar matches the float64 reference", () => {
      expectAllClose(scalar, ref.y, "scalar Q6_K", { rtol: SCALAR_REL, scale: ref.scale, scaleTol: SCALAR_SCALE });
    });

    it.each(simdIsas())("%s matches scalar", (isa) => {
      const got = runMatmul(isa, Q6_K, w.bytes, x, c);
      expectAllClose(got, scalar, `${isa} Q6_K`, { scale: ref.scale, scaleTol: matmulScaleTol(c.cols) });
    });
  });

  it("catches a single flipped quant bit", () => {
    const rng = new Rng(9);
    const c: MatmulCase = { rows: 4, cols: 256, nTok: 2, r0: 0, r1: 4, ldx: 256, ldy: 4, wOffset: 0 };
    const w = makeQ6KWeights(4, 256, rng);
    const x = rng.f32Array(512);
    const ref = matmulReference(w.values, x, c);
    const bytes = w.bytes.slice();
    bytes[BLOCK + 128 + 40] ^= 0x10; // row 1, qh of the second half: bit 4 -> element 128+64+8
    const got = runMatmul("scalar", Q6_K, bytes, x, c);
    expect(() => expectAllClose(got, ref.y, "flipped", { rtol: SCALAR_REL, scale: ref.scale, scaleTol: SCALAR_SCALE }))
      .toThrow(/out of tolerance/);
  });

  it("rejects a column count that is not a multiple of 256", () => {
    expect(() => runKernel("scalar", "matmul", { type: Q6_K, w: new Uint8Array(420), nRows: 1, nCols: 128, x: new Float32Array(128), nTok: 1 }))
      .toThrow();
  });
});
