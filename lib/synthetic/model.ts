// SPDX-License-Identifier: MIT
// Random-weight LFM2 / LFM2-MoE GGUF files laid out exactly like LiquidAI's converted models
// (spec sections 3.2-3.3, 4): test fixtures (tiny) and benchmark files of the real shapes.

import { encodeGgufHeader, writeGguf, writeGgufSync, type GgufLayout, type GgufTensorSpec, type GgufFileSpec } from "../gguf/writer.js";
import { gguf, type GgufValue } from "../gguf/types.js";
import { isRandomFillType, quantizeInto, RandomWeightFiller } from "../gguf/quant.js";
import { trainBpeVocab, type BpeVocab } from "./bpe-train.js";

// --- Configuration ---

/** Hyperparameters of a synthetic model (names follow GGUF metadata; widths in elements). */
export interface SyntheticConfig {
  arch: "lfm2" | "lfm2moe";
  /** H, embedding_length. */
  hidden: number;
  nLayers: number;
  /** 0-based indices of the attention layers; all others are short-conv layers. */
  attnLayers: number[];
  nHeads: number;
  nKvHeads: number;
  /** Dense FFN width (every layer of lfm2; the leading dense layers of lfm2moe). */
  ffn: number;
  vocabSize: number;
  /** Default 128000 (the released configs). */
  contextLength?: number;
  nExperts?: number;
  nExpertsUsed?: number;
  /** Expert FFN width (moe_intermediate_size). */
  expertFfn?: number;
  /** Leading layers with a dense FFN in lfm2moe (default 2). */
  nDenseLayers?: number;
  /** Short-conv width L (default 3). */
  convL?: number;
  /** Default 1e-5. */
  normEps?: number;
  /** Default 1e6. */
  ropeTheta?: number;
  /** Default true: no output.weight, the LM head is token_embd. */
  tiedOutput?: boolean;
}

/** Storage type of the large matrices (norms, conv kernels, router and 1-D tensors stay F32). */
export type WeightType = "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0" | "Q4_1" | "Q5_0" | "Q5_1" | "Q4_K" | "Q5_K" | "Q6_K" | "Q4_K_M" | "Q5_K_M";

/**
 * llama.cpp quantization mixes (llama-quantize ftypes): a base type (Q4_K / Q5_K) with some
 * tensors raised to Q6_K as llama_tensor_get_type does; see {@link mixTensorType}.
 */
export type MixType = "Q4_K_M" | "Q5_K_M";

/** The ggml type of one stored tensor. */
export type TensorType = Exclude<WeightType, MixType>;

/** Options of {@link writeSyntheticModel}. */
export interface SyntheticOptions {
  type: WeightType;
  /** Seeds weights and vocabulary (default 0). Each tensor has its own stream keyed by its name. */
  seed?: number;
  /**
   * Random bytes straight from a PRNG instead of encoding random floats (Q4_0/Q8_0 blocks,
   * pre-encoded normal samples for float types). For multi-GB benchmark files.
   */
  fast?: boolean;
  /** Added after the standard keys; a key that already exists is replaced in place. */
  extraMetadata?: Record<string, GgufValue>;
  /** Standard keys to leave out (for loader error tests). */
  omitMetadata?: string[];
  /** Tensors to leave out (for loader error tests). */
  omitTensors?: string[];
  /** Tensor name -> ggml dims to write instead of the correct shape (for loader error tests). */
  overrideShapes?: Record<string, number[]>;
  /** tokenizer.chat_template (default {@link LFM2_CHAT_TEMPLATE}). */
  chatTemplate?: string;
  /** general.name (default "LFM2 synthetic"). */
  name?: string;
  /** GGUF version (default 3). */
  ggufVersion?: 2 | 3;
}

