// SPDX-License-Identifier: MIT
// The test oracles themselves: GGUF writer round trips, bit-exact ggml encoders, synthetic model
// layout, and the float64 reference forward pass against llama.cpp (node-llama-cpp).

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bf16ToFp32,
  dequantize,
  fp16ToFp32,
  fp32ToBf16,
  fp32ToFp16,
  quantize,
  RandomWeightFiller,
  f32ToBits,
  bitsToF32,
} from "../../lib/gguf/quant.js";
import { gguf, GgmlType, tensorByteSize, type GgufValue } from "../../lib/gguf/types.js";
import { encodeGgufHeader, writeGguf, writeGgufSync } from "../../lib/gguf/writer.js";
import { PRESETS, writeSyntheticModel, writeSyntheticModelSync, type WeightType } from "../../lib/synthetic/model.js";
import { meta, readGguf, readTensorBytes, readTensorF64 } from "../helpers/gguf-read.js";
import { llamaCppDisposeAll, llamaCppGreedy, llamaCppLogits } from "../helpers/llama-cpp.js";
import { argmax, referenceForward, referenceGreedy, referenceModel } from "../helpers/reference.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "lfm2-ref-"));
});
afterAll(async () => {
  await llamaCppDisposeAll();
  rmSync(dir, { recursive: true, force: true });
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

// --- Scalar conversions ---

/** Independent float32 -> f16 (integer round-to-nearest-even on the bits). */
function f16Rne(x: number): number {
  const u = f32ToBits(x);
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const man = u & 0x7fffff;
  if (exp === 0xff) return sign | (man ? 0x7e00 : 0x7c00);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  let full: number; // value in units of 2^-24 (the f16 subnormal step) times 2^shift
  let shift: number;
  if (e <= 0) {
    if (exp === 0 && man === 0) return sign;
    full = man | 0x800000; // 24-bit significand, value = full * 2^(exp-150)
    shift = 1 - e + 13; // bits to drop to reach units of 2^-24
    if (shift > 25) return sign;
  } else {
    full = man;
    shift = 13;
  }
  const dropped = full % 2 ** shift;
  let q = Math.floor(full / 2 ** shift);
  const half = 2 ** (shift - 1);
  if (dropped > half || (dropped === half && q & 1)) q++;
  return e <= 0 ? sign | q : sign | ((e << 10) + q); // mantissa carry rolls into the exponent
}

describe("fp16 / bf16", () => {
  it("fp32ToFp16 (ggml port) agrees with an integer RNE on edges and random bit patterns", () => {
    const edges = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e9, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -26, 2 ** -14, 2 ** -14 - 2 ** -25,
      1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, Infinity, -Infinity, 0.1, -0.3333, 1e-8, 6.1e-5];
    for (const x of edges) expect(fp32ToFp16(x), `x=${x}`).toBe(f16Rne(x));
    let s = 1;
    for (let i = 0; i < 200_000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const x = bitsToF32(s);
      if (Number.isNaN(x)) continue;
      const want = f16Rne(x);
      if (fp32ToFp16(x) !== want) expect(fp32ToFp16(x), `bits 0x${s.toString(16)}`).toBe(want);
    }
    expect(fp32ToFp16(NaN) & 0x7e00).toBe(0x7e00);
  });

  it("every f16 value survives f16 -> f32 -> f16", () => {
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaN
      if (fp32ToFp16(fp16ToFp32(h)) !== h) expect(fp32ToFp16(fp16ToFp32(h))).toBe(h);
    }
    expect(fp16ToFp32(0x3c00)).toBe(1);
    expect(fp16ToFp32(0x0001)).toBe(2 ** -24);
    expect(fp16ToFp32(0xfbff)).toBe(-65504);
  });

  it("fp32ToBf16 rounds to nearest even and quiets NaN like ggml_compute_fp32_to_bf16", () => {
    const bf = (bits: number): number => fp32ToBf16(bitsToF32(bits));
    expect(bf(0x3f800000)).toBe(0x3f80);
    expect(bf(0x3f808000)).toBe(0x3f80); // tie, even stays
    expect(bf(0x3f818000)).toBe(0x3f82); // tie, odd rounds up
    expect(bf(0x3f808001)).toBe(0x3f81);
    expect(bf(0xbf80ffff)).toBe(0xbf81);
    expect(bf(0x00018000)).toBe(0x0002); // subnormals are rounded, not flushed
    expect(bf(0x7f7fffff)).toBe(0x7f80); // rounds up to inf
    expect(bf(0x7f800001)).toBe(0x7fc0); // signalling NaN made quiet
    expect(bf(0xffc00000)).toBe(0xffc0);
    expect(bf16ToFp32(0x3fc0)).toBe(1.5);
  });
});

