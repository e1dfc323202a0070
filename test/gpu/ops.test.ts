// The CUDA backend's non-matmul kernels (native/cuda/backend/{norm,conv,attention,moe,sampling}.cu)
// through the kernel test hook (layouts: native/cuda/backend/test_ops_misc.cu), each against the
// CPU scalar kernel or a float64 reference: rmsnorm, swiglu, add, the short convolution over
// batches of segments (some shorter than L - 1, some empty), QK norm + RoPE + cache store,
// attention (decode rows split over the keys, prefill tiles, mixed batches, both kernels forced
// on the same inputs), MoE routing / gather / combine and sampling (tokens identical to the
// sampler's float64 reference, test/helpers/sampling-ref.ts, with the same u). Skipped (not
// failed) without CUDA.
import { describe, expect, it } from "vitest";
import { hasCuda, runCuda } from "../helpers/gpu.js";
import { sampleReference, type ReferenceSamplingOptions as SamplerOptions } from "../helpers/sampling-ref.js";
import { expectAllClose, expectBitExact, Rng, runKernel } from "../helpers/kernels.js";
import {
  attentionScaleTol,
  attentionScoreRoundings,
  RMSNORM_SIMD_REL,
  SWIGLU_ATOL,
  SWIGLU_SIMD_REL,
  U32,
} from "../helpers/tolerance.js";

const SENTINEL = 777.25;

function f32(buf: ArrayBuffer): Float32Array {
  return new Float32Array(buf);
}

function i32Array(values: number[]): Int32Array {
  return Int32Array.from(values);
}

