// The integer path (dispatch.h, "Q16"): activations rounded to 16 bits per 128-column group
// (8 bits: per 32-column block; quantize_acts) and integer matrix products over them (matmul_q16).
//   quantize_acts: scalar against a float64 restatement of the format; every SIMD ISA that has
//     it gives the same hi, lo and d bit for bit (the block sums within f32 rounding).
//   matmul_q16 (Q4_0, Q4_K, Q6_K): scalar within the rounding bound of the exact product (each
//     activation moves by at most half its block's step d, times |scale * unsigned quant|; the
//     zero points and minimums multiply exact sums); every SIMD ISA that has the kernel against
//     scalar on the same rounded activations, within f32 accumulation error. One token takes
//     the SIMD decode kernels, more tokens the panel GEMM (q16_avx512.h) over unpack_block.
import { describe, expect, it } from "vitest";
import { scaleMin } from "../../lib/gguf/quant-k.js";
import {
  expectAllClose, expectBitExact, f16ToNumber, GGML, KQUANT_TYPES, makeKQuantWeights, makeQ6KWeights, makeWeights,
  MATMUL_SENTINEL, matmulReference, Q6_K_BLOCK_BYTES, Q6_K_ID, Rng, runKernel, supportedIsas, type MatmulCase,
} from "../helpers/kernels.js";
import { matmulScaleTol } from "../helpers/tolerance.js";

const GROUP = 128;
const padded = (n: number) => Math.ceil(n / GROUP) * GROUP;

/** The ISAs (scalar included) whose table has the integer path. */
function q16Isas(): string[] {
  return supportedIsas().filter((isa) => {
    try {
      runKernel(isa, "quantize_acts", { x: new Float32Array(32), nCols: 32, nTok: 1 });
      return true;
    } catch {
      return false;
    }
  });
}

interface Q16 { hi: Float32Array; lo: Float32Array; d: Float32Array; sum16: Float32Array; ld: number }
type Bits = 16 | 8;
const BITS: Bits[] = [16, 8];
/** Largest |q|: 16 bits as two int8 terms, 8 bits as one (dispatch.h). */
const QMAX = { 16: 32512, 8: 127 } as const;
/** Columns sharing one activation scale. */
const SCALE_SPAN = { 16: 128, 8: 32 } as const;

function quantize(isa: string, x: Float32Array, nCols: number, nTok: number, ldx = nCols, bits: Bits = 16): Q16 {
  const ld = padded(nCols);
  const out = runKernel(isa, "quantize_acts", { x, nCols, nTok, ldx, bits });
  expect(out.length).toBe(nTok * ld * 2 + (nTok * ld) / 32 + (nTok * ld) / 16);
  const n = nTok * ld;
  return {
    hi: out.subarray(0, n), lo: out.subarray(n, 2 * n), d: out.subarray(2 * n, 2 * n + n / 32),
    sum16: out.subarray(2 * n + n / 32), ld,
  };
}