/** The dense LFM2 chat template (spec section 4). */
export const LFM2_CHAT_TEMPLATE = `{{- bos_token -}}
{%- set system_prompt = "" -%}
{%- set ns = namespace(system_prompt="") -%}
{%- if messages[0]["role"] == "system" -%}
    {%- set ns.system_prompt = messages[0]["content"] -%}
    {%- set messages = messages[1:] -%}
{%- endif -%}
{%- if tools -%}
    {%- set ns.system_prompt = ns.system_prompt + ("\\n" if ns.system_prompt else "") + "List of tools: <|tool_list_start|>[" -%}
    {%- for tool in tools -%}
        {%- if tool is not string -%}{%- set tool = tool | tojson -%}{%- endif -%}
        {%- set ns.system_prompt = ns.system_prompt + tool -%}
        {%- if not loop.last -%}{%- set ns.system_prompt = ns.system_prompt + ", " -%}{%- endif -%}
    {%- endfor -%}
    {%- set ns.system_prompt = ns.system_prompt + "]<|tool_list_end|>" -%}
{%- endif -%}
{%- if ns.system_prompt -%}
    {{- "<|im_start|>system\\n" + ns.system_prompt + "<|im_end|>\\n" -}}
{%- endif -%}
{%- for message in messages -%}
    {{- "<|im_start|>" + message["role"] + "\\n" -}}
    {%- set content = message["content"] -%}
    {%- if content is not string -%}{%- set content = content | tojson -%}{%- endif -%}
    {%- if message["role"] == "tool" -%}
        {%- set content = "<|tool_response_start|>" + content + "<|tool_response_end|>" -%}
    {%- endif -%}
    {{- content + "<|im_end|>\\n" -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- "<|im_start|>assistant\\n" -}}
{%- endif -%}`;

/**
 * Model shapes. The full-size ones follow spec section 5 (head_dim 64). LFM2-24B-A2B's attention
 * layer indices and dense FFN width are not published: 2,6,...,38 and 11264 are ASSUMED (11264 is
 * inside the 11,071..11,884 range implied by the 23.84 B parameter count).
 */
export const PRESETS: Readonly<Record<"tiny" | "tinyMoe" | "lfm2-1.2b" | "lfm2-8b-a1b" | "lfm2-24b-a2b", SyntheticConfig>> = {
  tiny: {
    arch: "lfm2", hidden: 64, nLayers: 5, attnLayers: [2, 4], nHeads: 4, nKvHeads: 2, ffn: 96,
    vocabSize: 1024, contextLength: 4096,
  },
  tinyMoe: {
    arch: "lfm2moe", hidden: 64, nLayers: 5, attnLayers: [2, 4], nHeads: 4, nKvHeads: 2, ffn: 96,
    vocabSize: 1024, contextLength: 4096, nExperts: 8, nExpertsUsed: 4, expertFfn: 32, nDenseLayers: 2,
  },
  "lfm2-1.2b": {
    arch: "lfm2", hidden: 2048, nLayers: 16, attnLayers: [2, 5, 8, 10, 12, 14], nHeads: 32, nKvHeads: 8,
    ffn: 8192, vocabSize: 65536,
  },
  "lfm2-8b-a1b": {
    arch: "lfm2moe", hidden: 2048, nLayers: 24, attnLayers: [2, 6, 10, 14, 18, 21], nHeads: 32, nKvHeads: 8,
    ffn: 7168, vocabSize: 65536, nExperts: 32, nExpertsUsed: 4, expertFfn: 1792, nDenseLayers: 2,
  },
  "lfm2-24b-a2b": {
    arch: "lfm2moe", hidden: 2048, nLayers: 40, attnLayers: [2, 6, 10, 14, 18, 22, 26, 30, 34, 38], nHeads: 32,
    nKvHeads: 8, ffn: 11264, vocabSize: 65536, nExperts: 64, nExpertsUsed: 4, expertFfn: 1536, nDenseLayers: 2,
  },
};

// GGUF general.file_type (enum llama_ftype) of each weight type.
const FILE_TYPE: Record<WeightType, number> = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q5_0: 8, Q5_1: 9, BF16: 32, Q4_K: 14, Q5_K: 16, Q6_K: 18, Q4_K_M: 15, Q5_K_M: 17 };

// --- Seeded randomness ---

/** FNV-1a of a string: the per-tensor stream id. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** splitmix32 step: expands (seed, stream) into well-mixed state words. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function streamSeed(seed: number, name: string): number[] {
  let x = (fnv1a(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < 4; i++) out.push((x = splitmix32(x + i)));
  return out;
}

/** xoshiro128** with Box-Muller normals: the float weight stream of one tensor. */
class Rng {
  private s: Uint32Array;
  private spare: number | undefined;
  constructor(words: number[]) {
    this.s = Uint32Array.from(words);
    if (this.s.every((w) => w === 0)) this.s[0] = 1;
  }
  u32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }
  /** Uniform in (0, 1). */
  uniform(): number {
    return ((this.u32() >>> 8) + 0.5) / 16777216;
  }
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// --- Tensor inventory ---

