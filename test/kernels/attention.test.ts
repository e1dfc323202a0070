// attention_f32 (one query head, online softmax): scalar (double) vs a two-pass float64 softmax,
// every SIMD ISA vs scalar, for odd head dims (register and memory accumulators), key counts
// around the 8/16-key blocks, strided K/V rows and large score ranges (the max changes often).
import { describe, it } from "vitest";
import { expectAllClose, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { attentionScaleTol, attentionScoreRoundings, SCALAR_REL, SCALAR_SCALE, U32 } from "../helpers/tolerance.js";

interface Case { headDim: number; nKeys: number; ldKv: number; spread: number; increasing?: boolean }

function reference(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, scale: number) {
  const s: number[] = [];
  const qkAbs: number[] = [];
  for (let j = 0; j < c.nKeys; j++) {
    let dot = 0, abs = 0;
    for (let d = 0; d < c.headDim; d++) {
      dot += q[d]! * k[j * c.ldKv + d]!;
      abs += Math.abs(q[d]! * k[j * c.ldKv + d]!);
    }
    s.push(dot * scale);
    qkAbs.push(abs * Math.abs(scale));
  }
  const m = Math.max(...s);
  const p = s.map((x) => Math.exp(x - m));
  const l = p.reduce((a, b) => a + b, 0);
  const out = new Float64Array(c.headDim);
  const outScale = new Float64Array(c.headDim);
  for (let d = 0; d < c.headDim; d++) {
    let acc = 0, abs = 0;
    for (let j = 0; j < c.nKeys; j++) {
      acc += p[j]! * v[j * c.ldKv + d]!;
      abs += p[j]! * Math.abs(v[j * c.ldKv + d]!);
    }
    out[d] = acc / l;
    outScale[d] = abs / l;
  }
  const maxScoreError = Math.max(...qkAbs) * attentionScoreRoundings(c.headDim) * U32;
  return { out, outScale, maxScoreError };
}

function inputs(c: Case, seed: number) {
  const rng = new Rng(seed);
  const len = (c.nKeys - 1) * c.ldKv + c.headDim;
  const q = rng.f32Array(c.headDim, -c.spread, c.spread);
  const k = rng.f32Array(len);
  if (c.increasing) {
    // Scores that keep rising: every block sets a new maximum, so the running sums are rescaled
    // again and again.
    for (let j = 0; j < c.nKeys; j++) for (let d = 0; d < c.headDim; d++) k[j * c.ldKv + d] = Math.fround(q[d]! * (j / c.nKeys));
  }
  return { q, k, v: rng.f32Array(len, -3, 3) };
}

const CASES: Case[] = [];
const DIMS = [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 128, 129, 200, 300];
const KEYS = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100];
DIMS.forEach((headDim, i) => {
  CASES.push({ headDim, nKeys: KEYS[i % KEYS.length]!, ldKv: headDim + (i % 3) * 3, spread: 1 });
});
for (const nKeys of KEYS) CASES.push({ headDim: 64, nKeys, ldKv: 64 * 4, spread: 2 });
CASES.push({ headDim: 64, nKeys: 1000, ldKv: 64 * 8, spread: 4 }); // peaked softmax, long context
CASES.push({ headDim: 64, nKeys: 77, ldKv: 64, spread: 3, increasing: true });
CASES.push({ headDim: 33, nKeys: 50, ldKv: 40, spread: 20 }); // scores of ~100: p underflows for most keys

describe.each(CASES.map((c) => [`headDim=${c.headDim} nKeys=${c.nKeys} ldKv=${c.ldKv} spread=${c.spread}${c.increasing ? " rising" : ""}`, c] as const))(
  "attention_f32 %s",
  (_label, c) => {
    const { q, k, v } = inputs(c, 1300 + c.headDim * 3 + c.nKeys);
    const scale = Math.fround(1 / Math.sqrt(c.headDim));
    const ref = reference(c, q, k, v, scale);
    const args = { q, k, v, nKeys: c.nKeys, headDim: c.headDim, ldKv: c.ldKv, scale };
    const scalar = runKernel("scalar", "attention_f32", args);

    it("scalar matches the float64 reference", () => {
      expectAllClose(scalar, ref.out, "scalar attention", { rtol: SCALAR_REL, scale: ref.outScale, scaleTol: SCALAR_SCALE });
    });

    it.each(simdIsas())("%s matches scalar", (isa) => {
      expectAllClose(runKernel(isa, "attention_f32", args), scalar, `${isa} attention`,
        { scale: ref.outScale, scaleTol: attentionScaleTol(ref.maxScoreError, c.nKeys) });
    });
  },
);
