// SPDX-License-Identifier: MIT
// Bit-exact ports of ggml's reference encoders (F16, BF16, Q8_0, Q4_0) and their decoders, plus a
// fast path that makes valid random tensor bytes from a seeded PRNG for multi-GB benchmark files.
// Not a fast quantizer: it is the oracle the native kernels and written files are checked against.

import { ggmlTypeTraits, type GgmlTypeName } from "./types.js";
import { bf16ToFp32, f32ToBits, fp16ToFp32, fp32ToBf16, fp32ToFp16, roundHalfAway, F16_TABLE, type FloatArray, type TypeCodec } from "./half.js";
import { K_CODECS } from "./quant-k.js";
import { LEGACY_CODECS } from "./quant-legacy.js";
import { Q6K_CODECS } from "./quant-q6k.js";

export { bf16ToFp32, bitsToF32, f32ToBits, fp16ToFp32, fp32ToBf16, fp32ToFp16, type FloatArray, type TypeCodec } from "./half.js";

// --- Codecs ---


function view(a: Uint8Array): DataView {
  return new DataView(a.buffer, a.byteOffset, a.byteLength);
}

const f32Codec: TypeCodec = {
  type: "F32",
  blockSize: 1,
  typeSize: 4,
  encode(x, xo, n, dst, o) {
    const dv = view(dst);
    for (let i = 0; i < n; i++) dv.setFloat32(o + 4 * i, x[xo + i]!, true);
  },
  decode(src, o, n, y, yo) {
    const dv = view(src);
    for (let i = 0; i < n; i++) y[yo + i] = dv.getFloat32(o + 4 * i, true);
  },
};

const f16Codec: TypeCodec = {
  type: "F16",
  blockSize: 1,
  typeSize: 2,
  encode(x, xo, n, dst, o) {
    for (let i = 0; i < n; i++) {
      const h = fp32ToFp16(x[xo + i]!);
      dst[o + 2 * i] = h & 0xff;
      dst[o + 2 * i + 1] = h >>> 8;
    }
  },
  decode(src, o, n, y, yo) {
    for (let i = 0; i < n; i++) y[yo + i] = F16_TABLE[src[o + 2 * i]! | (src[o + 2 * i + 1]! << 8)]!;
  },
};

const bf16Codec: TypeCodec = {
  type: "BF16",
  blockSize: 1,
  typeSize: 2,
  encode(x, xo, n, dst, o) {
    for (let i = 0; i < n; i++) {
      const h = fp32ToBf16(x[xo + i]!);
      dst[o + 2 * i] = h & 0xff;
      dst[o + 2 * i + 1] = h >>> 8;
    }
  },
  decode(src, o, n, y, yo) {
    for (let i = 0; i < n; i++) y[yo + i] = bf16ToFp32(src[o + 2 * i]! | (src[o + 2 * i + 1]! << 8));
  },
};

/** Block layout (ggml block_q8_0): f16 d, then 32 int8 q. Value = q * d. */
const q8_0Codec: TypeCodec = {
  type: "Q8_0",
  blockSize: 32,
  typeSize: 34,
  // Port of quantize_row_q8_0_ref: d = amax/127 (float32), id = 1/d, q = roundf(x*id);
  // the stored d is f16(d) while q is computed with the unrounded float32 id.
  encode(x, xo, n, dst, o) {
    for (let b = 0; b < n / 32; b++) {
      const xb = xo + 32 * b;
      const ob = o + 34 * b;
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xb + j]!));
      const d = Math.fround(amax / 127);
      const id = d ? Math.fround(1 / d) : 0;
      const dh = fp32ToFp16(d);
      dst[ob] = dh & 0xff;
      dst[ob + 1] = dh >>> 8;
      for (let j = 0; j < 32; j++) {
        const q = roundHalfAway(Math.fround(x[xb + j]! * id));
        dst[ob + 2 + j] = q & 0xff;
      }
    }
  },
  decode(src, o, n, y, yo) {
    for (let b = 0; b < n / 32; b++) {
      const ob = o + 34 * b;
      const d = F16_TABLE[src[ob]! | (src[ob + 1]! << 8)]!;
      for (let j = 0; j < 32; j++) {
        const q = (src[ob + 2 + j]! << 24) >> 24; // int8
        y[yo + 32 * b + j] = q * d;
      }
    }
  },
};

