// Q6_K codec (lib/gguf/quant-q6k.ts): the decoder against hand-built blocks (every one of the 16
// sub-block scales, every bit of the 6-bit assembly from ql and qh), and the encoder's round trip.
import { describe, expect, it } from "vitest";
import { dequantize, fp32ToFp16, quantize, roundTrip } from "../../lib/gguf/quant.js";
import { createRng } from "../../lib/util/random.js";

const BLOCK = 210;

/** Builds one block from 256 quants q (0..63), 16 int8 scales and d (f16 bits), per the spec. */
function buildBlock(q: number[], scales: number[], dBits: number): Uint8Array {
  const b = new Uint8Array(BLOCK);
  for (let e = 0; e < 256; e++) {
    const h = e >> 7;
    const g = (e >> 5) & 3;
    const l = e & 31;
    const qlIdx = 64 * h + l + 32 * (g & 1);
    b[qlIdx]! |= (q[e]! & 15) << (4 * (g >> 1));
    b[128 + 32 * h + l]! |= (q[e]! >> 4) << (2 * g);
  }
  scales.forEach((s, i) => (b[192 + i] = s & 0xff));
  b[208] = dBits & 0xff;
  b[209] = dBits >>> 8;
  return b;
}

describe("Q6_K decoder", () => {
  it("uses the scale of each 16-element sub-block", () => {
    const q = new Array(256).fill(33); // q - 32 = 1: the value is d * scale
    const scales = [1, -2, 3, -4, 5, -6, 7, -8, 127, -128, 64, -64, 0, 17, -33, 100];
    const y = dequantize("Q6_K", buildBlock(q, scales, fp32ToFp16(0.5)), 256);
    for (let e = 0; e < 256; e++) expect(y[e], `element ${e}`).toBe(0.5 * scales[e >> 4]!);
  });

  it("assembles 6-bit quants from ql (low 4 bits) and qh (high 2 bits)", () => {
    const q = Array.from({ length: 256 }, (_, e) => (e * 37 + 11) % 64);
    const y = dequantize("Q6_K", buildBlock(q, new Array(16).fill(1), fp32ToFp16(1)), 256);
    for (let e = 0; e < 256; e++) expect(y[e], `element ${e}`).toBe(q[e]! - 32);
  });

  it("reads the documented byte positions (ggml dequantize_row_q6_K)", () => {
    // Element 64 + 5 of half 1 (= 197): ql[64 + 5] high nibble, qh[32 + 5] bits 4-5, scale 8 + 4.
    const b = new Uint8Array(BLOCK);
    b[64 + 5] = 0xa0; // high nibble 10
    b[128 + 32 + 5] = 0x30; // bits 4-5 = 3 -> q = 10 | 48 = 58
    b[192 + 12] = 3;
    const d = fp32ToFp16(0.25);
    b[208] = d & 0xff;
    b[209] = d >>> 8;
    const y = dequantize("Q6_K", b, 256);
    expect(y[197]).toBe(0.25 * 3 * (58 - 32));
    // Every other element with scale 0 is 0 ...; elements of the same sub-block with q = 0 give -32*d*3.
    for (let e = 192; e < 208; e++) if (e !== 197) expect(y[e]).toBe(0.25 * 3 * -32);
    for (let e = 0; e < 192; e++) expect(y[e]! + 0).toBe(0); // scale 0 gives +-0
  });

  it("handles every bit of every quant (single-bit blocks)", () => {
    for (let e = 0; e < 256; e += 7) {
      for (let bit = 0; bit < 6; bit++) {
        const q = new Array(256).fill(32);
        q[e] = 32 ^ (1 << bit);
        const y = dequantize("Q6_K", buildBlock(q, new Array(16).fill(2), fp32ToFp16(1)), 256);
        for (let k = 0; k < 256; k++) expect(y[k]! + 0).toBe(k === e ? 2 * ((32 ^ (1 << bit)) - 32) : 0);
      }
    }
  });
});

describe("Q6_K encoder", () => {
  const rng = createRng(61);
  const gauss = () => Math.sqrt(-2 * Math.log(rng() + 1e-12)) * Math.cos(2 * Math.PI * rng());

  it("round-trips within one quantization step per element and ~2% RMS", () => {
    const n = 256 * 8;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = gauss() * (i < 256 ? 1e-3 : 1) * (i % 97 === 0 ? 6 : 1);
    const bytes = quantize("Q6_K", x);
    expect(bytes.length).toBe(8 * BLOCK);
    const y = roundTrip("Q6_K", x);
    let err2 = 0;
    let sig2 = 0;
    for (let b = 0; b < 8; b++) {
      const dv = new DataView(bytes.buffer, b * BLOCK);
      const dd = Math.abs(dequantize("F16", new Uint8Array([dv.getUint8(208), dv.getUint8(209)]), 1)[0]!);
      for (let j = 0; j < 16; j++) {
        const step = dd * Math.abs(dv.getInt8(192 + j));
        let amax = 0;
        for (let k = 0; k < 16; k++) amax = Math.max(amax, Math.abs(x[b * 256 + 16 * j + k]!));
        for (let k = 0; k < 16; k++) {
          const i = b * 256 + 16 * j + k;
          // Half a step from rounding, plus clamping at the ends of the 6-bit range.
          expect(Math.abs(y[i]! - x[i]!), `element ${i}`).toBeLessThanOrEqual(step + amax * 1e-6);
        }
      }
    }
    for (let i = 256; i < n; i++) {
      err2 += (y[i]! - x[i]!) ** 2;
      sig2 += x[i]! ** 2;
    }
    expect(Math.sqrt(err2 / sig2)).toBeLessThan(0.03); // 6 bits: about step/sqrt(12), step ~ amax/32
  });

  it("encodes an all-zero block as zeros and keeps exact grid values", () => {
    expect(Array.from(quantize("Q6_K", new Float32Array(256)))).toEqual(new Array(BLOCK).fill(0));
    // Values on a 6-bit grid come back exactly (scale = max/-32 representable).
    const x = new Float32Array(256);
    for (let i = 0; i < 256; i++) x[i] = ((i * 13) % 64) - 32;
    const y = roundTrip("Q6_K", x);
    let maxErr = 0;
    for (let i = 0; i < 256; i++) maxErr = Math.max(maxErr, Math.abs(y[i]! - x[i]!));
    expect(maxErr).toBeLessThanOrEqual(0.5);
  });

  it("is deterministic and decodes to what the bytes say", () => {
    const x = new Float32Array(512).map(() => gauss());
    const a = quantize("Q6_K", x);
    const b = quantize("Q6_K", x);
    expect(a).toEqual(b);
    expect(roundTrip("Q6_K", x)).toEqual(new Float32Array(dequantize("Q6_K", a, 512)));
  });
});