// --- Block quantizers ---

describe("Q8_0 / Q4_0 encoders", () => {
  it("Q8_0 matches quantize_row_q8_0_ref on a hand-computed block (roundf: half away from zero)", () => {
    const x = new Float32Array(32);
    x.set([127, -2.5, 2.5, -0.5, 0.5, 1.49, -1.51, 0, -127, 63.5]);
    // amax 127 -> d = 1 (f16 0x3c00), id = 1, q = roundf(x)
    const want = new Uint8Array(34);
    want.set([0x00, 0x3c, 127, 0xfd, 3, 0xff, 1, 1, 0xfe, 0, 0x81, 64]);
    expect(hex(quantize("Q8_0", x))).toBe(hex(want));
    expect(Array.from(dequantize("Q8_0", want, 32).slice(0, 10))).toEqual([127, -3, 3, -1, 1, 1, -2, 0, -127, 64]);
  });

  it("Q8_0 stores f16(d) but quantizes with the unrounded 1/d", () => {
    const x = new Float32Array(32).fill(0.3);
    x[0] = 1;
    const b = quantize("Q8_0", x);
    const d = Math.fround(1 / 127);
    expect(b[0]! | (b[1]! << 8)).toBe(fp32ToFp16(d));
    expect(b[2]).toBe(127);
    expect(b[3]).toBe(38); // roundf(0.3 * 127.00000...)
    expect(hex(quantize("Q8_0", new Float32Array(32)))).toBe("00".repeat(34)); // d = 0, id = 0
  });

  it("Q4_0 matches quantize_row_q4_0_ref on hand-computed blocks (signed max, d = max/-8)", () => {
    // max is -8 (first element of largest |x|): d = 1, id = 1, q = min(15, trunc(x + 8.5))
    const x = new Float32Array(32);
    x.set([-8, 7, 7.6, 0, -0.5, -0.51, 0.49, 0.5]); // -> 0 15 15 8 8 7 8 9; the rest 8
    x[16] = 3; // high nibble of byte 0 -> 11
    x[31] = -3.2; // high nibble of byte 15 -> trunc(5.3) = 5
    const b = quantize("Q4_0", x);
    expect(b[0] | (b[1]! << 8)).toBe(0x3c00);
    const lo = [0, 15, 15, 8, 8, 7, 8, 9, 8, 8, 8, 8, 8, 8, 8, 8];
    const hi = [11, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 5];
    expect(Array.from(b.slice(2))).toEqual(lo.map((l, j) => l | (hi[j]! << 4)));
    const y = dequantize("Q4_0", b, 32);
    expect(y[0]).toBe(-8);
    expect(y[1]).toBe(7);
    expect(y[16]).toBe(3);

    // max +8 -> d = -1: x = 8 maps to 0 and x = -7 to 15; ties in |x| keep the first element.
    const p = new Float32Array(32);
    p.set([8, -7, -8]);
    const bp = quantize("Q4_0", p);
    expect(bp[0] | (bp[1]! << 8)).toBe(0xbc00);
    expect([bp[2]! & 15, bp[3]! & 15, bp[4]! & 15]).toEqual([0, 15, 15]);
    expect(dequantize("Q4_0", bp, 32)[0]).toBe(8);

    // all-zero block: d = 0 / -8 = -0 (f16 0x8000, as in ggml), id = 0, every nibble 8
    expect(hex(quantize("Q4_0", new Float32Array(32)))).toBe("0080" + "88".repeat(16));
  });

  it("decoders give the same values in float32 and float64; round trip error is bounded", () => {
    let s = 3;
    const x = new Float32Array(256).map(() => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 4);
    for (const t of ["F32", "F16", "BF16", "Q8_0", "Q4_0"] as const) {
      const b = quantize(t, x);
      expect(b.length).toBe(tensorByteSize(t, [256]));
      const y64 = dequantize(t, b, 256);
      const y32 = dequantize(t, b, 256, new Float32Array(256));
      expect(Array.from(y32)).toEqual(Array.from(y64));
      const bound = { F32: 0, F16: 2e-3, BF16: 1e-2, Q8_0: 2e-2, Q4_0: 0.3 }[t];
      for (let i = 0; i < 256; i++) expect(Math.abs(y64[i]! - x[i]!)).toBeLessThanOrEqual(bound);
    }
    expect(() => quantize("Q4_0", new Float32Array(33))).toThrow(/multiple of the block size/);
    expect(() => quantize("Q2_K", new Float32Array(256))).toThrow(/no encoder/); // a type with no codec
  });

  it("RandomWeightFiller gives valid, zero-mean blocks of the requested spread, chunking-invariant", () => {
    for (const t of ["Q4_0", "Q8_0", "F16", "BF16", "F32"] as const) {
      const n = 32 * 4096;
      const one = new Uint8Array(tensorByteSize(t, [n]));
      new RandomWeightFiller(t, 0.02, [1, 2, 3, 4]).fill(one, n);
      const two = new Uint8Array(one.length);
      const f = new RandomWeightFiller(t, 0.02, [1, 2, 3, 4]);
      const half = tensorByteSize(t, [n / 2]);
      const a = new Uint8Array(half);
      f.fill(a, n / 2);
      two.set(a);
      f.fill(a, n / 2);
      two.set(a, half);
      expect(hex(two) === hex(one), t).toBe(true);
      const y = dequantize(t, one, n);
      let sum = 0;
      let ss = 0;
      for (const v of y) {
        sum += v;
        ss += v * v;
      }
      const mean = sum / n;
      const std = Math.sqrt(ss / n - mean * mean);
      expect(Math.abs(mean), t).toBeLessThan(0.02 * 0.02);
      expect(std / 0.02, t).toBeGreaterThan(0.95);
      expect(std / 0.02, t).toBeLessThan(1.05);
    }
  });
});