/** How a tensor's values are drawn: N(mean, std^2). `big`: a weight matrix in the file type. */
interface TensorPlan {
  name: string;
  dims: number[];
  type: TensorType;
  mean: number;
  std: number;
  big: boolean;
}

/** Resolved config with defaults applied. */
function resolve(cfg: SyntheticConfig): Required<SyntheticConfig> {
  const moe = cfg.arch === "lfm2moe";
  const given = Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined)) as SyntheticConfig;
  const r: Required<SyntheticConfig> = {
    contextLength: 128000,
    nExperts: 0,
    nExpertsUsed: 0,
    expertFfn: 0,
    nDenseLayers: 2,
    convL: 3,
    normEps: 1e-5,
    ropeTheta: 1e6,
    tiedOutput: true,
    ...given,
  };
  if (!moe) r.nDenseLayers = r.nLayers;
  const bad = (msg: string): never => {
    throw new Error(`[synthetic] ${msg}`);
  };
  if (cfg.arch !== "lfm2" && cfg.arch !== "lfm2moe") bad(`unknown arch ${String(cfg.arch)}`);
  if (r.hidden % r.nHeads !== 0) bad(`hidden ${r.hidden} is not a multiple of nHeads ${r.nHeads}`);
  if (r.nHeads % r.nKvHeads !== 0) bad(`nHeads ${r.nHeads} is not a multiple of nKvHeads ${r.nKvHeads}`);
  for (const l of r.attnLayers) if (!Number.isInteger(l) || l < 0 || l >= r.nLayers) bad(`attention layer ${l} out of range`);
  if (moe && (!r.nExperts || !r.nExpertsUsed || !r.expertFfn)) bad("lfm2moe needs nExperts, nExpertsUsed and expertFfn");
  if (moe && r.nExpertsUsed > r.nExperts) bad("nExpertsUsed > nExperts");
  if (r.nDenseLayers < 0 || r.nDenseLayers > r.nLayers) bad(`nDenseLayers ${r.nDenseLayers} out of range`);
  if (r.convL < 2) bad("convL must be at least 2");
  return r;
}

// --- llama.cpp mixes ---

/** llama.cpp's use_more_bits: the first and last eighth of the layers and every third between. */
function useMoreBits(i: number, n: number): boolean {
  const e = Math.floor(n / 8);
  return i < e || i >= Math.floor((7 * n) / 8) || (i - e) % 3 === 2;
}

/** llama.cpp's replacement when a row is not a multiple of 256 (convert_incompatible_tensor). */
const K_FALLBACK: Partial<Record<TensorType, TensorType>> = { Q4_K: "Q5_0", Q5_K: "Q5_1", Q6_K: "Q8_0" };

/**
 * The type llama.cpp's llama_tensor_get_type picks for a weight matrix of an LFM2 / LFM2-MoE
 * model under `type` (only mixes differ from `type`). For Q4_K_M / Q5_K_M (base Q4_K / Q5_K):
 * - output.weight, or token_embd.weight when there is no output.weight (tied head): Q6_K
 *   (Q8_0 if ne0 is not a multiple of 256); an untied token_embd keeps the base type;
 * - attn_v.weight: Q6_K when use_more_bits(i, n) for i = its index among the n attention
 *   layers (llama.cpp counts attn_v tensors, and only attention layers have one);
 * - ffn_down (dense) and ffn_down_exps (MoE): Q6_K when use_more_bits(layer, n_layer) (one
 *   ffn_down tensor per layer, so llama.cpp's counter and the parsed block index agree);
 * - everything else (attn_q/k/output, shortconv in/out_proj, ffn_gate/up and their _exps): base.
 *   n_expert is 32 or 64 here, so the 8-expert attn_v/attn_k/attn_output rules do not apply.
 * Then a row length (ne0) that is not a multiple of 256 falls back to Q5_0 / Q5_1 / Q8_0 for
 * Q4_K / Q5_K / Q6_K. 1-D tensors, norms, shortconv.conv and ffn_gate_inp are never passed here
 * (they stay F32).
 */