/** Round half to even, as rint() in the default rounding mode. */
function rint(v: number): number {
  const f = Math.floor(v);
  const r = v - f;
  if (r > 0.5) return f + 1;
  if (r < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function activations(rng: Rng, n: number): Float32Array {
  const x = rng.f32Array(n, -2, 2);
  // Blocks with one large outlier, an all-zero block and tiny values exercise the scale.
  for (let i = 0; i < n; i += 97) x[i] = 40 * (rng.next() - 0.5);
  for (let i = 64; i < Math.min(96, n); i++) x[i] = 0;
  for (let i = 160; i < Math.min(192, n); i++) x[i] = x[i]! * 1e-30;
  return x;
}

describe.each(BITS)("quantize_acts, %i bits", (bits) => {
  const sizes: [number, number, number][] = [[1, 1, 1], [17, 2, 20], [32, 1, 32], [100, 3, 101], [129, 2, 129], [300, 2, 305], [2053, 1, 2053]];
  describe.each(sizes)("nCols %i nTok %i ldx %i", (nCols, nTok, ldx) => {
    const rng = new Rng(nCols * 13 + nTok);
    const x = activations(rng, nTok * ldx);
    const ref = quantize("scalar", x, nCols, nTok, ldx, bits);

    it("scalar follows the format", () => {
      const { ld } = ref;
      for (let t = 0; t < nTok; t++) {
        for (let b = 0; b < ld / 32; b++) {
          // One scale per 128-column group at 16 bits, per 32-column block at 8 (dispatch.h).
          const span = SCALE_SPAN[bits];
          const g0 = Math.floor((b * 32) / span) * span;
          const cols = [];
          for (let c = g0; c < g0 + span; c++) if (c < nCols) cols.push(x[t * ldx + c]!);
          const amax = cols.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          const d = Math.fround(amax / QMAX[bits]);
          expect(ref.d[t * (ld / 32) + b]).toBe(d);
          const qsum = [0, 0];
          for (let j = 0; j < 32; j++) {
            const c = b * 32 + j;
            const hi = ref.hi[t * ld + c]!;
            const lo = ref.lo[t * ld + c]!;
            expect(hi).toBeGreaterThanOrEqual(-127);
            expect(hi).toBeLessThanOrEqual(127);
            expect(lo).toBeGreaterThanOrEqual(-128);
            expect(lo).toBeLessThanOrEqual(127);
            const q = c < nCols && d > 0 ? rint(Math.fround(x[t * ldx + c]! / d)) : 0;
            expect(bits === 16 ? 256 * hi + lo : hi, `t ${t} col ${c}`).toBe(q);
            if (bits === 8) expect(lo).toBe(0);
            qsum[j >> 4] += q;
            // Half a step, plus the f32 rounding of x / d (2^-8 at 32512) and of d itself.
            if (c < nCols) expect(Math.abs(q * d - x[t * ldx + c]!)).toBeLessThanOrEqual(d * (0.5 + 2 ** -7) + 1e-45);
          }
          // The 16-column sums are of the rounded values: d * (exact integer sum), one rounding.
          for (let h = 0; h < 2; h++) expect(ref.sum16[t * (ld / 16) + 2 * b + h]).toBe(Math.fround(d * qsum[h]!));
        }
      }
    });

    it.each(q16Isas().filter((i) => i !== "scalar"))("%s gives the same rounding", (isa) => {
      const got = quantize(isa, x, nCols, nTok, ldx, bits);
      expectBitExact(got.hi, ref.hi, `${isa} hi`);
      expectBitExact(got.lo, ref.lo, `${isa} lo`);
      expectBitExact(got.d, ref.d, `${isa} d`);
      expectBitExact(got.sum16, ref.sum16, `${isa} sum16`);
    });
  });
});

const CASES: MatmulCase[] = [
  { rows: 1, cols: 32, nTok: 1, r0: 0, r1: 1, ldx: 32, ldy: 1, wOffset: 0 },
  { rows: 9, cols: 96, nTok: 3, r0: 1, r1: 8, ldx: 101, ldy: 9, wOffset: 1 },
  { rows: 17, cols: 160, nTok: 5, r0: 0, r1: 17, ldx: 160, ldy: 19, wOffset: 0 },
  { rows: 13, cols: 224, nTok: 1, r0: 2, r1: 13, ldx: 224, ldy: 13, wOffset: 1 },
  { rows: 21, cols: 384, nTok: 2, r0: 0, r1: 21, ldx: 384, ldy: 21, wOffset: 0 },
  { rows: 37, cols: 2048, nTok: 1, r0: 3, r1: 36, ldx: 2048, ldy: 37, wOffset: 0 },
  { rows: 37, cols: 2048, nTok: 8, r0: 0, r1: 37, ldx: 2048, ldy: 37, wOffset: 1 },
  { rows: 11, cols: 1792, nTok: 6, r0: 0, r1: 11, ldx: 1800, ldy: 11, wOffset: 0 },
];

// K-quant rows are whole 256-column super-blocks (one kernel group each, never a partial one).
// Decode (8-row tiles and their remainders), 2-4 token tiles with a remainder, odd row ranges,
// ldx / ldy padding, unaligned weights, and at 2048 x 80 more than one L2 block of rows (Q6_K).
const KQUANT_CASES: MatmulCase[] = [
  { rows: 1, cols: 256, nTok: 1, r0: 0, r1: 1, ldx: 256, ldy: 1, wOffset: 0 },
  { rows: 9, cols: 256, nTok: 2, r0: 1, r1: 8, ldx: 261, ldy: 11, wOffset: 1 },
  { rows: 13, cols: 512, nTok: 5, r0: 2, r1: 13, ldx: 512, ldy: 13, wOffset: 1 },
  { rows: 17, cols: 512, nTok: 1, r0: 0, r1: 17, ldx: 517, ldy: 19, wOffset: 0 },
  { rows: 6, cols: 768, nTok: 3, r0: 0, r1: 6, ldx: 770, ldy: 8, wOffset: 1 },
  ...CASES.filter((c) => c.cols % 256 === 0 && c.cols >= 1024), // the LFM2 widths (2048, 1792)
  { rows: 80, cols: 2048, nTok: 1, r0: 1, r1: 79, ldx: 2048, ldy: 81, wOffset: 1 },
];

interface Q16Type {
  id: number;
  cases: MatmulCase[];
  make(rows: number, cols: number, rng: Rng): { bytes: Uint8Array; values: Float64Array };
}

const Q16_TYPES: Record<string, Q16Type> = {
  Q4_0: {
    id: GGML.Q4_0,
    cases: CASES,
    make: (rows, cols, rng) => makeWeights("Q4_0", rows, cols, rng),
  },
  // w = d*sc_j*q - dmin*m_j (the minimum multiplies the rounded activations' block sums).
  Q4_K: {
    id: KQUANT_TYPES.Q4_K.id,
    cases: KQUANT_CASES,
    make: (rows, cols, rng) => makeKQuantWeights("Q4_K", rows, cols, rng),
  },
  // w = d*sc*(q - 32) per 16 columns (the zero point multiplies the rounded 16-column sums).
  Q6_K: {
    id: Q6_K_ID,
    cases: KQUANT_CASES,
    make: makeQ6KWeights,
  },
};

describe.each(Object.keys(Q16_TYPES).flatMap((type) => BITS.map((bits) => [type, bits] as const)))("matmul_q16 %s, %i-bit activations", (type, bits) => {
  const spec = Q16_TYPES[type]!;
  describe.each(spec.cases.map((c) => [`${c.rows}x${c.cols} nTok=${c.nTok} rows [${c.r0},${c.r1})`, c] as const))("%s", (_l, c) => {
    const rng = new Rng(7000 + c.cols + c.rows * 3 + c.nTok);
    const w = spec.make(c.rows, c.cols, rng);
    const x = activations(rng, c.nTok * c.ldx);
    const run = (isa: string) =>
      runKernel(isa, "matmul_q16", {
        type: spec.id, w: w.bytes, nRows: c.rows, nCols: c.cols, x, nTok: c.nTok, ldx: c.ldx, ldy: c.ldy,
        r0: c.r0, r1: c.r1, y: new Float32Array(c.nTok * c.ldy).fill(MATMUL_SENTINEL), wOffset: c.wOffset, bits,
      });
    const exact = matmulReference(w.values, x, c);
    const scalar = run("scalar");

    it("scalar is within the activation rounding of the exact product", () => {
      const q = quantize("scalar", x, c.cols, c.nTok, c.ldx, bits);
      const bound = new Float64Array(c.nTok * c.ldy);
      for (let t = 0; t < c.nTok; t++) {
        for (let r = c.r0; r < c.r1; r++) {
          let s = 0;
          // The product is sum w * (q d): each rounded activation is within a half step (plus
          // the f32 rounding of x / d) of x, weighted by its weight.
          for (let k = 0; k < c.cols; k++) s += Math.abs(w.values[r * c.cols + k]!) * q.d[t * (q.ld / 32) + (k >> 5)]! * (0.5 + 2 ** -7);
          bound[t * c.ldy + r] = s + matmulScaleTol(c.cols) * exact.scale[t * c.ldy + r]!;
        }
      }
      expectAllClose(scalar, exact.y, `scalar ${bits}-bit ${type}`, { scale: bound, scaleTol: 1 });
    });

    it.each(q16Isas().filter((i) => i !== "scalar"))("%s matches scalar", (isa) => {
      expectAllClose(run(isa), scalar, `${isa} ${bits}-bit ${type}`, { scale: exact.scale, scaleTol: matmulScaleTol(c.cols) });
    });
  });
});

describe("matmul_q16 guards", () => {
  it("catches a wrong element and refuses a type without the integer path", () => {
    const rng = new Rng(3);
    const c: MatmulCase = { rows: 3, cols: 64, nTok: 1, r0: 0, r1: 3, ldx: 64, ldy: 3, wOffset: 0 };
    const w = makeWeights("Q4_0", 3, 64, rng);
    const x = rng.f32Array(64);
    const y = runKernel("scalar", "matmul_q16", { type: GGML.Q4_0, w: w.bytes, nRows: 3, nCols: 64, x, nTok: 1 });
    const exact = matmulReference(w.values, x, c);
    y[1] = y[1]! + 1e-3 * exact.scale[1]!;
    expect(() => expectAllClose(y, exact.y, "perturbed", { scale: exact.scale, scaleTol: 1e-4 })).toThrow(/1\/3 elements/);
    expect(() => runKernel("scalar", "matmul_q16", { type: GGML.F16, w: new Uint8Array(128), nRows: 1, nCols: 64, x, nTok: 1 }))
      .toThrow(/no matmul_q16 kernel/);
  });
});