// --- Writer round trip ---

describe("GGUF writer", () => {
  const metadata: [string, GgufValue][] = [
    ["general.architecture", gguf.str("lfm2")],
    ["t.u8", gguf.u8(255)],
    ["t.i8", gguf.i8(-128)],
    ["t.u16", gguf.u16(65535)],
    ["t.i16", gguf.i16(-32768)],
    ["t.u32", gguf.u32(4294967295)],
    ["t.i32", gguf.i32(-2147483648)],
    ["t.f32", gguf.f32(0.1)],
    ["t.bool", gguf.bool(true)],
    ["t.string", gguf.str("héllo ✓")],
    ["t.u64", gguf.u64(2n ** 64n - 1n)],
    ["t.i64", gguf.i64(-(2n ** 63n))],
    ["t.f64", gguf.f64(0.1)],
    ["t.arr.i32", gguf.arr("i32", [0, 0, 8, -1])],
    ["t.arr.str", gguf.arr("string", ["a", "", "Ġb"])],
    ["t.arr.bool", gguf.arr("bool", [true, false])],
    ["t.arr.f32", gguf.arr("f32", [1.5, -2])],
    ["t.arr.u64", gguf.arr("u64", [1n, 5])],
    ["t.arr.nested", gguf.arr("array", [gguf.arr("u8", [1, 2]), gguf.arr("u8", [])])],
  ];
  const w = new Float32Array(64 * 3).map((_, i) => Math.sin(i));
  const tensors = [
    { name: "a.weight", dims: [64, 3], type: "F32" as const, data: quantize("F32", w) },
    { name: "b.weight", dims: [64, 3], type: "Q4_0" as const, data: quantize("Q4_0", w) },
    { name: "c.weight", dims: [32, 2, 3], type: GgmlType.Q8_0, data: () => [quantize("Q8_0", w.subarray(0, 64)), quantize("Q8_0", w.subarray(64))] },
    { name: "d", dims: [5], type: "F16" as const, data: quantize("F16", w.subarray(0, 5)) },
  ];

  for (const version of [3, 2] as const) {
    it(`round-trips metadata (types and values), tensor infos and data (v${version}, alignment ${version === 3 ? 32 : 64})`, () => {
      const path = join(dir, `rt${version}.gguf`);
      const alignment = version === 3 ? 32 : 64;
      const layout = writeGgufSync(path, { version, alignment, metadata, tensors });
      const f = readGguf(path);
      expect(f.version).toBe(version);
      expect(f.alignment).toBe(alignment);
      expect(f.dataOffset % alignment).toBe(0);
      expect(f.dataOffset).toBe(layout.dataOffset);
      expect(statSync(path).size).toBe(layout.fileSize);
      const expectMeta = [...metadata];
      if (alignment !== 32) expectMeta.push(["general.alignment", gguf.u32(alignment)]);
      expect([...f.metadata.keys()]).toEqual(expectMeta.map(([k]) => k));
      for (const [k, v] of expectMeta) {
        const got = f.metadata.get(k)!;
        expect(got.type, k).toBe(v.type);
        if (v.type === "array") {
          expect((got as { elementType: string }).elementType).toBe(v.elementType);
          const norm = (x: unknown): unknown => (typeof x === "object" && x && "value" in x ? (x as { value: unknown[] }).value.map(norm) : typeof x === "bigint" ? x : x);
          const wantVals = v.value.map((e) => (typeof e === "object" ? norm(e) : v.elementType === "u64" ? BigInt(e as number) : v.elementType === "f32" ? Math.fround(e as number) : e));
          expect((got.value as unknown[]).map(norm)).toEqual(wantVals);
        } else if (v.type === "f32") {
          expect(got.value).toBe(Math.fround(v.value));
        } else {
          expect(got.value).toEqual(v.value);
        }
      }
      expect([...f.tensors.values()].map((t) => [t.name, t.dims, t.type])).toEqual([
        ["a.weight", [64, 3], 0],
        ["b.weight", [64, 3], 2],
        ["c.weight", [32, 2, 3], 8],
        ["d", [5], 1],
      ]);
      for (const t of f.tensors.values()) expect(t.offset % alignment).toBe(0);
      expect(hex(readTensorBytes(f, "b.weight"))).toBe(hex(quantize("Q4_0", w)));
      expect(Array.from(readTensorF64(f, "a.weight"))).toEqual(Array.from(w));
      expect(Array.from(readTensorF64(f, "c.weight"))).toEqual(Array.from(dequantize("Q8_0", quantize("Q8_0", w), 192)));
      expect(Array.from(readTensorF64(f, "d"))).toEqual(Array.from(w.subarray(0, 5)).map((x) => fp16ToFp32(fp32ToFp16(x))));
    });
  }

  it("async writer with async producers writes the same bytes", async () => {
    const p1 = join(dir, "sync.gguf");
    const p2 = join(dir, "async.gguf");
    writeGgufSync(p1, { metadata, tensors });
    const asyncTensors = tensors.map((t) => ({
      ...t,
      data: async function* () {
        const d = typeof t.data === "function" ? (t.data() as Uint8Array[]) : [t.data];
        for (const c of d) yield c;
      },
    }));
    await writeGguf(p2, { metadata, tensors: asyncTensors });
    expect(hex(readTensorBytes(readGguf(p2), "c.weight"))).toBe(hex(readTensorBytes(readGguf(p1), "c.weight")));
    expect(statSync(p1).size).toBe(statSync(p2).size);
  });

  it("rejects bad input with a message naming the key or tensor", () => {
    const bad = (spec: Parameters<typeof encodeGgufHeader>[0]): (() => unknown) => () => encodeGgufHeader(spec);
    expect(bad({ metadata: { "x.u8": gguf.u8(256) }, tensors: [] })).toThrow(/x\.u8/);
    expect(bad({ metadata: { "x.a": gguf.arr("i32", [1, 2.5]) }, tensors: [] })).toThrow(/x\.a\[1\]/);
    expect(bad({ metadata: {}, tensors: [{ name: "q", dims: [33], type: "Q4_0", data: new Uint8Array(0) }] })).toThrow(/block size/);
    expect(bad({ metadata: {}, tensors: [{ name: "x".repeat(64), dims: [1], type: "F32", data: new Uint8Array(4) }] })).toThrow(/63 bytes/);
    expect(() => writeGgufSync(join(dir, "short.gguf"), { metadata: {}, tensors: [{ name: "s", dims: [4], type: "F32", data: new Uint8Array(12) }] })).toThrow(/tensor s: data is 12 bytes, expected 16/);
  });
});