describe.skipIf(!hasCuda)("CUDA non-matmul kernels", () => {
  // --- norm.cu

  describe("rmsnorm", () => {
    const cases = [
      { n: 1, rows: 1, padX: 0, padY: 0 },
      { n: 7, rows: 3, padX: 2, padY: 1 },
      { n: 64, rows: 5, padX: 0, padY: 3 },
      { n: 2048, rows: 4, padX: 0, padY: 0 },
      { n: 2049, rows: 2, padX: 5, padY: 7 },
      { n: 333, rows: 9, padX: 0, padY: 0, inPlace: true },
    ];
    it.each(cases)("n=$n rows=$rows padX=$padX padY=$padY inPlace=$inPlace", (c) => {
      const rng = new Rng(11 + c.n + c.rows);
      const ldx = c.n + c.padX, ldy = c.inPlace ? ldx : c.n + c.padY;
      const x = rng.f32Array(c.rows * ldx, -3, 3);
      const w = rng.f32Array(c.n, -2, 2);
      const eps = Math.fround(1e-5);
      const y0 = new Float32Array(c.rows * ldy).fill(SENTINEL);
      const out = f32(runCuda("rmsnorm", [c.n, c.rows, ldx, ldy, c.inPlace ? 1 : 0], [eps], [x, w], y0.byteLength).out);
      const expected = c.inPlace ? Float32Array.from(x) : y0;
      for (let r = 0; r < c.rows; r++) {
        const ref = runKernel("scalar", "rmsnorm_f32", { x: x.slice(r * ldx, r * ldx + c.n), w, eps });
        expected.set(ref, r * ldy);
      }
      expectAllClose(out, expected, "rmsnorm", { rtol: RMSNORM_SIMD_REL, atol: 1e-30 });
    });
  });

  describe("swiglu", () => {
    it.each([
      [1, 0],
      [1000, 0],
      [100003, 0],
      [4097, 1],
      [4097, 2],
    ])("n=%i alias=%i", (n, alias) => {
      const rng = new Rng(50 + n + alias);
      const gate = rng.f32Array(n, -12, 12);
      const up = rng.f32Array(n, -3, 3);
      for (let i = 0; i < n; i += 97) gate[i] = rng.uniform(-120, 120); // exp over- and underflow
      const out = f32(runCuda("swiglu", [n, alias], [], [gate, up], n * 4).out);
      const ref = runKernel("scalar", "swiglu_f32", { gate, up });
      expectAllClose(out, ref, "swiglu", { rtol: SWIGLU_SIMD_REL, atol: SWIGLU_ATOL });
    });
  });

  describe("add", () => {
    it.each([1, 31, 70001])("n=%i is one f32 addition", (n) => {
      const rng = new Rng(90 + n);
      const x = rng.f32Array(n, -5, 5), y = rng.f32Array(n, -5, 5);
      const out = f32(runCuda("add", [n], [], [x, y], n * 4).out);
      const ref = new Float32Array(n);
      for (let i = 0; i < n; i++) ref[i] = Math.fround(x[i]! + y[i]!);
      expectBitExact(out, ref, "add");
    });
  });

  // --- conv.cu

  describe("short_conv", () => {
    // Segment lengths (0 = empty segment); the CPU scalar kernel runs each segment on its own.
    const cases = [
      { D: 1, L: 2, segs: [1] },
      { D: 37, L: 3, segs: [5, 1, 2, 9] },
      { D: 130, L: 4, segs: [1, 2, 3, 0, 7] },
      { D: 64, L: 8, segs: [3, 6, 7, 8, 1, 20] },
      { D: 2048, L: 3, segs: [17, 1, 1] },
      { D: 257, L: 5, segs: [40] },
    ];
    it.each(cases)("D=$D L=$L segments $segs", (c) => {
      const rng = new Rng(200 + c.D * 3 + c.L);
      const { D, L } = c;
      const nSeq = c.segs.length;
      const T = c.segs.reduce((a, b) => a + b, 0);
      const ldBcx = 3 * D + (D % 3), ldY = D + (D % 2);
      const bcx = rng.f32Array(T * ldBcx, -2, 2);
      const w = rng.f32Array(D * L, -1, 1);
      const st = (L - 1) * D;
      const states = rng.f32Array(nSeq * st, -2, 2);
      const row0: number[] = [0];
      for (const n of c.segs) row0.push(row0[row0.length - 1]! + n);
      const y0 = new Float32Array(T * ldY).fill(SENTINEL);
      const res = runCuda("short_conv", [T, D, L, nSeq, ldBcx, ldY], [], [bcx, w, states, i32Array(row0)], y0.byteLength,
        states.byteLength);
      const y = f32(res.out), newStates = f32(res.out2!);
      const yRef = Float32Array.from(y0);
      const stRef = Float32Array.from(states);
      for (let s = 0; s < nSeq; s++) {
        const n = c.segs[s]!;
        if (n === 0) continue; // state unchanged
        const r0 = row0[s]!;
        const out = runKernel("scalar", "short_conv_f32", {
          bcx: bcx.subarray(r0 * ldBcx, (r0 + n) * ldBcx), state: states.slice(s * st, (s + 1) * st), w,
          nChannels: D, L, nTok: n, ldBcx, ldY, y: y0.slice(r0 * ldY, (r0 + n) * ldY),
        });
        yRef.set(out.subarray(0, n * ldY), r0 * ldY);
        stRef.set(out.subarray(n * ldY), s * st);
      }
      // Same arithmetic as the scalar kernel (bx in f32, the tap sum in double): bit for bit.
      expectBitExact(y, yRef, "short_conv y");
      expectBitExact(newStates, stRef, "short_conv state");
    });
  });

  // --- attention.cu: QK norm + RoPE + cache store

  function ropeReference(x: Float32Array, w: Float32Array, eps: number, pos: number, theta: number) {
    const Dh = x.length, half = Dh / 2;
    const normed = runKernel("scalar", "rmsnorm_f32", { x, w, eps });
    const out = new Float32Array(Dh);
    const scale = new Float64Array(Dh);
    for (let j = 0; j < half; j++) {
      const a = pos * Math.pow(theta, (-2 * j) / Dh);
      const cs = Math.fround(Math.cos(a)), sn = Math.fround(Math.sin(a));
      const x0 = normed[j]!, x1 = normed[j + half]!;
      out[j] = Math.fround(Math.fround(x0 * cs) - Math.fround(x1 * sn));
      out[j + half] = Math.fround(Math.fround(x1 * cs) + Math.fround(x0 * sn));
      scale[j] = Math.abs(x0 * cs) + Math.abs(x1 * sn);
      scale[j + half] = Math.abs(x1 * cs) + Math.abs(x0 * sn);
    }
    return { out, scale };
  }

  describe("qk_norm_rope_store", () => {
    const cases = [
      { Hq: 4, Hkv: 2, Dh: 64, rows: [[0, 0], [0, 1], [0, 2], [1, 7], [2, 1000]] },
      { Hq: 3, Hkv: 3, Dh: 2, rows: [[0, 5], [1, 0]] },
      { Hq: 8, Hkv: 2, Dh: 256, rows: [[1, 3], [0, 4095], [1, 4]] },
      { Hq: 5, Hkv: 1, Dh: 80, rows: [[0, 0], [0, 1], [0, 2], [0, 3]] },
    ];
    it.each(cases)("Hq=$Hq Hkv=$Hkv Dh=$Dh", (c) => {
      const rng = new Rng(300 + c.Hq * 7 + c.Dh);
      const { Hq, Hkv, Dh } = c;
      const T = c.rows.length;
      const nSeq = Math.max(...c.rows.map((r) => r[0]!)) + 1;
      const nCtx = Math.max(...c.rows.map((r) => r[1]!)) + 1;
      const nq = Hq * Dh, nkv = Hkv * Dh, cache = nCtx * nkv;
      const q = rng.f32Array(T * nq, -3, 3), k = rng.f32Array(T * nkv, -3, 3), v = rng.f32Array(T * nkv, -3, 3);
      const qNorm = rng.f32Array(Dh, 0.5, 1.5), kNorm = rng.f32Array(Dh, 0.5, 1.5);
      const rowSeq = i32Array(c.rows.map((r) => r[0]!)), rowPos = i32Array(c.rows.map((r) => r[1]!));
      const eps = Math.fround(1e-5), theta = Math.fround(1e6);
      const caches0 = new Float32Array(2 * nSeq * cache).fill(SENTINEL);
      const res = runCuda("qk_norm_rope_store", [T, Hq, Hkv, Dh, nSeq, nCtx], [eps, theta],
        [q, k, v, qNorm, kNorm, rowSeq, rowPos], (T * nq + T * nkv) * 4, caches0.byteLength);
      const out = f32(res.out), caches = f32(res.out2!);
      const ref = new Float32Array(T * (nq + nkv));
      const scale = new Float64Array(T * (nq + nkv));
      const cacheRef = Float32Array.from(caches0);
      for (let t = 0; t < T; t++) {
        const pos = rowPos[t]!, seq = rowSeq[t]!;
        for (let h = 0; h < Hq; h++) {
          const o = t * nq + h * Dh;
          const r = ropeReference(q.slice(o, o + Dh), qNorm, eps, pos, theta);
          ref.set(r.out, o);
          scale.set(r.scale, o);
        }
        for (let g = 0; g < Hkv; g++) {
          const o = t * nkv + g * Dh;
          const r = ropeReference(k.slice(o, o + Dh), kNorm, eps, pos, theta);
          ref.set(r.out, T * nq + o);
          scale.set(r.scale, T * nq + o);
          cacheRef.set(r.out, seq * cache + pos * nkv + g * Dh);
        }
        cacheRef.set(v.subarray(t * nkv, (t + 1) * nkv), nSeq * cache + seq * cache + pos * nkv);
      }
      // The norm may differ by an ulp (summation order) and cos/sin by a rounding: a few u of
      // the rotation's terms.
      expectAllClose(out, ref, "q/k after norm + rope", { scale, scaleTol: 8 * U32 });
      // Caches: the stored K rows are the kernel's own k output, V rows are copied, the rest untouched.
      const cacheExpected = Float32Array.from(cacheRef);
      for (let t = 0; t < T; t++) {
        const o = rowSeq[t]! * cache + rowPos[t]! * nkv;
        cacheExpected.set(out.subarray(T * nq + t * nkv, T * nq + (t + 1) * nkv), o);
      }
      expectBitExact(caches, cacheExpected, "caches");
    });
  });

  // --- attention.cu: attention

  interface AttnCase {
    label: string;
    Hq: number;
    Hkv: number;
    Dh: number;
    nCtx: number;
    /** Segments: sequence id, first position, row count. */
    segs: [number, number, number][];
    paths: number[];
    spread?: number;
  }

  const ATTN_CASES: AttnCase[] = [
    { label: "one decode row, short context", Hq: 4, Hkv: 2, Dh: 64, nCtx: 16, segs: [[0, 9, 1]], paths: [0, 2] },
    { label: "decode rows of 3 sequences, long contexts (several splits)", Hq: 4, Hkv: 1, Dh: 64, nCtx: 3000,
      segs: [[0, 2999, 1], [1, 1500, 1], [2, 0, 1]], paths: [0, 2] },
    { label: "prefill of 70 rows after 100 cached", Hq: 4, Hkv: 2, Dh: 64, nCtx: 200, segs: [[0, 100, 70]],
      paths: [0, 1, 2] },
    { label: "mixed batch: prefill, decode, short prefill", Hq: 2, Hkv: 2, Dh: 64, nCtx: 600,
      segs: [[0, 0, 40], [1, 500, 1], [2, 20, 5]], paths: [0, 1, 2] },
    { label: "odd head dim 80, GQA 3", Hq: 6, Hkv: 2, Dh: 80, nCtx: 100, segs: [[0, 0, 37], [1, 60, 3]], paths: [0, 1, 2] },
    { label: "head dim 256 (split kernel only)", Hq: 2, Hkv: 1, Dh: 256, nCtx: 700, segs: [[0, 0, 35], [1, 650, 2]],
      paths: [0, 1] },
    { label: "head dim 128, long decode", Hq: 8, Hkv: 2, Dh: 128, nCtx: 5000, segs: [[0, 4999, 1], [1, 2, 1]],
      paths: [0, 2] },
    { label: "peaked softmax", Hq: 2, Hkv: 1, Dh: 64, nCtx: 300, segs: [[0, 200, 50]], paths: [1, 2], spread: 6 },
  ];

  /** Float64 softmax for the tolerance: outScale[d] = sum_j p_j |v_j[d]|, the max score error. */
  function attnScale(q: Float32Array, k: Float32Array, v: Float32Array, ld: number, nKeys: number, Dh: number,
    scale: number) {
    const s = new Float64Array(nKeys);
    let qkMax = 0;
    let m = -Infinity;
    for (let j = 0; j < nKeys; j++) {
      let dot = 0, abs = 0;
      for (let d = 0; d < Dh; d++) {
        dot += q[d]! * k[j * ld + d]!;
        abs += Math.abs(q[d]! * k[j * ld + d]!);
      }
      s[j] = dot * scale;
      qkMax = Math.max(qkMax, abs * Math.abs(scale));
      m = Math.max(m, s[j]!);
    }
    let l = 0;
    for (let j = 0; j < nKeys; j++) l += (s[j] = Math.exp(s[j]! - m));
    const outScale = new Float64Array(Dh);
    for (let d = 0; d < Dh; d++) {
      let acc = 0;
      for (let j = 0; j < nKeys; j++) acc += s[j]! * Math.abs(v[j * ld + d]!);
      outScale[d] = acc / l;
    }
    return { outScale, maxScoreError: qkMax * attentionScoreRoundings(Dh) * U32 };
  }

  describe.each(ATTN_CASES.map((c) => [c.label, c] as const))("attention: %s", (_label, c) => {
    const rng = new Rng(400 + c.Dh + c.nCtx + c.segs.length);
    const { Hq, Hkv, Dh, nCtx } = c;
    const nSeq = Math.max(...c.segs.map((s) => s[0])) + 1;
    const nq = Hq * Dh, nkv = Hkv * Dh, cache = nCtx * nkv;
    const rowSeq: number[] = [], rowPos: number[] = [];
    for (const [seq, p0, n] of c.segs) for (let i = 0; i < n; i++) { rowSeq.push(seq); rowPos.push(p0 + i); }
    const T = rowSeq.length;
    const maxKeys = Math.max(...rowPos) + 1;
    const spread = c.spread ?? 1;
    const q = rng.f32Array(T * nq, -spread, spread);
    const kc = rng.f32Array(nSeq * cache, -1, 1), vc = rng.f32Array(nSeq * cache, -3, 3);
    const scale = Math.fround(1 / Math.sqrt(Dh));
    // CPU scalar attention per (row, head), with its tolerance; computed once, on first use
    // (not while collecting a skipped suite).
    let ref: { expected: Float32Array; tolScale: Float64Array } | undefined;
    const reference = () => (ref ??= cpuReference());
    function cpuReference() {
      const expected = new Float32Array(T * nq);
      const tolScale = new Float64Array(T * nq);
      for (let t = 0; t < T; t++) {
        const base = rowSeq[t]! * cache, nKeys = rowPos[t]! + 1;
        for (let h = 0; h < Hq; h++) {
          const g = Math.floor(h / (Hq / Hkv));
          const qh = q.slice(t * nq + h * Dh, t * nq + (h + 1) * Dh);
          const k = kc.subarray(base + g * Dh), v = vc.subarray(base + g * Dh);
          expected.set(runKernel("scalar", "attention_f32", { q: qh, k, v, nKeys, headDim: Dh, ldKv: nkv, scale }),
            t * nq + h * Dh);
          const r = attnScale(qh, k, v, nkv, nKeys, Dh, scale);
          const tol = attentionScaleTol(r.maxScoreError, nKeys);
          for (let d = 0; d < Dh; d++) tolScale[t * nq + h * Dh + d] = r.outScale[d]! * tol;
        }
      }
      return { expected, tolScale };
    }
    it.each(c.paths)("path %i matches the CPU scalar kernel", (path) => {
      const out0 = new Float32Array(T * nq).fill(SENTINEL);
      const out = f32(runCuda("attention", [T, Hq, Hkv, Dh, nSeq, nCtx, maxKeys, path], [scale],
        [q, i32Array(rowSeq), i32Array(rowPos), kc, vc], out0.byteLength).out);
      const { expected, tolScale } = reference();
      expectAllClose(out, expected, `attention path ${path}`, { scale: tolScale, scaleTol: 1 });
    });
  });

  // --- moe.cu

  /** The CPU's moe_ffn routing (lfm2.cpp) in float64, then its grouping. */
  function routeReference(logits: Float32Array, bias: Float32Array, T: number, E: number, K: number, scale: number) {
    const sel = new Int32Array(T * K), selW = new Float32Array(T * K);
    const count = new Array<number>(E).fill(0);
    for (let t = 0; t < T; t++) {
      const prob = new Float64Array(E);
      for (let e = 0; e < E; e++) prob[e] = 1 / (1 + Math.exp(-logits[t * E + e]!));
      const taken = new Uint8Array(E);
      let sum = 0;
      for (let k = 0; k < K; k++) {
        let best = -1, bestScore = 0;
        for (let e = 0; e < E; e++) {
          const score = prob[e]! + bias[e]!;
          if (!taken[e] && (best < 0 || score > bestScore)) { best = e; bestScore = score; }
        }
        taken[best] = 1;
        sel[t * K + k] = best;
        sum += prob[best]!;
        count[best]!++;
      }
      for (let k = 0; k < K; k++) selW[t * K + k] = Math.fround((prob[sel[t * K + k]!]! / (sum + 1e-6)) * scale);
    }
    const offsets = new Int32Array(E + 1);
    for (let e = 0; e < E; e++) offsets[e + 1] = offsets[e]! + count[e]!;
    const fill = Array.from(offsets.subarray(0, E));
    const rows = new Int32Array(T * K), rowsW = new Float32Array(T * K);
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) {
      const e = sel[t * K + k]!;
      const r = fill[e]!++;
      rows[r] = t;
      rowsW[r] = selW[t * K + k]!;
    }
    // slot: token t's grouped rows in ascending expert order (the order rows of t appear in).
    const slot = new Int32Array(T * K), slotW = new Float32Array(T * K);
    const next = new Array<number>(T).fill(0);
    for (let r = 0; r < T * K; r++) {
      const t = rows[r]!;
      slot[t * K + next[t]!] = r;
      slotW[t * K + next[t]!] = rowsW[r]!;
      next[t]!++;
    }
    return { sel, selW, offsets, rows, slot, slotW };
  }

  describe("moe_route", () => {
    const cases = [
      { T: 1, E: 8, K: 1 },
      { T: 5, E: 32, K: 4 },
      { T: 64, E: 32, K: 4 },
      { T: 65, E: 64, K: 4 },
      { T: 300, E: 256, K: 8 },
      { T: 1000, E: 64, K: 4, ties: true },
      { T: 129, E: 5, K: 5 },
    ];
    it.each(cases)("T=$T E=$E K=$K ties=$ties", (c) => {
      const { T, E, K } = c;
      const rng = new Rng(500 + T + E + K);
      const logits = rng.f32Array(T * E, -4, 4);
      const bias = rng.f32Array(E, -0.05, 0.05);
      if (c.ties) {
        // Exact ties: equal logits and biases for groups of experts (the lowest expert must win).
        for (let e = 0; e < E; e++) bias[e] = Math.fround(0.01 * (e % 3));
        for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) logits[t * E + e] = Math.fround(((t * 7 + e) % 5) - 2);
      }
      const scale = Math.fround(1.5);
      const R = T * K;
      const buf = runCuda("moe_route", [T, E, K], [scale], [logits, bias], (5 * R + E + 1) * 4).out;
      const sel = new Int32Array(buf, 0, R), selW = new Float32Array(buf, 4 * R, R);
      const offsets = new Int32Array(buf, 8 * R, E + 1);
      const rows = new Int32Array(buf, 8 * R + 4 * (E + 1), R);
      const slot = new Int32Array(buf, 12 * R + 4 * (E + 1), R);
      const slotW = new Float32Array(buf, 16 * R + 4 * (E + 1), R);
      const ref = routeReference(logits, bias, T, E, K, scale);
      expect(Array.from(sel)).toEqual(Array.from(ref.sel));
      expect(Array.from(offsets)).toEqual(Array.from(ref.offsets));
      expect(Array.from(rows)).toEqual(Array.from(ref.rows));
      expect(Array.from(slot)).toEqual(Array.from(ref.slot));
      // exp in double may differ by an ulp between the engines: weights within one f32 rounding.
      expectAllClose(selW, ref.selW, "sel_w", { rtol: 2 * U32 });
      expectAllClose(slotW, ref.slotW, "slot_w", { rtol: 2 * U32 });
    });
  });

  describe("moe_gather and moe_combine", () => {
    it.each([
      { T: 1, K: 1, D: 1 },
      { T: 7, K: 4, D: 33 },
      { T: 70, K: 4, D: 2048 },
    ])("T=$T K=$K D=$D", (c) => {
      const { T, K, D } = c;
      const rng = new Rng(600 + T + D);
      const E = 16;
      const logits = rng.f32Array(T * E, -4, 4);
      const route = routeReference(logits, new Float32Array(E), T, E, K, 1);
      const R = T * K;
      const u = rng.f32Array(T * D, -2, 2);
      const xe = f32(runCuda("moe_gather", [R, D, T], [], [u, route.rows], R * D * 4).out);
      const xeRef = new Float32Array(R * D);
      for (let r = 0; r < R; r++) xeRef.set(u.subarray(route.rows[r]! * D, (route.rows[r]! + 1) * D), r * D);
      expectBitExact(xe, xeRef, "moe_gather");

      const ye = rng.f32Array(R * D, -3, 3);
      const slotW = rng.f32Array(R, 0, 1);
      const out = f32(runCuda("moe_combine", [T, K, D, R], [], [ye, route.slot, slotW], T * D * 4).out);
      // The CPU: mix = 0, then axpy of the token's rows in grouped-row (ascending expert) order.
      const ref = new Float32Array(T * D);
      for (let t = 0; t < T; t++) {
        let y: Float32Array = new Float32Array(D);
        for (let j = 0; j < K; j++) {
          const r = route.slot[t * K + j]!;
          y = runKernel("scalar", "axpy_f32", { y, a: slotW[t * K + j]!, x: ye.subarray(r * D, (r + 1) * D) });
        }
        ref.set(y, t * D);
      }
      expectBitExact(out, ref, "moe_combine");
    });
  });

  // --- sampling.cu

  interface SampleCase { label: string; V: number; rows: number; ties?: boolean }
  const SAMPLE_CASES: SampleCase[] = [
    { label: "tiny vocabulary", V: 1, rows: 4 },
    { label: "odd vocabulary", V: 7, rows: 12 },
    { label: "many ties", V: 1000, rows: 24, ties: true },
    { label: "LFM2 vocabulary", V: 65536, rows: 12 },
    { label: "several sort chunks", V: 70001, rows: 40 },
    { label: "large vocabulary", V: 262144, rows: 3 },
  ];

  function samplerFor(rng: Rng, i: number, V: number): SamplerOptions & { u: number } {
    const temps = [0, 0.7, 1, 1.5, -1];
    const topKs = [0, 1, 40, V, V + 5, 3];
    const topPs = [1, 0.9, 0.5, 0.05];
    const minPs = [0, 0.05, 0.3];
    return {
      temperature: Math.fround(temps[i % temps.length]!),
      topK: topKs[Math.floor(i / 2) % topKs.length]!,
      topP: Math.fround(topPs[Math.floor(i / 3) % topPs.length]!),
      minP: Math.fround(minPs[Math.floor(i / 5) % minPs.length]!),
      u: Math.fround(rng.next()),
    };
  }

  it.each(SAMPLE_CASES.map((c) => [c.label, c] as const))("sample: %s gives the reference's tokens", (_label, c) => {
    const { V, rows } = c;
    const rng = new Rng(700 + V + rows);
    const logits = rng.f32Array(rows * V, -8, 8);
    if (c.ties) for (let i = 0; i < logits.length; i++) logits[i] = Math.fround(Math.round(logits[i]! * 2) / 2);
    if (V > 1) {
      logits[3 % V] = 0; // -0 and +0 tie
      logits[V + (5 % V)] = -0;
    }
    const params = new ArrayBuffer(rows * 20);
    const view = new DataView(params);
    const opts: (SamplerOptions & { u: number })[] = [];
    for (let r = 0; r < rows; r++) {
      const o = samplerFor(rng, r, V);
      opts.push(o);
      view.setFloat32(r * 20, o.temperature, true);
      view.setInt32(r * 20 + 4, o.topK, true);
      view.setFloat32(r * 20 + 8, o.topP, true);
      view.setFloat32(r * 20 + 12, o.minP, true);
      view.setFloat32(r * 20 + 16, o.u, true);
    }
    const tokens = new Int32Array(runCuda("sample", [V, rows], [], [logits, new Uint8Array(params)], rows * 4).out);
    const expected = opts.map((o, r) => sampleReference(logits.subarray(r * V, (r + 1) * V), o, () => o.u));
    expect(Array.from(tokens)).toEqual(expected);
  });
});
