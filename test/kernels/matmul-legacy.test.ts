// matmul with Q4_1, Q5_0, Q5_1 weights (f32 activations): scalar vs a float64 reference built
// from the exact dequantized weights, and every SIMD ISA of this CPU vs scalar. Rows outside
// [r0, r1) and the padding of ldy must stay untouched.
import { describe, it } from "vitest";
import { expectAllClose, matmulReference, Rng, runMatmul, simdIsas, type MatmulCase } from "../helpers/kernels.js";
import { LEGACY_IDS, LEGACY_TYPES, makeLegacyWeights, type LegacyType, type LegacyWeights } from "../helpers/legacy-weights.js";
import { matmulScaleTol, SCALAR_REL, SCALAR_SCALE } from "../helpers/tolerance.js";

const COLS = [32, 64, 96, 160, 224, 2048];
const N_TOK = [1, 2, 3, 5, 8, 13];
const ROWS = [1, 3, 5, 7, 9, 13];

function cases(): MatmulCase[] {
  const out: MatmulCase[] = [];
  COLS.forEach((cols, i) => {
    const rows = cols >= 2048 ? 21 : ROWS[i % ROWS.length]!;
    const nTok = N_TOK[i % N_TOK.length]!;
    const inner = rows >= 3 && i % 2 === 1; // odd row range [1, rows - 1)
    out.push({
      rows, cols, nTok, r0: inner ? 1 : 0, r1: inner ? rows - 1 : rows,
      ldx: cols + (i % 3 === 2 ? 5 : 0), ldy: rows + (i % 4 === 3 ? 2 : 0), wOffset: i % 2,
    });
  });
  // Every token count against odd row ranges (4-row and 2-row tiles plus single-row tails).
  for (const nTok of N_TOK) out.push({ rows: 11, cols: 96, nTok, r0: 2, r1: 11, ldx: 96, ldy: 11, wOffset: 0 });
  for (const nTok of [4, 6, 7]) out.push({ rows: 10, cols: 288, nTok, r0: 1, r1: 8, ldx: 300, ldy: 12, wOffset: 1 });
  // Realistic widths: LFM2 hidden size 2048 (decode and a prefill batch) and an 8192-wide row.
  out.push({ rows: 37, cols: 2048, nTok: 1, r0: 3, r1: 36, ldx: 2048, ldy: 37, wOffset: 0 });
  out.push({ rows: 37, cols: 2048, nTok: 8, r0: 0, r1: 37, ldx: 2048, ldy: 37, wOffset: 0 });
  out.push({ rows: 5, cols: 8192, nTok: 2, r0: 0, r1: 5, ldx: 8192, ldy: 5, wOffset: 0 });
  // Enough rows that mm_run splits them into several L2 row blocks (128 KiB / row bytes).
  out.push({ rows: 530, cols: 256, nTok: 2, r0: 5, r1: 527, ldx: 256, ldy: 530, wOffset: 1 });
  return out;
}

const name = (c: MatmulCase) =>
  `${c.rows}x${c.cols} nTok=${c.nTok} rows [${c.r0},${c.r1}) ldx=${c.ldx} ldy=${c.ldy} wOffset=${c.wOffset}`;

describe.each(LEGACY_TYPES)("matmul %s", (type) => {
  describe.each(cases().map((c) => [name(c), c] as const))("%s", (_label, c) => {
    const rng = new Rng(2000 + c.cols * 31 + c.nTok * 7 + c.rows);
    const w = makeLegacyWeights(type, c.rows, c.cols, rng);
    const x = rng.f32Array(c.nTok * c.ldx);
    const ref = matmulReference(w.values, x, c);
    const scalar = runMatmul("scalar", LEGACY_IDS[type], w.bytes, x, c);

    it("scalar matches the float64 reference", () => {
      expectAllClose(scalar, ref.y, `scalar ${type}`, { rtol: SCALAR_REL, scale: ref.scale, scaleTol: SCALAR_SCALE });
    });

    it.each(simdIsas())("%s matches scalar", (isa) => {
      const got = runMatmul(isa, LEGACY_IDS[type], w.bytes, x, c);
      expectAllClose(got, scalar, `${isa} ${type}`, { scale: ref.scale, scaleTol: matmulScaleTol(c.cols) });
    });
  });
});
