// SPDX-License-Identifier: MIT
// The CUDA matrix products (native/cuda/backend/matmul.cu) and the embedding lookup (embed.cu)
// against the CPU scalar kernels, for every weight type the backend supports: dense products at
// odd sizes through every kernel (the launcher's choice, the GEMV kernel, the tiled SIMT and the
// tiled tensor-core kernels), grouped expert products with empty experts, embedding rows bit for
// bit against dequant_row, and argument errors. Skipped (not failed) without a CUDA device.
import { describe, expect, it } from "vitest";
import { hasCuda, runCuda } from "../helpers/gpu.js";
import {
  expectAllClose, GGML, KQUANT_TYPES, makeKQuantWeights, makeQ6KWeights, makeWeights, matmulReference, Q6_K_ID, Rng,
  runKernel, runMatmul, type MatmulCase,
} from "../helpers/kernels.js";
import { LEGACY_IDS, LEGACY_TYPES, makeLegacyWeights } from "../helpers/legacy-weights.js";

/**
 * GPU (f32 accumulation in its own order: per-lane chains of n/32 FMAs and a shuffle tree in the
 * GEMV kernel, a chain of n FMAs in the tiled SIMT kernel, 3xTF32 tensor-core products, each
 * within ~2^-21 of the exact product, in the other) against the CPU scalar kernel (double, one
 * rounding), relative to sum |w*x|. With random signs the partial sums stay far below that
 * scale, so the observed error is ~1e-7; 1e-5 keeps a wide margin while a wrong element, block
 * or row costs O(1).
 */
const GPU_SCALE_TOL = 1e-5;

interface TypeSpec {
  name: string;
  id: number;
  block: number;
  blockBytes: number;
  make: (rows: number, cols: number, rng: Rng) => { bytes: Uint8Array; values: Float64Array };
}

const TYPES: TypeSpec[] = [
  ...(["F32", "F16", "BF16", "Q8_0", "Q4_0"] as const).map((t) => ({
    name: t,
    id: GGML[t],
    block: t === "Q8_0" || t === "Q4_0" ? 32 : 1,
    blockBytes: { F32: 4, F16: 2, BF16: 2, Q8_0: 34, Q4_0: 18 }[t],
    make: (rows: number, cols: number, rng: Rng) => makeWeights(t, rows, cols, rng),
  })),
  ...LEGACY_TYPES.map((t) => ({
    name: t,
    id: LEGACY_IDS[t],
    block: 32,
    blockBytes: { Q4_1: 20, Q5_0: 22, Q5_1: 24 }[t],
    make: (rows: number, cols: number, rng: Rng) => makeLegacyWeights(t, rows, cols, rng),
  })),
  ...(["Q4_K", "Q5_K"] as const).map((t) => ({
    name: t,
    id: KQUANT_TYPES[t].id,
    block: 256,
    blockBytes: KQUANT_TYPES[t].bytes,
    make: (rows: number, cols: number, rng: Rng) => makeKQuantWeights(t, rows, cols, rng),
  })),
  { name: "Q6_K", id: Q6_K_ID, block: 256, blockBytes: 210, make: (rows, cols, rng) => makeQ6KWeights(rows, cols, rng) },
];

const rowBytes = (t: TypeSpec, cols: number) => (cols / t.block) * t.blockBytes;

/** Column counts for a type: block multiples, plus widths that are not multiples of 8 for F32/F16/BF16. */
function colsFor(t: TypeSpec): number[] {
  if (t.block === 256) return [256, 768, 2816];
  if (t.block === 32) return [32, 96, 768, 2816];
  return [13, 37, 256, 768, 2816];
}

const ROWS = [1, 7, 67, 300];
const N_TOK = [1, 2, 5, 8, 9, 17, 64, 130];
/** path (ints[4]): 0 the launcher's choice, 1 GEMV, 2 tiled SIMT, 3 tiled tensor cores. */
const PATHS = [0, 1, 2, 3] as const;

interface DenseCase { rows: number; cols: number; nTok: number }

/** A spread of shapes (every row count, token count and width appears) without the full product. */
function denseCases(t: TypeSpec): DenseCase[] {
  const out: DenseCase[] = [];
  const cols = colsFor(t);
  let i = 0;
  for (const nTok of N_TOK) {
    for (let k = 0; k < 2; k++, i++) {
      const rows = ROWS[i % ROWS.length]!;
      const c = cols[(i * 3 + k) % cols.length]!;
      // keep the float64 scale computation small: at most ~12M products per case
      if (rows * c * nTok > 12_000_000) continue;
      out.push({ rows, cols: c, nTok });
    }
  }
  return out;
}

function matmulCase(rows: number, cols: number, nTok: number): MatmulCase {
  return { rows, cols, nTok, r0: 0, r1: rows, ldx: cols, ldy: rows, wOffset: 0 };
}

function gpuMatmul(t: TypeSpec, bytes: Uint8Array, x: Float32Array, c: DenseCase, path: number): Float32Array {
  const { out } = runCuda("matmul", [t.id, c.rows, c.cols, c.nTok, path], [], [bytes, x], c.nTok * c.rows * 4);
  return new Float32Array(out);
}