// --- Synthetic models ---

describe("synthetic models", () => {
  it("writes the LiquidAI key set, tensor inventory and storage types (lfm2moe, Q4_0)", () => {
    const path = join(dir, "moe-q4.gguf");
    writeSyntheticModelSync(path, PRESETS.tinyMoe, { type: "Q4_0", seed: 3 });
    const f = readGguf(path);
    const typeOf = (k: string): string | undefined => f.metadata.get(k)?.type;
    expect(meta(f, "general.architecture")).toBe("lfm2moe");
    for (const [k, t] of Object.entries({
      "lfm2moe.block_count": "u32", "lfm2moe.context_length": "u32", "lfm2moe.embedding_length": "u32",
      "lfm2moe.feed_forward_length": "u32", "lfm2moe.attention.head_count": "u32", "lfm2moe.rope.freq_base": "f32",
      "lfm2moe.attention.layer_norm_rms_epsilon": "f32", "lfm2moe.vocab_size": "u32", "lfm2moe.shortconv.l_cache": "u32",
      "lfm2moe.expert_count": "u32", "lfm2moe.expert_used_count": "u32", "lfm2moe.expert_feed_forward_length": "u32",
      "lfm2moe.leading_dense_block_count": "u32", "lfm2moe.expert_gating_func": "u32", "tokenizer.ggml.model": "string",
      "tokenizer.ggml.pre": "string", "tokenizer.ggml.bos_token_id": "u32", "tokenizer.ggml.eos_token_id": "u32",
      "tokenizer.ggml.padding_token_id": "u32", "tokenizer.ggml.add_bos_token": "bool", "tokenizer.ggml.add_eos_token": "bool",
      "tokenizer.chat_template": "string", "general.file_type": "u32",
    })) expect(typeOf(k), k).toBe(t);
    const kv = f.metadata.get("lfm2moe.attention.head_count_kv")!;
    expect(kv).toMatchObject({ type: "array", elementType: "i32", value: [0, 0, 2, 0, 2] });
    expect(meta(f, "lfm2moe.expert_gating_func")).toBe(2);
    expect(meta(f, "tokenizer.ggml.pre")).toBe("lfm2");
    expect((meta<string[]>(f, "tokenizer.ggml.tokens")).length).toBe(1024);
    expect(meta<string>(f, "tokenizer.chat_template").startsWith("{{- bos_token -}}")).toBe(true);

    const t = (n: string): [number[], number] => [f.tensors.get(n)!.dims, f.tensors.get(n)!.type];
    expect(t("token_embd.weight")).toEqual([[64, 1024], GgmlType.Q4_0]);
    expect(t("token_embd_norm.weight")).toEqual([[64], GgmlType.F32]);
    expect(f.tensors.has("output.weight")).toBe(false);
    expect(t("blk.0.shortconv.conv.weight")).toEqual([[3, 64], GgmlType.F32]);
    expect(t("blk.0.shortconv.in_proj.weight")).toEqual([[64, 192], GgmlType.Q4_0]);
    expect(t("blk.1.ffn_down.weight")).toEqual([[96, 64], GgmlType.Q4_0]);
    expect(t("blk.2.attn_k.weight")).toEqual([[64, 32], GgmlType.Q4_0]);
    expect(t("blk.2.attn_q_norm.weight")).toEqual([[16], GgmlType.F32]);
    expect(t("blk.2.ffn_gate_inp.weight")).toEqual([[64, 8], GgmlType.F32]);
    expect(t("blk.2.exp_probs_b.bias")).toEqual([[8], GgmlType.F32]);
    expect(t("blk.3.ffn_gate_exps.weight")).toEqual([[64, 32, 8], GgmlType.Q4_0]);
    expect(t("blk.4.ffn_down_exps.weight")).toEqual([[32, 64, 8], GgmlType.Q4_0]);
    expect(f.tensors.has("blk.2.ffn_gate.weight")).toBe(false);
    // 2 + 5 layers x 2 norms + 3 conv x 3 + 2 attn x 6 + 2 dense x 3 + 3 moe x 5
    expect(f.tensors.size).toBe(2 + 10 + 9 + 12 + 6 + 15);
  });

  it("is deterministic per seed, per tensor (omitting one tensor leaves the others alone)", () => {
    const a = join(dir, "det-a.gguf");
    const b = join(dir, "det-b.gguf");
    const c = join(dir, "det-c.gguf");
    writeSyntheticModelSync(a, PRESETS.tiny, { type: "Q8_0", seed: 5 });
    writeSyntheticModelSync(b, PRESETS.tiny, { type: "Q8_0", seed: 5, omitTensors: ["blk.0.attn_norm.weight"] });
    writeSyntheticModelSync(c, PRESETS.tiny, { type: "Q8_0", seed: 6 });
    const [fa, fb, fc] = [readGguf(a), readGguf(b), readGguf(c)];
    expect(fb.tensors.has("blk.0.attn_norm.weight")).toBe(false);
    expect(hex(readTensorBytes(fa, "blk.3.ffn_up.weight"))).toBe(hex(readTensorBytes(fb, "blk.3.ffn_up.weight")));
    expect(hex(readTensorBytes(fa, "blk.3.ffn_up.weight"))).not.toBe(hex(readTensorBytes(fc, "blk.3.ffn_up.weight")));
  });

  it("applies extraMetadata, omitMetadata, overrideShapes, tiedOutput=false and fast mode", async () => {
    const path = join(dir, "opts.gguf");
    await writeSyntheticModel(path, { ...PRESETS.tiny, tiedOutput: false }, {
      type: "Q4_0",
      fast: true,
      extraMetadata: { "lfm2.expert_weights_scale": gguf.f32(2), "lfm2.context_length": gguf.u32(77) },
      omitMetadata: ["tokenizer.chat_template"],
      overrideShapes: { "blk.0.ffn_up.weight": [64, 128] },
    });
    const f = readGguf(path);
    expect(meta(f, "lfm2.context_length")).toBe(77);
    expect(meta(f, "lfm2.expert_weights_scale")).toBeCloseTo(2);
    expect(f.metadata.has("tokenizer.chat_template")).toBe(false);
    expect(f.tensors.get("blk.0.ffn_up.weight")!.dims).toEqual([64, 128]);
    expect(f.tensors.get("output.weight")!.dims).toEqual([64, 1024]);
    const wq = readTensorF64(f, "blk.2.attn_q.weight");
    const rms = Math.sqrt(wq.reduce((s, v) => s + v * v, 0) / wq.length);
    expect(rms).toBeGreaterThan(0.8 / 8);
    expect(rms).toBeLessThan(1.2 / 8);
  });
});

