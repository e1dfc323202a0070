// Q4_K / Q5_K codecs (lib/gguf/quant-k.ts): the decoder on hand-built super-blocks (every
// sub-block's 6-bit scale and min, the fifth bit of Q5_K), encoder round-trip error bounds, and
// encoder bytes on inputs where ggml's quantize_row_q4_K_ref / q5_K_ref output can be derived.
import { describe, expect, it } from "vitest";
import { dequantize, fp16ToFp32, fp32ToFp16, quantize, roundTrip } from "../../lib/gguf/quant.js";
import { Rng } from "../helpers/kernels.js";

const f = Math.fround;

/** Packs eight 6-bit scales and mins into scales[12] (ggml's layout, written from the spec). */
function packScales(sc: number[], m: number[]): number[] {
  const s = new Array<number>(12).fill(0);
  for (let j = 0; j < 4; j++) {
    s[j] = (sc[j]! & 63) | ((sc[j + 4]! >> 4) << 6);
    s[j + 4] = (m[j]! & 63) | ((m[j + 4]! >> 4) << 6);
    s[j + 8] = (sc[j + 4]! & 15) | ((m[j + 4]! & 15) << 4);
  }
  return s;
}

const SC = [1, 17, 33, 63, 5, 40, 21, 58];
const MN = [62, 3, 48, 0, 31, 16, 63, 9];
const D_BITS = 0x3c00; // 1.0
const DMIN_BITS = 0x3800; // 0.5

function header(): number[] {
  return [D_BITS & 0xff, D_BITS >> 8, DMIN_BITS & 0xff, DMIN_BITS >> 8, ...packScales(SC, MN)];
}

/** Quant of element e (0..255) in the hand-built blocks: a pattern that hits every level. */
const quant = (e: number, bits: number) => (e * 7 + (e >> 5)) % (1 << bits);

describe("Q4_K decoder", () => {
  it("unpacks all 8 scales/mins and the nibble order of each 64-element chunk", () => {
    const qs = new Array<number>(128);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) qs[32 * c + l] = quant(64 * c + l, 4) | (quant(64 * c + 32 + l, 4) << 4);
    }
    const block = new Uint8Array([...header(), ...qs]);
    expect(block.length).toBe(144);
    const y = dequantize("Q4_K", block, 256);
    for (let e = 0; e < 256; e++) {
      const j = e >> 5;
      expect(y[e], `element ${e}`).toBe(1.0 * SC[j]! * quant(e, 4) - 0.5 * MN[j]!);
    }
  });

  it("rounds d*sc*q - dmin*m once to float32, like ggml", () => {
    // d = 1 + 2^-10, dmin = 2^-14 * (1 + 2^-10): the difference needs more than 24 bits.
    const block = new Uint8Array(144);
    block.set([0x01, 0x3c, 0x01, 0x04], 0);
    block.set(packScales([63, 63, 63, 63, 63, 63, 63, 63], [1, 1, 1, 1, 1, 1, 1, 1]), 4);
    block.fill(0xff, 16);
    const d = fp16ToFp32(0x3c01), dmin = fp16ToFp32(0x0401);
    const exact = d * 63 * 15 - dmin;
    expect(f(exact)).not.toBe(exact);
    const y = dequantize("Q4_K", block, 256);
    for (let e = 0; e < 256; e++) expect(y[e]).toBe(f(exact));
  });
});

describe("Q5_K decoder", () => {
  it("takes the fifth bit of element l of sub-block j from bit j of qh[l]", () => {
    const qh = new Array<number>(32).fill(0);
    const qs = new Array<number>(128).fill(0);
    for (let e = 0; e < 256; e++) {
      const q = quant(e, 5);
      const j = e >> 5, l = e & 31, c = j >> 1;
      if (q & 16) qh[l]! |= 1 << j;
      qs[32 * c + l]! |= (q & 15) << (4 * (j & 1));
    }
    const block = new Uint8Array([...header(), ...qh, ...qs]);
    expect(block.length).toBe(176);
    const y = dequantize("Q5_K", block, 256);
    for (let e = 0; e < 256; e++) {
      const j = e >> 5;
      expect(y[e], `element ${e}`).toBe(1.0 * SC[j]! * quant(e, 5) - 0.5 * MN[j]!);
    }
  });

  it("a single qh bit moves exactly one element up by 16 * d * sc", () => {
    const block = new Uint8Array([...header(), ...new Array<number>(160).fill(0)]);
    const base = dequantize("Q5_K", block, 256);
    for (const [l, j] of [[0, 0], [5, 1], [31, 2], [17, 7], [9, 4]] as const) {
      const b = block.slice();
      b[16 + l] = 1 << j;
      const y = dequantize("Q5_K", b, 256);
      for (let e = 0; e < 256; e++) {
        expect(y[e]).toBe(base[e]! + (e === 32 * j + l ? 16 * SC[j]! : 0));
      }
    }
  });
});