/**
 * Block layout (ggml block_q4_0): f16 d, then 16 bytes; byte j holds element j in its low nibble
 * and element j+16 in its high nibble. Value = (nibble - 8) * d.
 */
const q4_0Codec: TypeCodec = {
  type: "Q4_0",
  blockSize: 32,
  typeSize: 18,
  // Port of quantize_row_q4_0_ref: `max` is the first element of largest |x| (sign kept),
  // d = max / -8, id = 1/d, q = min(15, (int8_t)(x*id + 8.5f)); all float32.
  encode(x, xo, n, dst, o) {
    for (let b = 0; b < n / 32; b++) {
      const xb = xo + 32 * b;
      const ob = o + 18 * b;
      let amax = 0;
      let max = 0;
      for (let j = 0; j < 32; j++) {
        const v = x[xb + j]!;
        if (amax < Math.abs(v)) {
          amax = Math.abs(v);
          max = v;
        }
      }
      const d = Math.fround(max / -8);
      const id = d ? Math.fround(1 / d) : 0;
      const dh = fp32ToFp16(d);
      dst[ob] = dh & 0xff;
      dst[ob + 1] = dh >>> 8;
      for (let j = 0; j < 16; j++) {
        const x0 = Math.fround(x[xb + j]! * id);
        const x1 = Math.fround(x[xb + 16 + j]! * id);
        const q0 = Math.min(15, Math.trunc(Math.fround(x0 + 8.5)));
        const q1 = Math.min(15, Math.trunc(Math.fround(x1 + 8.5)));
        dst[ob + 2 + j] = q0 | (q1 << 4);
      }
    }
  },
  decode(src, o, n, y, yo) {
    for (let b = 0; b < n / 32; b++) {
      const ob = o + 18 * b;
      const d = F16_TABLE[src[ob]! | (src[ob + 1]! << 8)]!;
      const yb = yo + 32 * b;
      for (let j = 0; j < 16; j++) {
        const byte = src[ob + 2 + j]!;
        y[yb + j] = ((byte & 0x0f) - 8) * d;
        y[yb + 16 + j] = ((byte >>> 4) - 8) * d;
      }
    }
  },
};

/** The codecs this package implements, by type name. */
export const CODECS: Readonly<Partial<Record<GgmlTypeName, TypeCodec>>> = {
  F32: f32Codec,
  F16: f16Codec,
  BF16: bf16Codec,
  Q8_0: q8_0Codec,
  Q4_0: q4_0Codec,
  ...LEGACY_CODECS, // Q4_1, Q5_0, Q5_1
  ...K_CODECS, // Q4_K, Q5_K
  ...Q6K_CODECS, // Q6_K
};

/** The codec of a type; throws when the type has none yet. */
export function codecFor(type: number | GgmlTypeName): TypeCodec {
  const t = ggmlTypeTraits(type);
  const c = CODECS[t.name];
  if (!c) throw new Error(`no encoder/decoder for ggml type ${t.name} yet`);
  return c;
}

function checkBlocks(c: TypeCodec, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n % c.blockSize !== 0) {
    throw new Error(`${c.type}: element count ${n} is not a multiple of the block size ${c.blockSize}`);
  }
}

/** Encodes float32 values as `type`; x.length must be a multiple of the block size. */
export function quantize(type: number | GgmlTypeName, x: Float32Array): Uint8Array {
  const c = codecFor(type);
  checkBlocks(c, x.length);
  const out = new Uint8Array((x.length / c.blockSize) * c.typeSize);
  c.encode(x, 0, x.length, out, 0);
  return out;
}

/** Encodes x into dst at byte offset `offset`; returns the bytes written. */
export function quantizeInto(type: number | GgmlTypeName, x: Float32Array, dst: Uint8Array, offset = 0): number {
  const c = codecFor(type);
  checkBlocks(c, x.length);
  const bytes = (x.length / c.blockSize) * c.typeSize;
  if (offset + bytes > dst.length) throw new Error(`${c.type}: destination too small`);
  c.encode(x, 0, x.length, dst, offset);
  return bytes;
}