// --- Reference forward vs llama.cpp ---

/** ||a - b|| / ||b|| (b the reference). */
function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return Math.sqrt(d / n);
}

const PROMPT = ((): number[] => {
  const out = [1];
  let s = 12345;
  for (let i = 0; i < 31; i++) out.push(18 + ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 1000));
  return out;
})();

// Worst per-position relative L2 error of llama.cpp against the reference: tight for F32 (both
// compute the same math; measured ~1.2e-6 with an F32 KV cache), loose for the other types, where
// llama.cpp also rounds activations (F16/BF16/Q8_0) before its dot products (measured ~2e-3 F16,
// ~2e-2 BF16, ~5-10e-2 Q8_0/Q4_0 mean). The loose bounds still catch any layout error in the
// written blocks, which gives errors of order 1.
const LLAMA_TOL: Record<"F32" | "F16" | "BF16" | "Q8_0" | "Q4_0", { max: number; mean: number }> = {
  F32: { max: 1e-4, mean: 1e-5 },
  F16: { max: 1e-2, mean: 5e-3 },
  BF16: { max: 6e-2, mean: 3e-2 },
  Q8_0: { max: 0.4, mean: 0.1 },
  Q4_0: { max: 0.4, mean: 0.1 },
};

describe.each(["tiny", "tinyMoe"] as const)("reference forward vs llama.cpp: %s", (preset) => {
  it.each(["F32", "F16", "BF16", "Q8_0", "Q4_0"] as const)("%s", async (type) => {
    const path = join(dir, `${preset}-${type}.gguf`);
    writeSyntheticModelSync(path, PRESETS[preset], { type, seed: 1 });
    const ref = referenceForward(path, PROMPT);
    const got = await llamaCppLogits(path, PROMPT);
    expect(got.length).toBe(PROMPT.length);
    const errs = got.map((row, i) => relL2(row, ref[i]!));
    const max = Math.max(...errs);
    const mean = errs.reduce((a, b) => a + b, 0) / errs.length;
    const agree = got.filter((row, i) => argmax(row) === argmax(ref[i]!)).length;
    console.log(`[reference] ${preset} ${type}: rel L2 max ${max.toExponential(2)} mean ${mean.toExponential(2)}, argmax ${agree}/${PROMPT.length}`);
    expect(max).toBeLessThan(LLAMA_TOL[type].max);
    expect(mean).toBeLessThan(LLAMA_TOL[type].mean);
    if (type === "F32") expect(agree).toBe(PROMPT.length);
  });

  it("greedy continuation (F32) matches llama.cpp token for token", async () => {
    const path = join(dir, `${preset}-F32.gguf`);
    const prompt = PROMPT.slice(0, 6);
    expect(await llamaCppGreedy(path, prompt, 12)).toEqual(referenceGreedy(path, prompt, 12));
  });
});