function gaussian(rng: Rng, n: number, std: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(1 - rng.next()));
    const a = 2 * Math.PI * rng.next();
    x[i] = r * Math.cos(a);
    x[i + 1] = r * Math.sin(a);
  }
  return x;
}

describe.each([
  ["Q4_K", 144, 15, 0.1],
  ["Q5_K", 176, 31, 0.05],
] as const)("%s encoder", (type, bytes, nmax, rmsBound) => {
  it("round trip: small relative RMS error, each element within a few steps of its sub-block", () => {
    const rng = new Rng(11);
    for (const std of [0.02, 1, 300]) {
      const x = gaussian(rng, 256 * 16, std);
      const enc = quantize(type, x);
      expect(enc.length).toBe(16 * bytes);
      const y = roundTrip(type, x);
      let se = 0, sx = 0;
      for (let i = 0; i < x.length; i++) {
        se += (x[i]! - y[i]!) ** 2;
        sx += x[i]! ** 2;
      }
      expect(Math.sqrt(se / sx), `std ${std}`).toBeLessThan(rmsBound);
      // Every element is within the sub-block's range: |err| <= (max - min) of the sub-block.
      for (let s = 0; s < x.length / 32; s++) {
        let lo = Infinity, hi = -Infinity;
        for (let i = 0; i < 32; i++) {
          lo = Math.min(lo, x[32 * s + i]!);
          hi = Math.max(hi, x[32 * s + i]!);
        }
        for (let i = 0; i < 32; i++) {
          expect(Math.abs(x[32 * s + i]! - y[32 * s + i]!)).toBeLessThanOrEqual((hi - Math.min(lo, 0)) * (2 / nmax) + 1e-30);
        }
      }
    }
  });

  it("all-zero input gives an all-zero block", () => {
    expect([...quantize(type, new Float32Array(256))]).toEqual(new Array(bytes).fill(0));
  });

  it("a constant positive input: scale 63, min 0, every quant at nmax (ggml's bytes)", () => {
    const c = 1.5;
    const got = quantize(type, new Float32Array(512).fill(c));
    // make_qkx2_quants: min = 0, iscale = nmax/c, scale = 1/iscale; the grid search never
    // applies (D = 0 for constant quants). The largest scale maps to 63, all mins are 0.
    const scale = f(1 / f(nmax / c));
    const dBits = fp32ToFp16(f(scale / 63));
    const l = Math.min(nmax, Math.round(c / f(fp16ToFp32(dBits) * 63)));
    expect(l).toBe(nmax);
    const want: number[] = [dBits & 0xff, dBits >> 8, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x0f, 0x0f, 0x0f, 0x0f];
    if (type === "Q5_K") want.push(...new Array<number>(32).fill(0xff));
    want.push(...new Array<number>(128).fill(0xff));
    expect([...got.subarray(0, bytes)]).toEqual(want);
    expect([...got.subarray(bytes)]).toEqual(want);
  });

  it("every sub-block keeps its own scale (values 2^k apart across sub-blocks)", () => {
    const x = new Float32Array(256);
    const rng = new Rng(5);
    for (let j = 0; j < 8; j++) for (let i = 0; i < 32; i++) x[32 * j + i] = (rng.next() - 0.3) * 2 ** (j - 4);
    const y = roundTrip(type, x);
    for (let j = 2; j < 8; j++) {
      let err = 0;
      for (let i = 0; i < 32; i++) err = Math.max(err, Math.abs(x[32 * j + i]! - y[32 * j + i]!));
      expect(err, `sub-block ${j}`).toBeLessThan(2 ** (j - 4) * (1.3 / nmax) + 2 ** -4 / 63);
    }
  });
});

describe.each(["Q4_K", "Q5_K"] as const)("RandomWeightFiller %s", (type) => {
  it("valid blocks with mean ~0 and the requested deviation; chunking does not change the stream", async () => {
    const { RandomWeightFiller } = await import("../../lib/gguf/quant.js");
    const n = 256 * 2048;
    const a = new RandomWeightFiller(type, 0.02, [1, 2, 3, 4]);
    const buf = new Uint8Array(n * a.bytesPerElement);
    a.fill(buf, n);
    const b = new RandomWeightFiller(type, 0.02, [1, 2, 3, 4]);
    const buf2 = new Uint8Array(n * b.bytesPerElement);
    b.fill(buf2.subarray(0, buf2.length / 2), n / 2);
    b.fill(buf2.subarray(buf2.length / 2), n / 2);
    expect(buf2).toEqual(buf);
    const y = dequantize(type, buf, n);
    let s = 0, s2 = 0;
    for (const v of y) {
      expect(Number.isFinite(v)).toBe(true);
      s += v;
      s2 += v * v;
    }
    const mean = s / n, std = Math.sqrt(s2 / n - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.02 * 0.85);
    expect(std).toBeLessThan(0.02 * 1.15);
  });
});
