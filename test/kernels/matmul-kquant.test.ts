// matmul with Q4_K / Q5_K weights (f32 activations): scalar vs a float64 reference built from the
// exact dequantized weights (lib/gguf codecs, ggml's values), and every SIMD ISA of this CPU vs
// scalar. Rows outside [r0, r1) and the padding of ldy must stay untouched.
import { describe, it } from "vitest";
import {
  expectAllClose, KQUANT_TYPES, makeKQuantWeights, matmulReference, Rng, runMatmul, simdIsas,
  type KQuantType, type MatmulCase,
} from "../helpers/kernels.js";
import { matmulScaleTol, SCALAR_REL, SCALAR_SCALE } from "../helpers/tolerance.js";


function cases(): MatmulCase[] {
  const out: MatmulCase[] = [];
  const ROWS = [1, 3, 5, 7, 9, 13, 6];
  const N_TOK = [1, 2, 3, 5, 8];
  let i = 0;
  for (const cols of [256, 512, 768, 2048]) {
    for (const nTok of N_TOK) {
      const rows = ROWS[i % ROWS.length]!;
      const inner = rows >= 3 && i % 2 === 1; // odd row range [1, rows - 1)
      out.push({
        rows, cols, nTok, r0: inner ? 1 : 0, r1: inner ? rows - 1 : rows,
        ldx: cols + (i % 3 === 2 ? 5 : 0), ldy: rows + (i % 4 === 3 ? 2 : 0), wOffset: i % 2,
      });
      i++;
    }
  }
  // Realistic widths: decode and prefill over 2048 columns with odd row ranges, an 8192 row.
  out.push({ rows: 37, cols: 2048, nTok: 1, r0: 3, r1: 36, ldx: 2048, ldy: 37, wOffset: 0 });
  out.push({ rows: 37, cols: 2048, nTok: 8, r0: 1, r1: 36, ldx: 2048, ldy: 37, wOffset: 3 });
  out.push({ rows: 5, cols: 8192, nTok: 2, r0: 0, r1: 5, ldx: 8192, ldy: 5, wOffset: 0 });
  return out;
}

const name = (c: MatmulCase) => `${c.rows}x${c.cols} nTok=${c.nTok} rows [${c.r0},${c.r1}) ldx=${c.ldx} ldy=${c.ldy} wOffset=${c.wOffset}`;

describe.each(Object.keys(KQUANT_TYPES) as KQuantType[])("matmul %s", (type) => {
  describe.each(cases().map((c) => [name(c), c] as const))("%s", (_label, c) => {
    const rng = new Rng(4000 + c.cols * 31 + c.nTok * 7 + c.rows);
    const w = makeKQuantWeights(type, c.rows, c.cols, rng);
    const x = rng.f32Array(c.nTok * c.ldx);
    const ref = matmulReference(w.values, x, c);
    const scalar = runMatmul("scalar", KQUANT_TYPES[type].id, w.bytes, x, c);

    it("scalar matches the float64 reference", () => {
      expectAllClose(scalar, ref.y, `scalar ${type}`, { rtol: SCALAR_REL, scale: ref.scale, scaleTol: SCALAR_SCALE });
    });

    it.each(simdIsas())("%s matches scalar", (isa) => {
      const got = runMatmul(isa, KQUANT_TYPES[type].id, w.bytes, x, c);
      expectAllClose(got, scalar, `${isa} ${type}`, { scale: ref.scale, scaleTol: matmulScaleTol(c.cols) });
    });
  });
});
