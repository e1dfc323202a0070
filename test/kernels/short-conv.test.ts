// short_conv_f32 (LFM2 gated short convolution, lfm2-spec 1.3): y and the updated state against
// a float64 sliding-window reference, for several conv widths L, token counts (fewer than
// L - 1 included), channel ranges and row strides; every SIMD ISA against scalar. Chained calls
// (prefill split in pieces, then decode steps) must equal one call over all tokens.
import { describe, expect, it } from "vitest";
import { expectAllClose, expectBitExact, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { SCALAR_REL, SCALAR_SCALE, shortConvScaleTol } from "../helpers/tolerance.js";

interface Case { H: number; L: number; nTok: number; c0: number; c1: number; ldBcx: number; ldY: number }

function reference(c: Case, bcx: Float32Array, state: Float32Array, w: Float32Array) {
  const { H, L, nTok, ldBcx, ldY } = c;
  const y = new Float64Array(nTok * ldY);
  const scale = new Float64Array(nTok * ldY);
  const newState = Float64Array.from(state);
  for (let ch = c.c0; ch < c.c1; ch++) {
    // window: L-1 previous bx values (oldest first), then the current one
    const win: number[] = [];
    for (let j = 0; j < L - 1; j++) win.push(state[j * H + ch]!);
    for (let t = 0; t < nTok; t++) {
      const row = t * ldBcx;
      const bx = Math.fround(bcx[row + ch]! * bcx[row + 2 * H + ch]!); // the kernel keeps bx in f32
      win.push(bx);
      let conv = 0;
      let abs = 0;
      for (let k = 0; k < L; k++) {
        conv += w[ch * L + k]! * win[k]!;
        abs += Math.abs(w[ch * L + k]! * win[k]!);
      }
      const C = bcx[row + H + ch]!;
      y[t * ldY + ch] = C * conv;
      scale[t * ldY + ch] = Math.abs(C) * abs;
      win.shift();
    }
    for (let j = 0; j < L - 1; j++) newState[j * H + ch] = win[j]!;
  }
  return { y, scale, state: newState };
}

function inputs(c: Case, seed: number) {
  const rng = new Rng(seed);
  return {
    bcx: rng.f32Array(Math.max(0, (c.nTok - 1) * c.ldBcx + 3 * c.H), -2, 2),
    state: rng.f32Array((c.L - 1) * c.H, -2, 2),
    w: rng.f32Array(c.H * c.L, -1, 1),
  };
}

function run(isa: string, c: Case, bcx: Float32Array, state: Float32Array, w: Float32Array) {
  const out = runKernel(isa, "short_conv_f32", {
    bcx, state, w, nChannels: c.H, L: c.L, nTok: c.nTok, ldBcx: c.ldBcx, ldY: c.ldY, c0: c.c0, c1: c.c1,
  });
  const ny = c.nTok * c.ldY;
  return { y: out.subarray(0, ny), state: out.subarray(ny) };
}

const CASES: Case[] = [];
const HS = [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 2048];
const TOKS = [1, 2, 3, 5, 8, 13];
HS.forEach((H, i) => {
  const L = [3, 2, 4, 3, 5, 8, 3][i % 7]!;
  const nTok = TOKS[i % TOKS.length]!;
  const inner = H >= 5 && i % 2 === 1;
  CASES.push({ H, L, nTok, c0: inner ? 2 : 0, c1: inner ? H - 1 : H, ldBcx: 3 * H + (i % 3), ldY: H + (i % 2) });
});
for (let L = 2; L <= 8; L++) for (const nTok of [1, L - 2, 7]) {
  if (nTok >= 1) CASES.push({ H: 37, L, nTok, c0: 3, c1: 37, ldBcx: 111, ldY: 37 });
}

describe.each(CASES.map((c) => [`H=${c.H} L=${c.L} nTok=${c.nTok} ch [${c.c0},${c.c1}) ldBcx=${c.ldBcx} ldY=${c.ldY}`, c] as const))(
  "short_conv_f32 %s",
  (_label, c) => {
    const { bcx, state, w } = inputs(c, 900 + c.H * 13 + c.L * 5 + c.nTok);
    const ref = reference(c, bcx, state, w);
    const scalar = run("scalar", c, bcx, state, w);

    it("scalar matches the float64 reference", () => {
      expectAllClose(scalar.y, ref.y, "scalar y", { rtol: SCALAR_REL, scale: ref.scale, scaleTol: SCALAR_SCALE });
      expectAllClose(scalar.state, ref.state, "scalar state");
    });

    it.each(simdIsas())("%s matches scalar", (isa) => {
      const got = run(isa, c, bcx, state, w);
      expectAllClose(got.y, scalar.y, `${isa} y`, { scale: ref.scale, scaleTol: shortConvScaleTol(c.L) });
      expectBitExact(got.state, scalar.state, `${isa} state`);
    });
  },
);

describe("short_conv_f32 chaining", () => {
  it.each(["scalar", ...simdIsas()])("%s: prefill in pieces + decode steps == one call", (isa) => {
    const H = 40, L = 3, T = 11;
    const c: Case = { H, L, nTok: T, c0: 0, c1: H, ldBcx: 3 * H, ldY: H };
    const { bcx, state, w } = inputs(c, 4242);
    const whole = run(isa, c, bcx, state, w);
    let s = Float32Array.from(state);
    const ys: Float32Array[] = [];
    for (const [t0, n] of [[0, 1], [1, 4], [5, 1], [6, 3], [9, 1], [10, 1]] as const) {
      const part = run(isa, { ...c, nTok: n }, bcx.subarray(t0 * 3 * H), s, w);
      ys.push(Float32Array.from(part.y));
      s = Float32Array.from(part.state);
    }
    const chained = new Float32Array(T * H);
    let off = 0;
    for (const y of ys) { chained.set(y, off); off += y.length; }
    expectBitExact(chained, Float32Array.from(whole.y), `${isa} chained y`);
    expectBitExact(s, Float32Array.from(whole.state), `${isa} chained state`);
  });

  it("rejects a window outside [2, 8]", () => {
    expect(() => runKernel("scalar", "short_conv_f32", {
      bcx: new Float32Array(3), state: new Float32Array(8), w: new Float32Array(9), nChannels: 1, L: 9, nTok: 1,
    })).toThrow(/L must be in \[2, 8\]/);
  });
});