describe("reference model", () => {
  it("reads layer kinds from head_count_kv and widths from tensor shapes", () => {
    const path = join(dir, "tinyMoe-F32.gguf");
    const c = referenceModel(path).config;
    expect(c.layerKinds).toEqual(["conv", "conv", "attention", "conv", "attention"]);
    expect(c.denseFfn).toEqual([true, true, false, false, false]);
    expect([c.hidden, c.vocab, c.headDim, c.nExperts, c.nExpertsUsed, c.convL]).toEqual([64, 1024, 16, 8, 4, 3]);
  });

  it("expert selection uses the bias: zeroing it changes the routing and the logits", () => {
    const base = join(dir, "tinyMoe-F32.gguf");
    const nobias = join(dir, "tinyMoe-nobias.gguf");
    writeSyntheticModelSync(nobias, PRESETS.tinyMoe, { type: "F32", seed: 1, omitTensors: ["blk.2.exp_probs_b.bias", "blk.3.exp_probs_b.bias", "blk.4.exp_probs_b.bias"] });
    const a = referenceForward(base, PROMPT.slice(0, 8));
    const b = referenceForward(nobias, PROMPT.slice(0, 8));
    expect(Math.max(...a.map((r, i) => relL2(b[i]!, r)))).toBeGreaterThan(1e-3);
  });
});