/**
 * Decodes `n` elements of `type` from `src` (from byte `offset`) into `out` (default: a new
 * Float64Array). Decoding is exact in both float32 and float64 for all types here.
 */
export function dequantize<T extends FloatArray = Float64Array>(
  type: number | GgmlTypeName,
  src: Uint8Array,
  n: number,
  out?: T,
  offset = 0,
): T {
  const c = codecFor(type);
  checkBlocks(c, n);
  const y = out ?? (new Float64Array(n) as T);
  if (y.length < n) throw new Error(`${c.type}: output too small`);
  if (offset + (n / c.blockSize) * c.typeSize > src.length) throw new Error(`${c.type}: source too small`);
  c.decode(src, offset, n, y, 0);
  return y;
}

/** Rounds float32 values through `type` and back (what a weight becomes after writing). */
export function roundTrip(type: number | GgmlTypeName, x: Float32Array): Float32Array {
  return dequantize(type, quantize(type, x), x.length, new Float32Array(x.length));
}

// --- Fast random weights ---

/** Standard deviation (in units of d) of the random quants below: Q4_0 q-8, Q8_0 q. */
const Q4_0_RANDOM_STD = Math.sqrt((2 * 140) / 16);
const Q8_0_RANDOM_STD = Math.sqrt((2 * 127 * 128 * 255) / 6 / 256);

// The fast path writes 16-bit words, so it needs a little-endian host (x86-64, arm64).
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * u16 of random bits -> two Q4_0 bytes (as a little-endian u16). Each random nibble r becomes
 * r, except 0 -> 8: q-8 then takes -7..7 once each and 0 twice, symmetric about zero.
 */
const Q4_0_WORD_TABLE: Uint16Array = (() => {
  const t = new Uint16Array(65536);
  for (let r = 0; r < 65536; r++) {
    let w = 0;
    for (let k = 0; k < 4; k++) w |= ((r >>> (4 * k)) & 15 || 8) << (4 * k);
    t[r] = w;
  }
  return t;
})();

/** u16 of random bits -> two Q8_0 int8 quants with -128 (0x80) replaced by 0: symmetric. */
const Q8_0_WORD_TABLE: Uint16Array = (() => {
  const t = new Uint16Array(65536);
  for (let r = 0; r < 65536; r++) {
    const lo = r & 0xff;
    const hi = r >>> 8;
    t[r] = (lo === 0x80 ? 0 : lo) | ((hi === 0x80 ? 0 : hi) << 8);
  }
  return t;
})();

/** Types {@link RandomWeightFiller} can produce. */
export type RandomFillType = "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0" | "Q4_K" | "Q5_K" | "Q6_K";
const RANDOM_FILL_TYPES: readonly string[] = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"];

/** Whether {@link RandomWeightFiller} can produce `type` (other types go through the encoders). */
export function isRandomFillType(type: string): type is RandomFillType {
  return RANDOM_FILL_TYPES.includes(type);
}

/**
 * Produces valid random tensor bytes of one type straight from a seeded xorshift128 PRNG, without
 * running the encoders: meant for multi-GB benchmark models (hundreds of MB/s).
 * - Q4_0 / Q8_0: random quants symmetric about zero (so the mean weight is exactly 0) and f16
 *   scales spread over 0.75..1.25 of the value that gives weights of standard deviation `std`.
 * - F32 / F16 / BF16: each value is one of 65,536 pre-encoded normal samples of deviation `std`.
 * One filler continues one stream, so filling a tensor in chunks gives the same bytes as one go.
 */
export class RandomWeightFiller {
  /** xorshift128 state. */
  private readonly s = new Uint32Array(4);
  private readonly scales = new Uint16Array(64);
  /** Q4_K / Q5_K: the f16 dmin that goes with scales[k]. */
  private readonly kMins = new Uint16Array(64);
  /** F32: float32 bit patterns; F16/BF16: 16-bit patterns. */
  private readonly table?: Uint32Array | Uint16Array;
  readonly bytesPerElement: number;

