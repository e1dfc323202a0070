// Q4_1 / Q5_0 / Q5_1 codecs: the encoders against hand-computed ggml blocks (ports of
// quantize_row_*_ref, bit for bit), the decoders on those blocks, and decode(encode(x)) within
// the quantization error bound on random data.
import { describe, expect, it } from "vitest";
import { codecFor, dequantize, quantize, roundTrip } from "../../lib/gguf/quant.js";
import { fp16ToFp32, fp32ToFp16 } from "../../lib/gguf/half.js";
import { Rng } from "../helpers/kernels.js";

const hex = (b: Uint8Array) => Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
const block = (f: (j: number) => number) => Float32Array.from({ length: 32 }, (_, j) => f(j));
/** 16 bytes: byte j = lo(j) | hi(j) << 4. */
const nibbles = (lo: (j: number) => number, hi: (j: number) => number) =>
  hex(Uint8Array.from({ length: 16 }, (_, j) => (lo(j) & 15) | ((hi(j) & 15) << 4)));

describe("codec table", () => {
  it.each([["Q4_1", 20], ["Q5_0", 22], ["Q5_1", 24]] as const)("%s: 32 elements in %i bytes", (type, size) => {
    const c = codecFor(type);
    expect([c.type, c.blockSize, c.typeSize]).toEqual([type, 32, size]);
    expect(quantize(type, new Float32Array(64)).length).toBe(2 * size);
  });
});

describe("Q4_1 encoder (quantize_row_q4_1_ref)", () => {
  it("exact grid: d = 1, m = 0, q = x", () => {
    const x = block((j) => j % 16);
    expect(hex(quantize("Q4_1", x))).toBe("003c" + "0000" + nibbles((j) => j, (j) => j));
    expect(Array.from(roundTrip("Q4_1", x))).toEqual(Array.from(x));
  });

  it("negative min and a fractional step: d = 0.25, m = -3", () => {
    const x = block((j) => -3 + 0.25 * (j % 16));
    expect(hex(quantize("Q4_1", x))).toBe("0034" + "00c2" + nibbles((j) => j, (j) => j));
    expect(Array.from(roundTrip("Q4_1", x))).toEqual(Array.from(x));
  });

  it("rounds half up on (x - min) / d + 0.5, truncated", () => {
    // min 0, max 15 -> d = 1: 7.5 -> 8, 7.49 -> 7, 0.5 -> 1.
    const x = block((j) => [0, 15, 7.5, 7.49, 0.5, 14.5][j] ?? 0);
    const b = quantize("Q4_1", x);
    expect(hex(b.subarray(0, 4))).toBe("003c0000");
    expect([0, 1, 2, 3, 4, 5].map((j) => b[4 + j]! & 15)).toEqual([0, 15, 8, 7, 1, 15]);
  });

  it("all-equal block: d = 0, q = 0, m = the value", () => {
    const b = quantize("Q4_1", block(() => 2.5));
    expect(hex(b)).toBe("0000" + "0041" + "00".repeat(16));
    expect(Array.from(dequantize("Q4_1", b, 32))).toEqual(Array(32).fill(2.5));
  });

  it("zero block: all bytes zero", () => {
    expect(hex(quantize("Q4_1", new Float32Array(32)))).toBe("00".repeat(20));
  });
});

describe("Q5_0 encoder (quantize_row_q5_0_ref)", () => {
  it("negative max: d = max / -16 = 1, q = x + 16", () => {
    const x = block((j) => j - 16); // first largest |x| is x0 = -16
    expect(hex(quantize("Q5_0", x))).toBe("003c" + "0000ffff" + nibbles((j) => j, (j) => j));
    expect(Array.from(roundTrip("Q5_0", x))).toEqual(Array.from(x));
  });

  it("positive max: d = -1 (stored negative), q = 16 - x", () => {
    const x = block((j) => 16 - j);
    expect(hex(quantize("Q5_0", x))).toBe("00bc" + "0000ffff" + nibbles((j) => j, (j) => j));
    // (16 - 16) * -1 decodes to -0, as in ggml: compare values, not signs of zero.
    expect(Array.from(roundTrip("Q5_0", x), (v) => v + 0)).toEqual(Array.from(x));
  });

  it("clamps q = 32 to 31 (the value opposite the max)", () => {
    const x = block((j) => (j === 0 ? -16 : j === 1 ? 16 : 0));
    const b = quantize("Q5_0", x);
    const q1 = (b[6 + 1]! & 15) | (((b[2]! >> 1) & 1) << 4);
    expect(q1).toBe(31);
    expect(dequantize("Q5_0", b, 32)[1]).toBe(15);
  });

  it("zero block: d = 0 / -16 = -0 (f16 0x8000), every q = 16 (qh all ones, nibbles 0)", () => {
    const b = quantize("Q5_0", new Float32Array(32));
    expect(hex(b)).toBe("0080" + "ffffffff" + "00".repeat(16));
    expect(Array.from(dequantize("Q5_0", b, 32), (v) => v + 0)).toEqual(Array(32).fill(0));
  });

  it("all-equal block: every q = 0 (value = max)", () => {
    const b = quantize("Q5_0", block(() => -0.75));
    expect(hex(b.subarray(2))).toBe("00".repeat(20));
    expect(Array.from(dequantize("Q5_0", b, 32))).toEqual(Array(32).fill(-0.75));
  });
});