export function mixTensorType(type: WeightType, name: string, ne0: number, c: Pick<Required<SyntheticConfig>, "attnLayers" | "nLayers" | "tiedOutput">): TensorType {
  if (type !== "Q4_K_M" && type !== "Q5_K_M") return type;
  let t: TensorType = type === "Q4_K_M" ? "Q4_K" : "Q5_K";
  const layer = /^blk\.(\d+)\./.exec(name);
  const il = layer ? Number(layer[1]) : -1;
  if (name === "output.weight" || (c.tiedOutput && name === "token_embd.weight")) {
    t = ne0 % 256 === 0 ? "Q6_K" : "Q8_0";
  } else if (name.includes("attn_v.weight")) {
    const attn = [...c.attnLayers].sort((a, b) => a - b);
    if (useMoreBits(attn.indexOf(il), attn.length)) t = "Q6_K";
  } else if (name.includes("ffn_down")) {
    if (useMoreBits(il, c.nLayers)) t = "Q6_K";
  }
  if (ne0 % 256 !== 0) t = K_FALLBACK[t] ?? t;
  return t;
}

/** Every tensor of the model, in file order, with its init distribution. */
function planTensors(c: Required<SyntheticConfig>, type: WeightType): TensorPlan[] {
  const H = c.hidden;
  const hd = H / c.nHeads;
  const nkv = c.nKvHeads * hd;
  const out: TensorPlan[] = [];
  const mat = (name: string, dims: number[], std: number): void => {
    out.push({ name, dims, type: mixTensorType(type, name, dims[0]!, c), mean: 0, std, big: true });
  };
  const f32 = (name: string, dims: number[], mean: number, std: number): void => {
    out.push({ name, dims, type: "F32", mean, std, big: false });
  };
  const norm = (name: string, n: number): void => f32(name, [n], 1, 0.1);
  // Embedding rows of std 3/sqrt(H) give tied-head logits of std ~3 (the final norm has RMS ~1).
  const embStd = 3 / Math.sqrt(H);
  mat("token_embd.weight", [H, c.vocabSize], embStd);
  for (let il = 0; il < c.nLayers; il++) {
    const p = `blk.${il}.`;
    norm(p + "attn_norm.weight", H);
    if (c.attnLayers.includes(il)) {
      mat(p + "attn_q.weight", [H, H], 1 / Math.sqrt(H));
      mat(p + "attn_k.weight", [H, nkv], 1 / Math.sqrt(H));
      mat(p + "attn_v.weight", [H, nkv], 1 / Math.sqrt(H));
      mat(p + "attn_output.weight", [H, H], 1 / Math.sqrt(H));
      norm(p + "attn_q_norm.weight", hd);
      norm(p + "attn_k_norm.weight", hd);
    } else {
      f32(p + "shortconv.conv.weight", [c.convL, H], 0, 1 / Math.sqrt(c.convL));
      mat(p + "shortconv.in_proj.weight", [H, 3 * H], 1 / Math.sqrt(H));
      mat(p + "shortconv.out_proj.weight", [H, H], 1 / Math.sqrt(H));
    }
    norm(p + "ffn_norm.weight", H);
    if (il < c.nDenseLayers) {
      mat(p + "ffn_gate.weight", [H, c.ffn], 1 / Math.sqrt(H));
      mat(p + "ffn_up.weight", [H, c.ffn], 1 / Math.sqrt(H));
      mat(p + "ffn_down.weight", [c.ffn, H], 1 / Math.sqrt(c.ffn));
    } else {
      const E = c.nExperts;
      const Fe = c.expertFfn;
      // Router logits ~N(0, 1): sigmoid scores spread over ~0.27..0.73; the selection bias
      // (std 0.1) is large enough to change which experts win.
      f32(p + "ffn_gate_inp.weight", [H, E], 0, 1 / Math.sqrt(H));
      f32(p + "exp_probs_b.bias", [E], 0, 0.1);
      mat(p + "ffn_gate_exps.weight", [H, Fe, E], 1 / Math.sqrt(H));
      mat(p + "ffn_up_exps.weight", [H, Fe, E], 1 / Math.sqrt(H));
      mat(p + "ffn_down_exps.weight", [Fe, H, E], 1 / Math.sqrt(Fe));
    }
  }
  norm("token_embd_norm.weight", H);
  if (!c.tiedOutput) mat("output.weight", [H, c.vocabSize], embStd);
  return out;
}

