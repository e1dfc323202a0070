// Kernel test helpers: the _runKernel hook, the ISAs this CPU supports, a seeded RNG, f16/bf16
// and Q8_0/Q4_0 encoders (with their exact decoded values in float64) and expectAllClose.
import { dequantize } from "../../lib/gguf/quant.js";
import { createRng } from "../../lib/util/random.js";
import { expect } from "vitest";
import { native } from "../../lib/native.js";

export const ISA_ORDER = ["scalar", "avx2", "avx512"] as const;
export type Isa = (typeof ISA_ORDER)[number];

/** Every ISA this CPU and OS can run, scalar first. */
export function supportedIsas(): Isa[] {
  const best = native().runtimeInfo().cpu.bestIsa as Isa;
  return ISA_ORDER.slice(0, ISA_ORDER.indexOf(best) + 1);
}

/** The ISAs other than scalar that this CPU supports (compared against scalar). */
export function simdIsas(): Isa[] {
  return supportedIsas().slice(1);
}

export function runKernel(isa: string, op: string, args: Record<string, unknown>): Float32Array {
  return native()._runKernel(isa, op, args);
}

// --- ggml type ids (GGUF on-disk values)

export const GGML = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const;
export type WeightType = keyof typeof GGML;

// --- seeded RNG

export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;
  constructor(seed: number) {
    this.next = createRng(seed);
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  f32Array(n: number, lo = -1, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform(lo, hi);
    return a;
  }
}

// --- half precision

export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function bf16ToNumber(h: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, (h & 0xffff) << 16);
  return buf.getFloat32(0);
}

/** Random finite f16 bits with |value| in [2^(e0-15), 2^(e1-14)) (e in [1, 30]); some subnormals. */
export function randomF16Bits(rng: Rng, e0 = 10, e1 = 16): number {
  const sign = rng.next() < 0.5 ? 0x8000 : 0;
  if (rng.next() < 0.02) return sign | rng.int(0, 0x3ff); // subnormal or zero
  return sign | (rng.int(e0, e1) << 10) | rng.int(0, 0x3ff);
}

function randomBf16Bits(rng: Rng): number {
  const sign = rng.next() < 0.5 ? 0x8000 : 0;
  return sign | (rng.int(120, 128) << 7) | rng.int(0, 0x7f);
}

// --- weight matrices: bytes for the kernel, exact float64 values for the reference

export interface Weights {
  type: WeightType;
  bytes: Uint8Array;
  /** Row-major [rows][cols] dequantized values (exact). */
  values: Float64Array;
  rows: number;
  cols: number;
}

export function blockSize(type: WeightType): number {
  return type === "Q4_0" || type === "Q8_0" ? 32 : 1;
}

export function makeWeights(type: WeightType, rows: number, cols: number, rng: Rng): Weights {
  const values = new Float64Array(rows * cols);
  let bytes: Uint8Array;
  if (type === "F32") {
    const f = rng.f32Array(rows * cols);
    for (let i = 0; i < f.length; i++) values[i] = f[i]!;
    bytes = new Uint8Array(f.buffer);
  } else if (type === "F16" || type === "BF16") {
    const h = new Uint16Array(rows * cols);
    for (let i = 0; i < h.length; i++) {
      h[i] = type === "F16" ? randomF16Bits(rng) : randomBf16Bits(rng);
      values[i] = type === "F16" ? f16ToNumber(h[i]!) : bf16ToNumber(h[i]!);
    }
    bytes = new Uint8Array(h.buffer);
  } else {
    const q4 = type === "Q4_0";
    const blockBytes = q4 ? 18 : 34;
    const nb = cols / 32;
    bytes = new Uint8Array(rows * nb * blockBytes);
    const view = new DataView(bytes.buffer);
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < nb; b++) {
        const off = (r * nb + b) * blockBytes;
        const dBits = randomF16Bits(rng, 8, 14) & 0x7fff | (rng.next() < 0.1 ? 0x8000 : 0);
        view.setUint16(off, dBits, true);
        const d = f16ToNumber(dBits);
        const base = r * cols + b * 32;
        for (let j = 0; j < (q4 ? 16 : 32); j++) {
          if (q4) {
            const lo = rng.int(0, 15), hi = rng.int(0, 15);
            bytes[off + 2 + j] = lo | (hi << 4);
            values[base + j] = (lo - 8) * d;
            values[base + j + 16] = (hi - 8) * d;
          } else {
            const q = rng.int(-128, 127);
            bytes[off + 2 + j] = q & 0xff;
            values[base + j] = q * d;
          }
        }
      }
    }
  }
  return { type, bytes, values, rows, cols };
}