describe.skipIf(!hasCuda)("CUDA matmul", () => {
  describe.each(TYPES.map((t) => [t.name, t] as const))("%s", (_name, t) => {
    it.each(denseCases(t).map((c) => [`${c.rows}x${c.cols} nTok=${c.nTok}`, c] as const))(
      "%s: every kernel matches the CPU scalar kernel",
      (_label, c) => {
        const rng = new Rng(9000 + t.id * 101 + c.rows * 7 + c.cols * 3 + c.nTok);
        const w = t.make(c.rows, c.cols, rng);
        const x = rng.f32Array(c.nTok * c.cols);
        const mc = matmulCase(c.rows, c.cols, c.nTok);
        const cpu = runMatmul("scalar", t.id, w.bytes, x, mc);
        const { scale } = matmulReference(w.values, x, mc);
        for (const path of PATHS) {
          const got = gpuMatmul(t, w.bytes, x, c, path);
          expectAllClose(got, cpu, `${t.name} path ${path}`, { scale, scaleTol: GPU_SCALE_TOL });
        }
      },
    );

    it("grouped expert products match per-expert CPU products (empty experts included)", () => {
      const cols = t.block === 256 ? 512 : t.block === 32 ? 96 : 40;
      const rows = 67;
      // decode-like (0/1 rows per expert), mixed small and large groups, one expert with everything
      const countSets = [
        [1, 0, 1, 1, 0, 0, 1, 0],
        [3, 0, 20, 1, 0, 16, 17, 0],
        [0, 70, 2, 0, 9, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 130],
      ];
      const nMats = 8;
      const rng = new Rng(7000 + t.id);
      const mats = Array.from({ length: nMats }, () => t.make(rows, cols, rng));
      const rb = rowBytes(t, cols);
      const allBytes = new Uint8Array(nMats * rows * rb);
      mats.forEach((m, e) => allBytes.set(m.bytes, e * rows * rb));
      for (const counts of countSets) {
        const offsets = new Int32Array(nMats + 1);
        for (let e = 0; e < nMats; e++) offsets[e + 1] = offsets[e]! + counts[e]!;
        const total = offsets[nMats]!;
        const x = rng.f32Array(total * cols);
        const expected = new Float32Array(total * rows);
        const scale = new Float64Array(total * rows);
        for (let e = 0; e < nMats; e++) {
          const n = counts[e]!;
          if (n === 0) continue;
          const xe = x.subarray(offsets[e]! * cols, offsets[e + 1]! * cols);
          const mc = matmulCase(rows, cols, n);
          expected.set(runMatmul("scalar", t.id, mats[e]!.bytes, xe, mc), offsets[e]! * rows);
          scale.set(matmulReference(mats[e]!.values, xe, mc).scale, offsets[e]! * rows);
        }
        for (const path of PATHS) {
          const { out } = runCuda(
            "matmul_grouped", [t.id, rows, cols, nMats, total, path], [], [allBytes, offsets, x], total * rows * 4,
          );
          expectAllClose(new Float32Array(out), expected, `${t.name} counts [${counts.join(",")}] path ${path}`, {
            scale, scaleTol: GPU_SCALE_TOL,
          });
        }
      }
    });

    it("embed rows equal the CPU dequant_row bit for bit", () => {
      const D = t.block === 256 ? 768 : t.block === 32 ? 96 : 37;
      const nVocab = 11;
      const rng = new Rng(5000 + t.id);
      const table = t.make(nVocab, D, rng);
      const tokens = Int32Array.from([3, 0, 10, 3, 7, 1]);
      const rb = rowBytes(t, D);
      const { out } = runCuda("embed", [t.id, nVocab, D, tokens.length], [], [table.bytes, tokens], tokens.length * D * 4);
      const got = new Uint32Array(out);
      tokens.forEach((tok, i) => {
        const row = runKernel("scalar", "dequant_row", { type: t.id, w: table.bytes.slice(tok * rb, (tok + 1) * rb), n: D });
        const want = new Uint32Array(row.buffer, row.byteOffset, row.length);
        expect(Array.from(got.subarray(i * D, (i + 1) * D)), `${t.name} token ${tok}`).toEqual(Array.from(want));
      });
    });
  });

  describe("argument errors", () => {
    it("rejects an unknown type id and a width that is not a block multiple", () => {
      const x = new Float32Array(64);
      expect(() => runCuda("matmul", [5, 1, 64, 1], [], [new Uint8Array(64), x], 4)).toThrow();
      expect(() => runCuda("matmul", [99, 1, 64, 1], [], [new Uint8Array(64), x], 4)).toThrow();
      expect(() => runCuda("matmul", [GGML.Q4_0, 1, 48, 1], [], [new Uint8Array(48), x.subarray(0, 48)], 4)).toThrow();
      expect(() => runCuda("embed", [5, 2, 32, 1], [], [new Uint8Array(64), Int32Array.from([0])], 128)).toThrow();
      const offsets = Int32Array.from([0, 1]);
      expect(() => runCuda("matmul_grouped", [99, 1, 64, 1, 1], [], [new Uint8Array(64), offsets, x], 4)).toThrow();
    });

    it("rejects inputs of the wrong size", () => {
      const x = new Float32Array(32);
      expect(() => runCuda("matmul", [GGML.Q4_0, 1, 32, 1], [], [new Uint8Array(17), x], 4)).toThrow();
      expect(() => runCuda("matmul", [GGML.Q4_0, 1, 32, 1], [], [new Uint8Array(18), x], 8)).toThrow();
    });
  });
});