/** Chunked bytes of one tensor; the same stream whatever the chunking. */
function* tensorBytes(plan: TensorPlan, seed: number, fast: boolean): Generator<Uint8Array> {
  const ne0 = plan.dims[0]!;
  const rows = plan.dims.slice(1).reduce((a, b) => a * b, 1);
  const rowsPerChunk = Math.max(1, Math.floor((1 << 20) / ne0));
  const words = streamSeed(seed, plan.name);
  // The fast path covers the benchmark types; the rest (Q4_1/Q5_0/Q5_1) are encoded from floats.
  if (fast && plan.big && isRandomFillType(plan.type)) {
    const filler = new RandomWeightFiller(plan.type, plan.std, words);
    for (let r = 0; r < rows; r += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows - r) * ne0;
      const buf = new Uint8Array(n * filler.bytesPerElement);
      filler.fill(buf, n);
      yield buf;
    }
    return;
  }
  const rng = new Rng(words);
  for (let r = 0; r < rows; r += rowsPerChunk) {
    const n = Math.min(rowsPerChunk, rows - r) * ne0;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = plan.mean + plan.std * rng.normal();
    const buf = new Uint8Array(bytesOf(plan.type, n));
    quantizeInto(plan.type, x, buf, 0);
    yield buf;
  }
}

function bytesOf(type: TensorType, n: number): number {
  switch (type) {
    case "F32": return 4 * n;
    case "F16":
    case "BF16": return 2 * n;
    case "Q8_0": return (n / 32) * 34;
    case "Q4_0": return (n / 32) * 18;
    case "Q4_1": return (n / 32) * 20;
    case "Q5_0": return (n / 32) * 22;
    case "Q5_1": return (n / 32) * 24;
    case "Q4_K": return (n / 256) * 144;
    case "Q5_K": return (n / 256) * 176;
    case "Q6_K": return (n / 256) * 210;
  }
}

// --- Metadata ---

const vocabCache = new Map<string, BpeVocab>();

function vocabFor(vocabSize: number, seed: number): BpeVocab {
  const key = `${vocabSize}/${seed}`;
  let v = vocabCache.get(key);
  if (!v) vocabCache.set(key, (v = trainBpeVocab({ vocabSize, seed })));
  return v;
}

function metadataFor(c: Required<SyntheticConfig>, opts: SyntheticOptions): [string, GgufValue][] {
  const a = c.arch;
  const vocab = vocabFor(c.vocabSize, opts.seed ?? 0);
  const md: [string, GgufValue][] = [
    ["general.architecture", gguf.str(a)],
    ["general.type", gguf.str("model")],
    ["general.name", gguf.str(opts.name ?? "LFM2 synthetic")],
    ["general.license", gguf.str("other")],
    ["general.file_type", gguf.u32(FILE_TYPE[opts.type])],
    ["general.quantization_version", gguf.u32(2)],
    [`${a}.block_count`, gguf.u32(c.nLayers)],
    [`${a}.context_length`, gguf.u32(c.contextLength)],
    [`${a}.embedding_length`, gguf.u32(c.hidden)],
    [`${a}.feed_forward_length`, gguf.u32(c.ffn)],
    [`${a}.attention.head_count`, gguf.u32(c.nHeads)],
    // Per layer: kv heads for attention layers, 0 marks a short-conv layer (spec 3.4).
    [`${a}.attention.head_count_kv`, gguf.arr("i32", Array.from({ length: c.nLayers }, (_, i) => (c.attnLayers.includes(i) ? c.nKvHeads : 0)))],
    [`${a}.rope.freq_base`, gguf.f32(c.ropeTheta)],
    [`${a}.attention.layer_norm_rms_epsilon`, gguf.f32(c.normEps)],
  ];
  if (a === "lfm2moe") {
    md.push(
      [`${a}.expert_count`, gguf.u32(c.nExperts)],
      [`${a}.expert_used_count`, gguf.u32(c.nExpertsUsed)],
      [`${a}.expert_feed_forward_length`, gguf.u32(c.expertFfn)],
      [`${a}.leading_dense_block_count`, gguf.u32(c.nDenseLayers)],
      [`${a}.expert_gating_func`, gguf.u32(2)], // SIGMOID
    );
  }
  md.push(
    [`${a}.vocab_size`, gguf.u32(c.vocabSize)],
    [`${a}.shortconv.l_cache`, gguf.u32(c.convL)],
    ["tokenizer.ggml.model", gguf.str("gpt2")],
    ["tokenizer.ggml.pre", gguf.str("lfm2")],
    ["tokenizer.ggml.tokens", gguf.arr("string", vocab.tokens)],
    ["tokenizer.ggml.token_type", gguf.arr("i32", vocab.tokenTypes)],
    ["tokenizer.ggml.merges", gguf.arr("string", vocab.merges)],
    ["tokenizer.ggml.bos_token_id", gguf.u32(1)],
    ["tokenizer.ggml.eos_token_id", gguf.u32(7)],
    ["tokenizer.ggml.padding_token_id", gguf.u32(0)],
    ["tokenizer.ggml.add_bos_token", gguf.bool(true)],
    ["tokenizer.ggml.add_sep_token", gguf.bool(false)],
    ["tokenizer.ggml.add_eos_token", gguf.bool(false)],
    ["tokenizer.chat_template", gguf.str(opts.chatTemplate ?? LFM2_CHAT_TEMPLATE)],
  );
  const omit = new Set(opts.omitMetadata ?? []);
  const out = md.filter(([k]) => !omit.has(k));
  for (const [k, v] of Object.entries(opts.extraMetadata ?? {})) {
    const i = out.findIndex(([key]) => key === k);
    if (i >= 0) out[i] = [k, v];
    else out.push([k, v]);
  }
  return out;
}