  /** @param seed - four u32 words, not all zero. */
  constructor(readonly type: RandomFillType, readonly std: number, seed: readonly number[]) {
    if (!LITTLE_ENDIAN) throw new Error("RandomWeightFiller needs a little-endian host");
    if (seed.length !== 4 || seed.every((w) => (w >>> 0) === 0)) throw new Error("RandomWeightFiller: seed must be 4 u32 words, not all 0");
    this.s.set(seed.map((w) => w >>> 0));
    const t = ggmlTypeTraits(type);
    this.bytesPerElement = t.typeSize / t.blockSize;
    if (type === "Q4_K" || type === "Q5_K") {
      // value = d*sc*q - dmin*m with q, sc, m uniform: dmin = E[q] * d makes the mean 0, and
      // Var = d^2 * (Var(sc*q) + E[q]^2 * Var(m)) sets the deviation.
      const nq = type === "Q4_K" ? 16 : 32;
      const eq = (nq - 1) / 2, eq2 = ((nq - 1) * (2 * nq - 1)) / 6;
      const es = 31.5, es2 = (63 * 127) / 6, vm = (64 * 64 - 1) / 12;
      const unit = Math.sqrt(es2 * eq2 - es * es * eq * eq + eq * eq * vm);
      const center = std / unit;
      for (let k = 0; k < 64; k++) {
        const d = center * (0.75 + (0.5 * k) / 63);
        this.scales[k] = fp32ToFp16(d);
        this.kMins[k] = fp32ToFp16(eq * fp16ToFp32(this.scales[k]!));
      }
    } else if (type === "Q6_K") {
      // value = d * sc * (q - 32), sc symmetric int8 (Q8_0_WORD_TABLE), q - 32 uniform on
      // -32..31 (E[(q-32)^2] = 341.5): mean 0, deviation d * Q8_0_RANDOM_STD * sqrt(341.5).
      const center = std / (Q8_0_RANDOM_STD * Math.sqrt(341.5));
      for (let k = 0; k < 64; k++) this.scales[k] = fp32ToFp16(center * (0.75 + (0.5 * k) / 63));
    } else if (type === "Q4_0" || type === "Q8_0") {
      const center = std / (type === "Q4_0" ? Q4_0_RANDOM_STD : Q8_0_RANDOM_STD);
      for (let k = 0; k < 64; k++) this.scales[k] = fp32ToFp16(center * (0.75 + (0.5 * k) / 63));
    } else {
      const table = type === "F32" ? new Uint32Array(65536) : new Uint16Array(65536);
      const u = new Uint32Array(65536);
      this.random(u, 0, u.length);
      for (let i = 0; i < 65536; i += 2) {
        // Box-Muller on two 24-bit uniforms in (0, 1).
        const u1 = ((u[i]! >>> 8) + 0.5) / 16777216;
        const u2 = ((u[i + 1]! >>> 8) + 0.5) / 16777216;
        const r = std * Math.sqrt(-2 * Math.log(u1));
        const enc = type === "F32" ? f32ToBits : type === "F16" ? fp32ToFp16 : fp32ToBf16;
        table[i] = enc(r * Math.cos(2 * Math.PI * u2));
        table[i + 1] = enc(r * Math.sin(2 * Math.PI * u2));
      }
      this.table = table;
    }
  }

  /** Writes `n` u32 of xorshift128 (Marsaglia 2003) output into out[o..o+n). */
  private random(out: Uint32Array, o: number, n: number): void {
    let s0 = this.s[0]!, s1 = this.s[1]!, s2 = this.s[2]!, s3 = this.s[3]!;
    for (let i = o; i < o + n; i++) {
      let t = s3;
      s3 = s2;
      s2 = s1;
      s1 = s0;
      t ^= t << 11;
      t ^= t >>> 8;
      s0 = (t ^ s0 ^ (s0 >>> 19)) >>> 0;
      out[i] = s0;
    }
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = s3;
  }

