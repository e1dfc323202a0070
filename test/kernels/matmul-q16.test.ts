// The integer path (dispatch.h, "Q16"): activations rounded to 16 bits per 32-column block
// (quantize_acts) and integer matrix products over them (matmul_q16).
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
function quantize(isa: string, x: Float32Array, nCols: number, nTok: number, ldx = nCols): Q16 {
  const ld = padded(nCols);
  const out = runKernel(isa, "quantize_acts", { x, nCols, nTok, ldx });
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

describe("quantize_acts", () => {
  const sizes: [number, number, number][] = [[1, 1, 1], [17, 2, 20], [32, 1, 32], [100, 3, 101], [129, 2, 129], [300, 2, 305], [2053, 1, 2053]];
  describe.each(sizes)("nCols %i nTok %i ldx %i", (nCols, nTok, ldx) => {
    const rng = new Rng(nCols * 13 + nTok);
    const x = activations(rng, nTok * ldx);
    const ref = quantize("scalar", x, nCols, nTok, ldx);

    it("scalar follows the format", () => {
      const { ld } = ref;
      for (let t = 0; t < nTok; t++) {
        for (let b = 0; b < ld / 32; b++) {
          const cols = [];
          for (let j = 0; j < 32; j++) if (b * 32 + j < nCols) cols.push(x[t * ldx + b * 32 + j]!);
          const amax = cols.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          const d = Math.fround(amax / 32512);
          expect(ref.d[t * (ld / 32) + b]).toBe(d);
          for (let h = 0; h < 2; h++) {
            const part = cols.slice(16 * h, 16 * h + 16);
            const s = part.reduce((a, v) => a + v, 0);
            const abs = part.reduce((a, v) => a + Math.abs(v), 0);
            expect(Math.abs(ref.sum16[t * (ld / 16) + 2 * b + h]! - s)).toBeLessThanOrEqual(16 * 2 ** -24 * abs + 1e-45);
          }
          for (let j = 0; j < 32; j++) {
            const c = b * 32 + j;
            const hi = ref.hi[t * ld + c]!;
            const lo = ref.lo[t * ld + c]!;
            expect(hi).toBeGreaterThanOrEqual(-127);
            expect(hi).toBeLessThanOrEqual(127);
            expect(lo).toBeGreaterThanOrEqual(-128);
            expect(lo).toBeLessThanOrEqual(127);
            const q = c < nCols && d > 0 ? rint(Math.fround(x[t * ldx + c]! / d)) : 0;
            expect(256 * hi + lo, `t ${t} col ${c}`).toBe(q);
            // Half a step, plus the f32 rounding of x / d (2^-8 at 32512) and of d itself.
            if (c < nCols) expect(Math.abs(q * d - x[t * ldx + c]!)).toBeLessThanOrEqual(d * (0.5 + 2 ** -7) + 1e-45);
          }
        }
      }
    });

    it.each(q16Isas().filter((i) => i !== "scalar"))("%s gives the same rounding", (isa) => {
      const got = quantize(isa, x, nCols, nTok, ldx);
      expectBitExact(got.hi, ref.hi, `${isa} hi`);
      expectBitExact(got.lo, ref.lo, `${isa} lo`);
      expectBitExact(got.d, ref.d, `${isa} d`);
      // Sums of 16 in another order: within 2 * 15 roundings of the sum of magnitudes.
      const abs = new Float64Array(ref.sum16.length);
      for (let t = 0; t < nTok; t++) {
        for (let c = 0; c < nCols; c++) abs[t * (ref.ld / 16) + (c >> 4)] += Math.abs(x[t * ldx + c]!);
      }
      expectAllClose(got.sum16, ref.sum16, `${isa} sum16`, { atol: 1e-45, scale: abs, scaleTol: 30 * 2 ** -24 });
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
  { rows: 37, cols: 2048, nTok: 1, r0: 3, r1: 36, ldx: 2048, ldy: 37, wOffset: 0 },
  { rows: 37, cols: 2048, nTok: 8, r0: 0, r1: 37, ldx: 2048, ldy: 37, wOffset: 1 },
  { rows: 11, cols: 1792, nTok: 6, r0: 0, r1: 11, ldx: 1800, ldy: 11, wOffset: 0 },
  { rows: 80, cols: 2048, nTok: 1, r0: 1, r1: 79, ldx: 2048, ldy: 81, wOffset: 1 },
];

interface Q16Type {
  id: number;
  cases: MatmulCase[];
  make(rows: number, cols: number, rng: Rng): { bytes: Uint8Array; values: Float64Array };
  /** |scale * unsigned quant| of every weight: what multiplies each rounded activation. */
  magnitudes(bytes: Uint8Array, rows: number, cols: number): Float64Array;
}

const Q16_TYPES: Record<string, Q16Type> = {
  Q4_0: {
    id: GGML.Q4_0,
    cases: CASES,
    make: (rows, cols, rng) => makeWeights("Q4_0", rows, cols, rng),
    magnitudes(bytes, rows, cols) {
      const out = new Float64Array(rows * cols);
      for (let b = 0; b < (rows * cols) / 32; b++) {
        const d = Math.abs(f16ToNumber(bytes[18 * b]! | (bytes[18 * b + 1]! << 8)));
        for (let j = 0; j < 16; j++) {
          const q = bytes[18 * b + 2 + j]!;
          out[32 * b + j] = d * (q & 15);
          out[32 * b + j + 16] = d * (q >> 4);
        }
      }
      return out;
    },
  },
  // w = d*sc_j*q - dmin*m_j: the minimum multiplies the exact activation sums, d*sc_j*q (q 0..15)
  // the rounded activations.
  Q4_K: {
    id: KQUANT_TYPES.Q4_K.id,
    cases: KQUANT_CASES,
    make: (rows, cols, rng) => makeKQuantWeights("Q4_K", rows, cols, rng),
    magnitudes(bytes, rows, cols) {
      const bb = KQUANT_TYPES.Q4_K.bytes;
      const out = new Float64Array(rows * cols);
      for (let b = 0; b < (rows * cols) / 256; b++) {
        const o = b * bb;
        const d = Math.abs(f16ToNumber(bytes[o]! | (bytes[o + 1]! << 8)));
        for (let j = 0; j < 8; j++) {
          const [sc] = scaleMin(bytes, o + 4, j);
          for (let l = 0; l < 32; l++) {
            const q = (bytes[o + 16 + 32 * (j >> 1) + l]! >> (4 * (j & 1))) & 15;
            out[256 * b + 32 * j + l] = d * sc * q;
          }
        }
      }
      return out;
    },
  },
  // w = d*sc*(q - 32): the zero point multiplies the exact 16-column sums, d*sc*q (q 0..63) the
  // rounded activations.
  Q6_K: {
    id: Q6_K_ID,
    cases: KQUANT_CASES,
    make: makeQ6KWeights,
    magnitudes(bytes, rows, cols) {
      const out = new Float64Array(rows * cols);
      for (let b = 0; b < (rows * cols) / 256; b++) {
        const o = b * Q6_K_BLOCK_BYTES;
        const d = Math.abs(f16ToNumber(bytes[o + 208]! | (bytes[o + 209]! << 8)));
        for (let e = 0; e < 256; e++) {
          const h = e >> 7, g = (e >> 5) & 3, l = e & 31;
          const lo = (bytes[o + 64 * h + l + 32 * (g & 1)]! >> (4 * (g >> 1))) & 15;
          const hi = (bytes[o + 128 + 32 * h + l]! >> (2 * g)) & 3;
          const sc = (bytes[o + 192 + (e >> 4)]! << 24) >> 24;
          out[256 * b + e] = d * Math.abs(sc) * (lo | (hi << 4));
        }
      }
      return out;
    },
  },
};

describe.each(Object.keys(Q16_TYPES))("matmul_q16 %s", (type) => {
  const spec = Q16_TYPES[type]!;
  describe.each(spec.cases.map((c) => [`${c.rows}x${c.cols} nTok=${c.nTok} rows [${c.r0},${c.r1})`, c] as const))("%s", (_l, c) => {
    const rng = new Rng(7000 + c.cols + c.rows * 3 + c.nTok);
    const w = spec.make(c.rows, c.cols, rng);
    const x = activations(rng, c.nTok * c.ldx);
    const run = (isa: string) =>
      runKernel(isa, "matmul_q16", {
        type: spec.id, w: w.bytes, nRows: c.rows, nCols: c.cols, x, nTok: c.nTok, ldx: c.ldx, ldy: c.ldy,
        r0: c.r0, r1: c.r1, y: new Float32Array(c.nTok * c.ldy).fill(MATMUL_SENTINEL), wOffset: c.wOffset,
      });
    const exact = matmulReference(w.values, x, c);
    const scalar = run("scalar");

    it("scalar is within the activation rounding of the exact product", () => {
      const q = quantize("scalar", x, c.cols, c.nTok, c.ldx);
      const mag = spec.magnitudes(w.bytes, c.rows, c.cols);
      const bound = new Float64Array(c.nTok * c.ldy);
      for (let t = 0; t < c.nTok; t++) {
        for (let r = c.r0; r < c.r1; r++) {
          let s = 0;
          for (let k = 0; k < c.cols; k++) s += (mag[r * c.cols + k]! * q.d[t * (q.ld / 32) + (k >> 5)]!) / 2;
          bound[t * c.ldy + r] = s + matmulScaleTol(c.cols) * exact.scale[t * c.ldy + r]!;
        }
      }
      expectAllClose(scalar, exact.y, `scalar q16 ${type}`, { scale: bound, scaleTol: 1 });
    });

    it.each(q16Isas().filter((i) => i !== "scalar"))("%s matches scalar", (isa) => {
      expectAllClose(run(isa), scalar, `${isa} q16 ${type}`, { scale: exact.scale, scaleTol: matmulScaleTol(c.cols) });
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