// --- Public API ---

/** The GGUF file spec of a synthetic model (tensor data produced lazily while writing). */
export function syntheticModelSpec(cfg: SyntheticConfig, opts: SyntheticOptions): GgufFileSpec {
  const c = resolve(cfg);
  const seed = opts.seed ?? 0;
  const omit = new Set(opts.omitTensors ?? []);
  const tensors: GgufTensorSpec[] = [];
  for (const plan of planTensors(c, opts.type)) {
    if (omit.has(plan.name)) continue;
    const dims = opts.overrideShapes?.[plan.name] ?? plan.dims;
    const block = plan.type === "Q4_K" || plan.type === "Q5_K" || plan.type === "Q6_K" ? 256 : 32;
    if (plan.type !== "F32" && plan.type !== "F16" && plan.type !== "BF16" && dims[0]! % block !== 0) {
      throw new Error(`[synthetic] ${plan.name}: ne0 = ${dims[0]} is not a multiple of ${block}, cannot store as ${plan.type}`);
    }
    const p = { ...plan, dims };
    tensors.push({ name: p.name, dims: p.dims, type: p.type, data: () => tensorBytes(p, seed, opts.fast ?? false) });
  }
  return { version: opts.ggufVersion ?? 3, metadata: metadataFor(c, opts), tensors };
}

/**
 * Writes a complete random-weight LFM2 (`lfm2`) or LFM2-MoE (`lfm2moe`) GGUF file: the metadata,
 * tokenizer and tensor inventory of a LiquidAI conversion, weights from a seeded PRNG scaled so
 * activations stay O(1) through all layers. Streams tensor by tensor (multi-GB files are fine).
 * @example
 * await writeSyntheticModel("tiny.gguf", PRESETS.tiny, { type: "F32", seed: 1 });
 * @throws Error for inconsistent configs or shapes a quantized type cannot store.
 */
export async function writeSyntheticModel(path: string, cfg: SyntheticConfig, opts: SyntheticOptions): Promise<GgufLayout> {
  return writeGguf(path, syntheticModelSpec(cfg, opts));
}

/** Synchronous {@link writeSyntheticModel}. */
export function writeSyntheticModelSync(path: string, cfg: SyntheticConfig, opts: SyntheticOptions): GgufLayout {
  return writeGgufSync(path, syntheticModelSpec(cfg, opts));
}

/** Parameter count and file size a config would have, without writing anything. */
export function syntheticModelSize(cfg: SyntheticConfig, type: WeightType): { parameters: number; fileBytes: number } {
  const spec = syntheticModelSpec(cfg, { type });
  const { layout } = encodeGgufHeader(spec);
  const parameters = spec.tensors.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);
  return { parameters, fileBytes: layout.fileSize };
}