  /** Fills the bytes of the first `n` elements of `dst` (n a multiple of the block size). */
  fill(dst: Uint8Array, n: number): void {
    const bytes = n * this.bytesPerElement;
    if (!Number.isInteger(bytes) || bytes > dst.length) throw new Error(`${this.type}: bad element count ${n} for ${dst.length} bytes`);
    if (dst.byteOffset % 4 !== 0) {
      // Typed-array views need alignment: fill an aligned copy.
      const tmp = new Uint8Array(bytes);
      this.fill(tmp, n);
      dst.set(tmp);
      return;
    }
    // Random words first (a tight loop), then a table pass that shapes them into valid data.
    // Each block / element takes a fixed number of u32, so the stream is independent of chunking.
    const w16 = new Uint16Array(dst.buffer, dst.byteOffset, bytes >>> 1);
    if (this.type === "Q4_K" || this.type === "Q5_K") {
      // Super-blocks of 72 (Q4_K) or 88 (Q5_K) u16 words: f16 d and dmin, then random bytes
      // (every bit pattern of the 6-bit scales/mins and of the quants is valid). Each block reads
      // as many random u16 as it has words; the first picks the d/dmin pair.
      const words = this.type === "Q4_K" ? 72 : 88;
      const nBlocks = bytes / (2 * words);
      const rnd = new Uint32Array((nBlocks * words) / 2);
      this.random(rnd, 0, rnd.length);
      const r16 = new Uint16Array(rnd.buffer);
      w16.set(r16);
      for (let b = 0, o = 0; b < nBlocks; b++, o += words) {
        const k = r16[o]! & 63;
        w16[o] = this.scales[k]!;
        w16[o + 1] = this.kMins[k]!;
      }
      return;
    }
    if (this.type === "Q6_K") {
      // Super-blocks of 105 u16 words: 96 of random ql/qh bits, 8 of int8 scales (-128 -> 0, so
      // they are symmetric and the mean weight is 0), then the f16 d picked by a random word.
      // Each block reads 106 random u16 (53 u32).
      const nBlocks = bytes / 210;
      const rnd = new Uint32Array(nBlocks * 53);
      this.random(rnd, 0, rnd.length);
      const r16 = new Uint16Array(rnd.buffer);
      for (let b = 0, o = 0, r = 0; b < nBlocks; b++, o += 105, r += 106) {
        w16.set(r16.subarray(r, r + 96), o);
        for (let j = 96; j < 104; j++) w16[o + j] = Q8_0_WORD_TABLE[r16[r + j]!]!;
        w16[o + 104] = this.scales[r16[r + 104]! & 63]!;
      }
      return;
    }
    if (this.type === "Q4_0" || this.type === "Q8_0") {
      // Blocks of 9 (Q4_0) or 17 (Q8_0) u16 words: the f16 scale, then the quants; each block
      // reads 10 or 18 random u16 (5 or 9 u32).
      const table = this.type === "Q4_0" ? Q4_0_WORD_TABLE : Q8_0_WORD_TABLE;
      const words = this.type === "Q4_0" ? 9 : 17;
      const nBlocks = bytes / (2 * words);
      const rnd = new Uint32Array((nBlocks * (words + 1)) / 2);
      this.random(rnd, 0, rnd.length);
      const r16 = new Uint16Array(rnd.buffer);
      const scales = this.scales;
      for (let b = 0, o = 0, r = 0; b < nBlocks; b++, o += words, r += words + 1) {
        w16[o] = scales[r16[r]! & 63]!;
        for (let j = 1; j < words; j++) w16[o + j] = table[r16[r + j]!]!;
      }
    } else {
      // One u32 per element; its low 16 bits pick the table entry.
      const rnd = new Uint32Array(n);
      this.random(rnd, 0, n);
      if (this.type === "F32") {
        const table = this.table as Uint32Array;
        const w32 = new Uint32Array(dst.buffer, dst.byteOffset, n);
        for (let i = 0; i < n; i++) w32[i] = table[rnd[i]! & 0xffff]!;
      } else {
        const table = this.table as Uint16Array;
        for (let i = 0; i < n; i++) w16[i] = table[rnd[i]! & 0xffff]!;
      }
    }
  }
}
