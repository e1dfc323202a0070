// SPDX-License-Identifier: MIT
// Test helper: writes a vocab-only GGUF v3 file (lfm2 hyperparameters, tokenizer keys, no tensors)
// so llama.cpp (via node-llama-cpp, vocabOnly) can tokenize with our synthetic vocabulary.

import { writeFileSync } from "node:fs";
import type { BpeVocab } from "../../lib/synthetic/bpe-train.js";

// --- GGUF value types ---
const T_UINT32 = 4;
const T_INT32 = 5;
const T_FLOAT32 = 6;
const T_BOOL = 7;
const T_STRING = 8;
const T_ARRAY = 9;

type Value =
  | { t: "u32"; v: number }
  | { t: "f32"; v: number }
  | { t: "bool"; v: boolean }
  | { t: "str"; v: string }
  | { t: "i32[]"; v: number[] }
  | { t: "str[]"; v: string[] };

class Out {
  private chunks: Buffer[] = [];
  u32(x: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(x);
    this.chunks.push(b);
  }
  i32(x: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(x);
    this.chunks.push(b);
  }
  u64(x: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(x));
    this.chunks.push(b);
  }
  f32(x: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(x);
    this.chunks.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.chunks.push(b);
  }
  raw(b: Buffer): void {
    this.chunks.push(b);
  }
  get length(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeValue(o: Out, val: Value): void {
  switch (val.t) {
    case "u32": o.u32(T_UINT32); o.u32(val.v); break;
    case "f32": o.u32(T_FLOAT32); o.f32(val.v); break;
    case "bool": o.u32(T_BOOL); o.raw(Buffer.from([val.v ? 1 : 0])); break;
    case "str": o.u32(T_STRING); o.str(val.v); break;
    case "i32[]": o.u32(T_ARRAY); o.u32(T_INT32); o.u64(val.v.length); for (const x of val.v) o.i32(x); break;
    case "str[]": o.u32(T_ARRAY); o.u32(T_STRING); o.u64(val.v.length); for (const s of val.v) o.str(s); break;
  }
}

/** Options of {@link writeVocabGguf}; ids default to LFM2's (bos 1, eos 7, pad 0). */
export interface VocabGgufOptions {
  bosId?: number;
  eosId?: number;
  padId?: number;
  addBos?: boolean;
  pre?: string;
}

/** Writes `vocab` as a tensor-less lfm2 GGUF v3 file at `path`. */
export function writeVocabGguf(path: string, vocab: BpeVocab, opts: VocabGgufOptions = {}): void {
  const nLayers = 2;
  const kv: [string, Value][] = [
    ["general.architecture", { t: "str", v: "lfm2" }],
    ["general.name", { t: "str", v: "lfm2-vocab-test" }],
    ["general.alignment", { t: "u32", v: 32 }],
    ["lfm2.block_count", { t: "u32", v: nLayers }],
    ["lfm2.context_length", { t: "u32", v: 4096 }],
    ["lfm2.embedding_length", { t: "u32", v: 64 }],
    ["lfm2.feed_forward_length", { t: "u32", v: 128 }],
    ["lfm2.attention.head_count", { t: "u32", v: 4 }],
    ["lfm2.attention.head_count_kv", { t: "i32[]", v: [0, 2] }],
    ["lfm2.rope.freq_base", { t: "f32", v: 1000000 }],
    ["lfm2.attention.layer_norm_rms_epsilon", { t: "f32", v: 1e-5 }],
    ["lfm2.vocab_size", { t: "u32", v: vocab.tokens.length }],
    ["lfm2.shortconv.l_cache", { t: "u32", v: 3 }],
    ["tokenizer.ggml.model", { t: "str", v: "gpt2" }],
    ["tokenizer.ggml.pre", { t: "str", v: opts.pre ?? "lfm2" }],
    ["tokenizer.ggml.tokens", { t: "str[]", v: vocab.tokens }],
    ["tokenizer.ggml.token_type", { t: "i32[]", v: vocab.tokenTypes }],
    ["tokenizer.ggml.merges", { t: "str[]", v: vocab.merges }],
    ["tokenizer.ggml.bos_token_id", { t: "u32", v: opts.bosId ?? 1 }],
    ["tokenizer.ggml.eos_token_id", { t: "u32", v: opts.eosId ?? 7 }],
    ["tokenizer.ggml.padding_token_id", { t: "u32", v: opts.padId ?? 0 }],
    ["tokenizer.ggml.add_bos_token", { t: "bool", v: opts.addBos ?? true }],
    ["tokenizer.ggml.add_eos_token", { t: "bool", v: false }],
  ];
  const o = new Out();
  o.raw(Buffer.from("GGUF", "latin1"));
  o.u32(3); // version
  o.u64(0); // tensor count
  o.u64(kv.length);
  for (const [key, val] of kv) {
    o.str(key);
    writeValue(o, val);
  }
  const pad = (32 - (o.length % 32)) % 32; // tensor data section starts aligned (and is empty)
  o.raw(Buffer.alloc(pad));
  writeFileSync(path, o.buffer());
}