// --- comparison

export interface CloseOptions {
  /** Absolute tolerance (default 0). */
  atol?: number;
  /** Tolerance relative to |expected[i]| (default 0). */
  rtol?: number;
  /** Per-element scale (e.g. sum of |terms|) and the tolerance relative to it. */
  scale?: ArrayLike<number>;
  scaleTol?: number;
}

/**
 * Asserts |actual[i] - expected[i]| <= atol + rtol*|expected[i]| + scaleTol*scale[i] for all i
 * (NaN must meet NaN, infinities must be equal). On failure the message gives the max absolute
 * and relative errors, the worst element (by error / allowed) and the first mismatches.
 */
export function expectAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label: string,
  opts: CloseOptions = {},
): void {
  const { atol = 0, rtol = 0, scale, scaleTol = 0 } = opts;
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let worstRatio = 0;
  const bad: string[] = [];
  let nBad = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let ok: boolean;
    let err: number;
    let allowed: number;
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      ok = Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e));
      err = ok ? 0 : Infinity;
      allowed = 0;
    } else {
      err = Math.abs(a - e);
      allowed = atol + rtol * Math.abs(e) + (scale ? scaleTol * scale[i]! : 0);
      ok = err <= allowed; // false for a NaN actual
    }
    if (Number.isFinite(err)) {
      maxAbs = Math.max(maxAbs, err);
      if (e !== 0) maxRel = Math.max(maxRel, err / Math.abs(e));
    }
    const ratio = allowed > 0 ? err / allowed : err > 0 || !ok ? Infinity : 0;
    if (worst < 0 || ratio > worstRatio || Number.isNaN(ratio)) {
      worst = i;
      worstRatio = ratio;
    }
    if (!ok) {
      nBad++;
      if (bad.length < 5) bad.push(`[${i}] got ${a} expected ${e} (err ${err.toExponential(2)}, allowed ${allowed.toExponential(2)})`);
    }
  }
  if (nBad > 0) {
    const w = worst;
    const msg = [
      `${label}: ${nBad}/${expected.length} elements out of tolerance`,
      `max abs err ${maxAbs.toExponential(3)}, max rel err ${maxRel.toExponential(3)}`,
      `worst [${w}]: got ${actual[w]} expected ${expected[w]} (${worstRatio.toExponential(2)}x allowed)`,
      `first mismatches: ${bad.join("; ")}`,
    ].join("\n");
    expect.fail(msg);
  }
}

/** Asserts bitwise equality of two float arrays (distinguishes -0 and +0, NaN payloads aside). */
export function expectBitExact(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i] && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) {
      expect.fail(`${label}: element ${i} differs: got ${actual[i]} expected ${expected[i]}`);
    }
  }
}

// --- matmul harness shared by the matmul tests of every weight type

/** Written into y before a matmul: rows outside [r0, r1) and the ldy padding must keep it. */
export const MATMUL_SENTINEL = 777.25;

/** One matmul call: W [rows, cols] (bytes at wOffset), tokens nTok, output rows [r0, r1). */
export interface MatmulCase {
  rows: number; cols: number; nTok: number; r0: number; r1: number;
  ldx: number; ldy: number; wOffset: number;
}