describe("Q5_1 encoder (quantize_row_q5_1_ref)", () => {
  it("d = 0.5, m = -4, q = j", () => {
    const x = block((j) => -4 + 0.5 * j);
    expect(hex(quantize("Q5_1", x))).toBe("0038" + "00c4" + "0000ffff" + nibbles((j) => j, (j) => j));
    expect(Array.from(roundTrip("Q5_1", x))).toEqual(Array.from(x));
  });

  it("all-equal block: d = 0, q = 0, m = the value", () => {
    const b = quantize("Q5_1", block(() => -1.5));
    expect(hex(b)).toBe("0000" + "00be" + "00".repeat(20));
  });

  it("zero block: all bytes zero", () => {
    expect(hex(quantize("Q5_1", new Float32Array(32)))).toBe("00".repeat(24));
  });
});

describe("decoders", () => {
  it("Q4_1 / Q5_1 give ggml's float32 value of q * d + m (rounded once, ties to even)", () => {
    // d = 1, m = 2^-20 (f16 subnormal-free, exact): q + 2^-20 is a float32 for q < 16 and a
    // tie for q >= 16 (ulp 2^-19), which rounds to q.
    const mh = fp32ToFp16(2 ** -20);
    expect(fp16ToFp32(mh)).toBe(2 ** -20);
    const q5 = new Uint8Array(24);
    q5[1] = 0x3c; // d = 1
    q5[2] = mh & 0xff;
    q5[3] = mh >> 8;
    q5.set([0xff, 0xff, 0x00, 0x00], 4); // bit 4 set for elements 0..15 only
    for (let j = 0; j < 16; j++) q5[8 + j] = j | (j << 4);
    const y = dequantize("Q5_1", q5, 32);
    for (let j = 0; j < 16; j++) {
      expect(y[j]).toBe(16 + j); // 16 + j + 2^-20 rounded to even
      expect(y[16 + j]).toBe(j + 2 ** -20);
    }
    const q4 = new Uint8Array(20);
    q4.set(q5.subarray(0, 4));
    for (let j = 0; j < 16; j++) q4[4 + j] = j | (15 << 4);
    const y4 = dequantize("Q4_1", q4, 32, new Float32Array(32));
    for (let j = 0; j < 16; j++) {
      expect(y4[j]).toBe(j + 2 ** -20);
      expect(y4[16 + j]).toBe(15 + 2 ** -20);
    }
  });
});

describe("decode(encode(x)) error bounds on random data", () => {
  const rng = new Rng(4242);
  const data: [string, Float32Array][] = [
    ["N(0,1)-ish", rng.f32Array(32 * 64, -1, 1)],
    ["offset", Float32Array.from(rng.f32Array(32 * 64, 0, 1), (v) => 3 + v)],
    ["small", rng.f32Array(32 * 64, -1e-3, 1e-3)],
    ["wide", Float32Array.from(rng.f32Array(32 * 64), (v, i) => v * 2 ** ((i % 7) - 3))],
  ];

  it.each(data)("Q4_1 / Q5_1 (%s): |err| <= d/2 + nmax |d - f16(d)| + |min - f16(min)|", (_n, x) => {
    for (const [type, nmax] of [["Q4_1", 15], ["Q5_1", 31]] as const) {
      const y = roundTrip(type, x);
      for (let b = 0; b < x.length / 32; b++) {
        const xb = x.subarray(32 * b, 32 * b + 32);
        const min = Math.min(...xb);
        const max = Math.max(...xb);
        const d = Math.fround((max - min) / nmax);
        const dh = fp16ToFp32(fp32ToFp16(d));
        const mh = fp16ToFp32(fp32ToFp16(min));
        const bound = d * (0.5 + 1e-6) + nmax * Math.abs(d - dh) + Math.abs(min - mh) + 2 ** -22 * Math.max(Math.abs(min), Math.abs(max));
        for (let j = 0; j < 32; j++) expect(Math.abs(y[32 * b + j]! - xb[j]!), `${type} block ${b} [${j}]`).toBeLessThanOrEqual(bound);
      }
    }
  });

  it.each(data)("Q5_0 (%s): |err| <= |d|/2 + 16 |d - f16(d)| (|d| where q is clamped)", (_n, x) => {
    const y = roundTrip("Q5_0", x);
    for (let b = 0; b < x.length / 32; b++) {
      const xb = x.subarray(32 * b, 32 * b + 32);
      let max = 0;
      for (const v of xb) if (Math.abs(v) > Math.abs(max)) max = v;
      const d = Math.abs(Math.fround(max / -16));
      const dh = Math.abs(fp16ToFp32(fp32ToFp16(d)));
      for (let j = 0; j < 32; j++) {
        const clamped = Math.sign(xb[j]!) === -Math.sign(max) && Math.abs(xb[j]!) >= 15.5 * d;
        const bound = d * ((clamped ? 1 : 0.5) + 1e-6) + 16 * Math.abs(d - dh);
        expect(Math.abs(y[32 * b + j]! - xb[j]!), `block ${b} [${j}]`).toBeLessThanOrEqual(bound);
      }
    }
  });
});
