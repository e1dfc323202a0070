// matmul with Q4_K / Q5_K weights (f32 activations): scalar vs a float64 reference built from the
// exact dequantized weights (lib/gguf codecs, ggml's values), and every SIMD ISA of this CPU vs
// scalar. Rows outside [r0, r1) and the padding of ldy must stay untouched.
import { describe, it } from "vitest";
import { dequantize } from "../../lib/gguf/quant.js";
import { expectAllClose, randomF16Bits, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { matmulScaleTol, SCALAR_REL, SCALAR_SCALE } from "../helpers/tolerance.js";

const SENTINEL = 777.25;
const KTYPES = { Q4_K: { id: 12, bytes: 144 }, Q5_K: { id: 13, bytes: 176 } } as const;
type KType = keyof typeof KTYPES;

/** Random valid super-blocks: random f16 d/dmin (some negative or subnormal), scales, quants. */
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

interface Case { rows: number; cols: number; nTok: number; r0: number; r1: number; ldx: number; ldy: number; wOffset: number }

function reference(values: Float64Array, x: Float32Array, c: Case) {
  const y = new Float64Array(c.nTok * c.ldy).fill(SENTINEL);
  const scale = new Float64Array(c.nTok * c.ldy);
  for (let t = 0; t < c.nTok; t++) {
    for (let r = c.r0; r < c.r1; r++) {
      let acc = 0;
      let abs = 0;
      for (let k = 0; k < c.cols; k++) {
        const p = values[r * c.cols + k]! * x[t * c.ldx + k]!;
        acc += p;
        abs += Math.abs(p);
      }
      y[t * c.ldy + r] = acc;
      scale[t * c.ldy + r] = abs;
    }
  }
  return { y, scale };
}

function run(isa: string, type: KType, bytes: Uint8Array, x: Float32Array, c: Case): Float32Array {
  return runKernel(isa, "matmul", {
    type: KTYPES[type].id, w: bytes, nRows: c.rows, nCols: c.cols, x, nTok: c.nTok, ldx: c.ldx,
    ldy: c.ldy, r0: c.r0, r1: c.r1, y: new Float32Array(c.nTok * c.ldy).fill(SENTINEL), wOffset: c.wOffset,
  });
}

function cases(): Case[] {
  const out: Case[] = [];
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

const name = (c: Case) => `${c.rows}x${c.cols} nTok=${c.nTok} rows [${c.r0},${c.r1}) ldx=${c.ldx} ldy=${c.ldy} wOffset=${c.wOffset}`;

describe.each(Object.keys(KTYPES) as KType[])("matmul %s", (type) => {
  describe.each(cases().map((c) => [name(c), c] as const))("%s", (_label, c) => {
    const rng = new Rng(4000 + c.cols * 31 + c.nTok * 7 + c.rows);
    const w = makeKWeights(type, c.rows, c.cols, rng);
    const x = rng.f32Array(c.nTok * c.ldx);
    const ref = reference(w.values, x, c);
    const scalar = run("scalar", type, w.bytes, x, c);

    it("scalar matches the float64 reference", () => {
      expectAllClose(scalar, ref.y, `scalar ${type}`, { rtol: SCALAR_REL, scale: ref.scale, scaleTol: SCALAR_SCALE });
    });

    it.each(simdIsas())("%s matches scalar", (isa) => {
      const got = run(isa, type, w.bytes, x, c);
      expectAllClose(got, scalar, `${isa} ${type}`, { scale: ref.scale, scaleTol: matmulScaleTol(c.cols) });
    });
  });
});