/**
 * The float64 product over the exact weight values, and for each output the sum of |w*x| (the
 * scale the tolerances are relative to). Outputs outside [r0, r1) hold the sentinel.
 */
export function matmulReference(values: ArrayLike<number>, x: Float32Array, c: MatmulCase) {
  const y = new Float64Array(c.nTok * c.ldy).fill(MATMUL_SENTINEL);
  const scale = new Float64Array(c.nTok * c.ldy);
  for (let t = 0; t < c.nTok; t++) {
    for (let r = c.r0; r < c.r1; r++) {
      let acc = 0;
      let abs = 0;
      for (let k = 0; k < c.cols; k++) {
        const p = values[r * c.cols + k]! * x[t * c.ldx + k]!;
        acc += p;
        abs += Math.abs(p);
      }
      y[t * c.ldy + r] = acc;
      scale[t * c.ldy + r] = abs;
    }
  }
  return { y, scale };
}

/** Runs the matmul kernel of one ISA for ggml type id `typeId` on a sentinel-filled y. */
export function runMatmul(isa: string, typeId: number, bytes: Uint8Array, x: Float32Array, c: MatmulCase): Float32Array {
  return runKernel(isa, "matmul", {
    type: typeId, w: bytes, nRows: c.rows, nCols: c.cols, x, nTok: c.nTok, ldx: c.ldx,
    ldy: c.ldy, r0: c.r0, r1: c.r1, y: new Float32Array(c.nTok * c.ldy).fill(MATMUL_SENTINEL),
    wOffset: c.wOffset,
  });
}

// --- Q4_K / Q5_K test weights

export const KQUANT_TYPES = { Q4_K: { id: 12, bytes: 144 }, Q5_K: { id: 13, bytes: 176 } } as const;
export type KQuantType = keyof typeof KQUANT_TYPES;

/** Random valid super-blocks: random f16 d/dmin (some negative or subnormal), scales, quants. */
export function makeKQuantWeights(type: KQuantType, rows: number, cols: number, rng: Rng): { bytes: Uint8Array; values: Float64Array } {
  const bb = KQUANT_TYPES[type].bytes;
  const nb = (rows * cols) / 256;
  const bytes = new Uint8Array(nb * bb);
  for (let b = 0; b < nb; b++) {
    const o = b * bb;
    for (let i = 4; i < bb; i++) bytes[o + i] = rng.int(0, 255);
    const d = randomF16Bits(rng, 4, 10) & (rng.next() < 0.1 ? 0xffff : 0x7fff);
    const m = randomF16Bits(rng, 4, 12) & (rng.next() < 0.1 ? 0xffff : 0x7fff);
    bytes[o] = d & 0xff;
    bytes[o + 1] = d >> 8;
    bytes[o + 2] = m & 0xff;
    bytes[o + 3] = m >> 8;
  }
  return { bytes, values: dequantize(type, bytes, rows * cols) };
}

// --- Q6_K test weights

export const Q6_K_ID = 14;
export const Q6_K_BLOCK_BYTES = 210;

/** Random Q6_K rows: any ql/qh bits, int8 scales over the full range, f16 d of both signs. */
export function makeQ6KWeights(rows: number, cols: number, rng: Rng): { bytes: Uint8Array; values: Float64Array } {
  const nb = cols / 256;
  const bytes = new Uint8Array(rows * nb * Q6_K_BLOCK_BYTES);
  for (let b = 0; b < rows * nb; b++) {
    const o = b * Q6_K_BLOCK_BYTES;
    for (let j = 0; j < 192; j++) bytes[o + j] = rng.int(0, 255);
    for (let j = 0; j < 16; j++) bytes[o + 192 + j] = rng.int(-128, 127) & 0xff;
    const d = (randomF16Bits(rng, 4, 10) & 0x7fff) | (rng.next() < 0.2 ? 0x8000 : 0);
    bytes[o + 208] = d & 0xff;
    bytes[o + 209] = d >>> 8;
  }
  return { bytes, values: dequantize("Q6_K", bytes, rows * cols) };
}
