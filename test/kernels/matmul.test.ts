// matmul (F32, F16, BF16, Q8_0, Q4_0 weights; f32 activations): scalar vs a float64 reference
// built from the exact dequantized weights, and every SIMD ISA of this CPU vs scalar. Rows
// outside [r0, r1) and the padding of ldy must stay untouched.
import { describe, expect, it } from "vitest";
import {
  blockSize, expectAllClose, GGML, makeWeights, matmulReference, Rng, runKernel, runMatmul, simdIsas,
  type MatmulCase, type Weights, type WeightType,
} from "../helpers/kernels.js";
import { matmulScaleTol, SCALAR_REL, SCALAR_SCALE } from "../helpers/tolerance.js";

const TYPES: WeightType[] = ["F32", "F16", "BF16", "Q8_0", "Q4_0"];
const COLS_ELEM = [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 100, 2048];
const COLS_BLOCK = [32, 64, 96, 160, 224, 2048];
const N_TOK = [1, 2, 3, 5, 8, 13];
const ROWS = [1, 3, 5, 7, 9, 13];

function cases(type: WeightType): MatmulCase[] {
  const out: MatmulCase[] = [];
  const colsList = blockSize(type) === 1 ? COLS_ELEM : COLS_BLOCK;
  colsList.forEach((cols, i) => {
    const rows = cols >= 2048 ? 21 : ROWS[i % ROWS.length]!;
    const nTok = N_TOK[i % N_TOK.length]!;
    const inner = rows >= 3 && i % 2 === 1; // odd row range [1, rows - 1)
    out.push({
      rows, cols, nTok, r0: inner ? 1 : 0, r1: inner ? rows - 1 : rows,
      ldx: cols + (i % 3 === 2 ? 5 : 0), ldy: rows + (i % 4 === 3 ? 2 : 0), wOffset: i % 2,
    });
  });
  // Every token count against odd row ranges at a size with a tail (or several blocks).
  const cols = blockSize(type) === 1 ? 65 : 96;
  for (const nTok of N_TOK) out.push({ rows: 11, cols, nTok, r0: 2, r1: 11, ldx: cols, ldy: 11, wOffset: 0 });
  // Realistic widths: LFM2 hidden size 2048 (decode and a prefill batch) and an 8192-wide row.
  out.push({ rows: 37, cols: 2048, nTok: 1, r0: 3, r1: 36, ldx: 2048, ldy: 37, wOffset: 0 });
  out.push({ rows: 37, cols: 2048, nTok: 8, r0: 0, r1: 37, ldx: 2048, ldy: 37, wOffset: 0 });
  out.push({ rows: 5, cols: 8192, nTok: 2, r0: 0, r1: 5, ldx: 8192, ldy: 5, wOffset: 0 });
  return out;
}

const name = (c: MatmulCase) =>
  `${c.rows}x${c.cols} nTok=${c.nTok} rows [${c.r0},${c.r1}) ldx=${c.ldx} ldy=${c.ldy} wOffset=${c.wOffset}`;

describe.each(TYPES)("matmul %s", (type) => {
  describe.each(cases(type).map((c) => [name(c), c] as const))("%s", (_label, c) => {
    const rng = new Rng(1000 + c.cols * 31 + c.nTok * 7 + c.rows);
    const w = makeWeights(type, c.rows, c.cols, rng);
    const x = rng.f32Array(c.nTok * c.ldx);
    const ref = matmulReference(w.values, x, c);
    const scalar = runMatmul("scalar", GGML[type], w.bytes, x, c);

    it("scalar matches the float64 reference", () => {
      expectAllClose(scalar, ref.y, `scalar ${type}`, { rtol: SCALAR_REL, scale: ref.scale, scaleTol: SCALAR_SCALE });
    });

    it.each(simdIsas())("%s matches scalar", (isa) => {
      const got = runMatmul(isa, GGML[type], w.bytes, x, c);
      expectAllClose(got, scalar, `${isa} ${type}`, { scale: ref.scale, scaleTol: matmulScaleTol(c.cols) });
    });
  });
});

describe("matmul guards", () => {
  it("expectAllClose catches a single wrong element", () => {
    const rng = new Rng(5);
    const w = makeWeights("Q4_0", 4, 64, rng);
    const c: MatmulCase = { rows: 4, cols: 64, nTok: 2, r0: 0, r1: 4, ldx: 64, ldy: 4, wOffset: 0 };
    const x = rng.f32Array(128);
    const ref = matmulReference(w.values, x, c);
    const y = runMatmul("scalar", GGML.Q4_0, w.bytes, x, c);
    y[5] = y[5]! + 1e-3 * ref.scale[5]!;
    expect(() => expectAllClose(y, ref.y, "perturbed", { rtol: SCALAR_REL, scale: ref.scale, scaleTol: 1e-5 }))
      .toThrow(/1\/8 elements out of tolerance/);
  });

  it("rejects a type without a kernel and a short weight buffer", () => {
    const x = new Float32Array(32);
    expect(() => runKernel("scalar", "matmul", { type: 12, w: new Uint8Array(64), nRows: 1, nCols: 32, x, nTok: 1 }))
      .toThrow(RangeError);
    expect(() => runKernel("scalar", "matmul", { type: GGML.Q4_0, w: new Uint8Array(17), nRows: 1, nCols: 32, x, nTok: 1 }))
      .toThrow(/w is too short/);
  });
});
