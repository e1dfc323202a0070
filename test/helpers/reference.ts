// SPDX-License-Identifier: MIT
// The float64 oracle: a plain, slow LFM2 / LFM2-MoE forward pass written from the spec (sections
// 1-3 and 7), one token at a time with a KV cache and conv state. Weights are dequantized exactly.
// Shapes: H hidden, V vocab, L conv width, nH / nKv heads, hd head dim, F ffn, E experts, K used.

import * as fs from "node:fs";
import { meta, readGguf, readTensorF64, type GgufFile } from "./gguf-read.js";

// --- Model ---

export type LayerKind = "conv" | "attention";

/** Hyperparameters, read from metadata (kinds, heads, eps, theta) and tensor shapes (widths). */
export interface ReferenceConfig {
  arch: "lfm2" | "lfm2moe";
  nLayers: number;
  hidden: number;
  vocab: number;
  nHeads: number;
  headDim: number;
  /** Dimensions rotated by RoPE (rope.dimension_count, default headDim). */
  ropeDims: number;
  ropeTheta: number;
  normEps: number;
  convL: number;
  /** From the per-layer head_count_kv array: 0 -> conv. */
  layerKinds: LayerKind[];
  nKvHeads: number[];
  /** true where the layer has a dense FFN. */
  denseFfn: boolean[];
  nExperts: number;
  nExpertsUsed: number;
  /** Routing weight multiplier (expert_weights_scale when present and non-zero, else 1). */
  expertScale: number;
}

interface LayerWeights {
  attnNorm: Float64Array; // [H]
  // conv layer
  convW?: Float64Array; // [H][L]: (c, k) at c*L + k; k = L-1 is the current token
  inProj?: Float64Array; // [3H][H] rows B, C, x
  outProj?: Float64Array; // [H][H]
  // attention layer
  wq?: Float64Array; // [nH*hd][H]
  wk?: Float64Array; // [nKv*hd][H]
  wv?: Float64Array; // [nKv*hd][H]
  wo?: Float64Array; // [H][nH*hd]
  qNorm?: Float64Array; // [hd]
  kNorm?: Float64Array; // [hd]
  ffnNorm: Float64Array; // [H]
  // dense FFN
  ffnDim: number;
  gate?: Float64Array; // [F][H]
  up?: Float64Array; // [F][H]
  down?: Float64Array; // [H][F]
  // MoE FFN
  expertDim: number;
  router?: Float64Array; // [E][H]
  expertBias?: Float64Array; // [E]
  gateExps?: Float64Array; // [E][Fe][H]
  upExps?: Float64Array; // [E][Fe][H]
  downExps?: Float64Array; // [E][H][Fe]
}

/** Per-sequence state: conv windows (last L-1 Bx vectors) and K/V caches. */
export interface ReferenceState {
  pos: number;
  /** Per conv layer: L-1 past Bx vectors, oldest first, zero at start. */
  conv: Float64Array[][];
  /** Per attention layer: one entry per past position, [nKv*hd] each (K after norm + RoPE). */
  k: Float64Array[][];
  v: Float64Array[][];
}

/** Observer of intermediate activations: (name, layer or -1, value). */
export type TapFn = (name: string, layer: number, value: Float64Array) => void;

function fail(path: string, msg: string): never {
  throw new Error(`[reference] ${path}: ${msg}`);
}

function shapeOf(f: GgufFile, name: string): number[] | undefined {
  return f.tensors.get(name)?.dims;
}

/** Loads a tensor, checking its ggml dims against `dims` (0 = any, returned via the result). */
function load(f: GgufFile, name: string, dims: number[]): Float64Array {
  const got = shapeOf(f, name);
  if (!got) fail(f.path, `missing tensor ${name}`);
  const ok = got.length === dims.length && dims.every((d, i) => d === 0 || d === got[i]);
  if (!ok) fail(f.path, `tensor ${name} has dims [${got}], expected [${dims.map((d) => d || "*")}]`);
  return readTensorF64(f, name);
}

export class ReferenceModel {
  readonly config: ReferenceConfig;
  private readonly tokEmbd: Float64Array; // [V][H]
  private readonly outNorm: Float64Array; // [H]
  private readonly output: Float64Array; // [V][H] (tied to tokEmbd when output.weight is absent)
  private readonly layers: LayerWeights[];

  constructor(readonly path: string) {
    const f = readGguf(path);
    const arch = meta<string>(f, "general.architecture");
    if (arch !== "lfm2" && arch !== "lfm2moe") fail(path, `architecture ${arch} is not lfm2/lfm2moe`);
    const nLayers = meta<number>(f, `${arch}.block_count`);
    const nHeads = meta<number>(f, `${arch}.attention.head_count`);
    const kvMeta = meta<unknown>(f, `${arch}.attention.head_count_kv`);
    // Per-layer array (what the converter writes); a scalar means every layer is attention.
    const nKvHeads = Array.isArray(kvMeta) ? kvMeta.map(Number) : new Array<number>(nLayers).fill(Number(kvMeta));
    if (nKvHeads.length !== nLayers) fail(path, `head_count_kv has ${nKvHeads.length} entries for ${nLayers} layers`);
    const layerKinds: LayerKind[] = nKvHeads.map((n) => (n === 0 ? "conv" : "attention"));

    const embDims = shapeOf(f, "token_embd.weight") ?? fail(path, "missing token_embd.weight");
    const [H, V] = embDims as [number, number];
    const hd = H / nHeads; // head_dim = hidden / heads (no key_length in LFM2 files)
    const moe = arch === "lfm2moe";
    const nDense = moe ? meta<number>(f, `${arch}.leading_dense_block_count`, 0) : nLayers;
    if (moe) {
      const gating = meta<number>(f, `${arch}.expert_gating_func`, 2);
      if (gating !== 2) fail(path, `expert_gating_func ${gating}: only 2 (sigmoid) is LFM2-MoE`);
    }
    const scale = meta<number>(f, `${arch}.expert_weights_scale`, 0);
    this.config = {
      arch,
      nLayers,
      hidden: H,
      vocab: V,
      nHeads,
      headDim: hd,
      ropeDims: meta<number>(f, `${arch}.rope.dimension_count`, hd),
      ropeTheta: meta<number>(f, `${arch}.rope.freq_base`, 10000),
      normEps: meta<number>(f, `${arch}.attention.layer_norm_rms_epsilon`),
      convL: meta<number>(f, `${arch}.shortconv.l_cache`, 3),
      layerKinds,
      nKvHeads,
      denseFfn: Array.from({ length: nLayers }, (_, il) => il < nDense),
      nExperts: moe ? meta<number>(f, `${arch}.expert_count`) : 0,
      nExpertsUsed: moe ? meta<number>(f, `${arch}.expert_used_count`) : 0,
      expertScale: scale ? scale : 1,
    };
    const c = this.config;

    this.tokEmbd = readTensorF64(f, "token_embd.weight");
    // Final norm: token_embd_norm (LiquidAI / llama.cpp); output_norm from other converters.
    const normName = f.tensors.has("token_embd_norm.weight") ? "token_embd_norm.weight" : "output_norm.weight";
    this.outNorm = load(f, normName, [H]);
    this.output = f.tensors.has("output.weight") ? load(f, "output.weight", [H, V]) : this.tokEmbd;

    this.layers = [];
    for (let il = 0; il < nLayers; il++) {
      const p = `blk.${il}.`;
      const lw: LayerWeights = {
        attnNorm: load(f, p + "attn_norm.weight", [H]),
        ffnNorm: load(f, p + "ffn_norm.weight", [H]),
        ffnDim: 0,
        expertDim: 0,
      };
      if (layerKinds[il] === "conv") {
        lw.convW = load(f, p + "shortconv.conv.weight", [c.convL, H]);
        lw.inProj = load(f, p + "shortconv.in_proj.weight", [H, 3 * H]);
        lw.outProj = load(f, p + "shortconv.out_proj.weight", [H, H]);
      } else {
        const nkv = nKvHeads[il]! * hd;
        lw.wq = load(f, p + "attn_q.weight", [H, nHeads * hd]);
        lw.wk = load(f, p + "attn_k.weight", [H, nkv]);
        lw.wv = load(f, p + "attn_v.weight", [H, nkv]);
        lw.wo = load(f, p + "attn_output.weight", [nHeads * hd, H]);
        lw.qNorm = load(f, p + "attn_q_norm.weight", [hd]);
        lw.kNorm = load(f, p + "attn_k_norm.weight", [hd]);
      }
      if (c.denseFfn[il]) {
        // FFN width from the tensor shape, not feed_forward_length (spec 1.5, robustness note).
        const F = (shapeOf(f, p + "ffn_gate.weight") ?? fail(path, `missing ${p}ffn_gate.weight`))[1]!;
        lw.ffnDim = F;
        lw.gate = load(f, p + "ffn_gate.weight", [H, F]);
        lw.up = load(f, p + "ffn_up.weight", [H, F]);
        lw.down = load(f, p + "ffn_down.weight", [F, H]);
      } else {
        const E = c.nExperts;
        const Fe = (shapeOf(f, p + "ffn_gate_exps.weight") ?? fail(path, `missing ${p}ffn_gate_exps.weight`))[1]!;
        lw.expertDim = Fe;
        lw.router = load(f, p + "ffn_gate_inp.weight", [H, E]);
        lw.expertBias = f.tensors.has(p + "exp_probs_b.bias") ? load(f, p + "exp_probs_b.bias", [E]) : new Float64Array(E);
        lw.gateExps = load(f, p + "ffn_gate_exps.weight", [H, Fe, E]);
        lw.upExps = load(f, p + "ffn_up_exps.weight", [H, Fe, E]);
        lw.downExps = load(f, p + "ffn_down_exps.weight", [Fe, H, E]);
      }
      this.layers.push(lw);
    }
  }

  /** A fresh sequence: position 0, zero conv state, empty KV cache. */
  newState(): ReferenceState {
    const c = this.config;
    return {
      pos: 0,
      conv: c.layerKinds.map((k) => (k === "conv" ? Array.from({ length: c.convL - 1 }, () => new Float64Array(c.hidden)) : [])),
      k: c.layerKinds.map(() => []),
      v: c.layerKinds.map(() => []),
    };
  }

  /** Runs one token at `state.pos` and returns its logits [V]. */
  step(state: ReferenceState, token: number, tap?: TapFn): Float64Array {
    const c = this.config;
    const H = c.hidden;
    if (!Number.isInteger(token) || token < 0 || token >= c.vocab) throw new Error(`[reference] token ${token} out of range`);
    // h = embed_tokens[token] (no norm here)
    let h: Float64Array = this.tokEmbd.slice(token * H, (token + 1) * H);
    tap?.("embd", -1, h);
    for (let il = 0; il < c.nLayers; il++) {
      const lw = this.layers[il]!;
      // 1. operator norm
      const u = rmsNorm(h, lw.attnNorm, c.normEps);
      tap?.("attn_norm", il, u);
      // 2. token mixer
      const m = c.layerKinds[il] === "conv" ? this.shortConv(lw, state.conv[il]!, u) : this.attention(lw, il, state, u);
      tap?.(c.layerKinds[il] === "conv" ? "shortconv_out" : "attn_out", il, m);
      // 3. residual
      h = add(h, m);
      // 4. FFN norm
      const fIn = rmsNorm(h, lw.ffnNorm, c.normEps);
      tap?.("ffn_norm", il, fIn);
      // 5. dense SwiGLU or MoE
      const ff = c.denseFfn[il] ? swiglu(lw.gate!, lw.up!, lw.down!, lw.ffnDim, H, fIn, 0, 0) : this.moe(lw, fIn, il, tap);
      tap?.("ffn_out", il, ff);
      // 6. residual
      h = add(h, ff);
      tap?.("layer_out", il, h);
    }
    state.pos++;
    const hn = rmsNorm(h, this.outNorm, c.normEps);
    tap?.("final_norm", -1, hn);
    return matvec(this.output, c.vocab, H, hn);
  }

  /** Logits at every position of `tokens`, from a fresh state. */
  forward(tokens: readonly number[], tap?: TapFn): Float64Array[] {
    const s = this.newState();
    return tokens.map((t) => this.step(s, t, tap));
  }

  /** `n` greedy tokens after `tokens` (argmax, lowest id wins ties). */
  greedy(tokens: readonly number[], n: number): number[] {
    const s = this.newState();
    let logits: Float64Array | undefined;
    for (const t of tokens) logits = this.step(s, t);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const next = argmax(logits!);
      out.push(next);
      logits = this.step(s, next);
    }
    return out;
  }

  // --- Short convolution (spec 1.3) ---

  private shortConv(lw: LayerWeights, window: Float64Array[], u: Float64Array): Float64Array {
    const H = this.config.hidden;
    const L = this.config.convL;
    const bcx = matvec(lw.inProj!, 3 * H, H, u); // [3H] = B | C | x
    const bx = new Float64Array(H); // B*x, before the conv
    for (let ch = 0; ch < H; ch++) bx[ch] = bcx[ch]! * bcx[2 * H + ch]!;
    const w = lw.convW!;
    const y = new Float64Array(H);
    for (let ch = 0; ch < H; ch++) {
      // window[k] is Bx of position t-(L-1)+k; tap L-1 is the current token
      let acc = w[ch * L + (L - 1)]! * bx[ch]!;
      for (let k = 0; k < L - 1; k++) acc += w[ch * L + k]! * window[k]![ch]!;
      y[ch] = bcx[H + ch]! * acc; // C*conv, after the conv
    }
    window.shift();
    window.push(bx);
    return matvec(lw.outProj!, H, H, y);
  }

  // --- GQA attention with QK norm and NEOX RoPE (spec 1.4) ---

  private attention(lw: LayerWeights, il: number, state: ReferenceState, u: Float64Array): Float64Array {
    const c = this.config;
    const H = c.hidden;
    const hd = c.headDim;
    const nH = c.nHeads;
    const nKv = c.nKvHeads[il]!;
    const q = matvec(lw.wq!, nH * hd, H, u); // [nH*hd]
    const k = matvec(lw.wk!, nKv * hd, H, u); // [nKv*hd]
    const v = matvec(lw.wv!, nKv * hd, H, u); // [nKv*hd]
    for (let h = 0; h < nH; h++) this.normRope(q, h * hd, lw.qNorm!, state.pos);
    for (let g = 0; g < nKv; g++) this.normRope(k, g * hd, lw.kNorm!, state.pos);
    state.k[il]!.push(k);
    state.v[il]!.push(v);
    const keys = state.k[il]!;
    const vals = state.v[il]!;
    const T = keys.length; // causal: positions 0..pos
    const scale = 1 / Math.sqrt(hd);
    const group = nH / nKv;
    const o = new Float64Array(nH * hd);
    const score = new Float64Array(T);
    for (let h = 0; h < nH; h++) {
      const g = Math.floor(h / group); // kv head of query head h
      let mx = -Infinity;
      for (let t = 0; t < T; t++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[h * hd + d]! * keys[t]![g * hd + d]!;
        score[t] = dot * scale;
        mx = Math.max(mx, score[t]!);
      }
      let sum = 0;
      for (let t = 0; t < T; t++) sum += score[t] = Math.exp(score[t]! - mx);
      for (let t = 0; t < T; t++) {
        const p = score[t]! / sum;
        for (let d = 0; d < hd; d++) o[h * hd + d] += p * vals[t]![g * hd + d]!;
      }
    }
    return matvec(lw.wo!, H, nH * hd, o);
  }

  /** Per-head RMSNorm then NEOX RoPE (rotate_half pairs d, d + n/2), in place on x[off..off+hd). */
  private normRope(x: Float64Array, off: number, w: Float64Array, pos: number): void {
    const c = this.config;
    const hd = c.headDim;
    const head = rmsNorm(x.subarray(off, off + hd), w, c.normEps);
    const n = c.ropeDims;
    const half = n / 2;
    for (let i = 0; i < half; i++) {
      const angle = pos * Math.pow(c.ropeTheta, (-2 * i) / n);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const a = head[i]!;
      const b = head[i + half]!;
      head[i] = a * cos - b * sin;
      head[i + half] = b * cos + a * sin;
    }
    x.set(head, off);
  }

  // --- Sigmoid-routed MoE (spec 2) ---

  private moe(lw: LayerWeights, f: Float64Array, il: number, tap?: TapFn): Float64Array {
    const c = this.config;
    const H = c.hidden;
    const E = c.nExperts;
    const K = c.nExpertsUsed;
    const Fe = lw.expertDim;
    const s = matvec(lw.router!, E, H, f).map((z) => 1 / (1 + Math.exp(-z))); // sigmoid, not softmax
    tap?.("router_scores", il, s.map((v, e) => v + lw.expertBias![e]!));
    // Select by s + bias; weight by the unbiased s of the selected experts.
    const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => s[b]! + lw.expertBias![b]! - (s[a]! + lw.expertBias![a]!) || a - b);
    const sel = order.slice(0, K);
    const wsum = sel.reduce((acc, e) => acc + s[e]!, 0);
    const out = new Float64Array(H);
    for (const e of sel) {
      const w = (s[e]! / (wsum + 1e-6)) * c.expertScale;
      const y = swiglu(lw.gateExps!, lw.upExps!, lw.downExps!, Fe, H, f, e * Fe * H, e * H * Fe);
      for (let i = 0; i < H; i++) out[i] += w * y[i]!;
    }
    return out;
  }
}

// --- Math helpers ---

/** y = x / sqrt(mean(x^2) + eps) * w (no 1+w offset). */
function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! * r * w[i]!;
  return y;
}

/** y[r] = sum_c W[off + r*cols + c] * x[c]: a ggml {cols, rows} matrix times x. */
function matvec(W: Float64Array, rows: number, cols: number, x: Float64Array, off = 0): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    const base = off + r * cols;
    for (let c = 0; c < cols; c++) acc += W[base + c]! * x[c]!;
    y[r] = acc;
  }
  return y;
}

/** W2 (silu(W1 x) * (W3 x)); gate/up are [F][H] at `off13`, down is [H][F] at `off2`. */
function swiglu(gate: Float64Array, up: Float64Array, down: Float64Array, F: number, H: number, x: Float64Array, off13: number, off2: number): Float64Array {
  const g = matvec(gate, F, H, x, off13);
  const u = matvec(up, F, H, x, off13);
  const a = new Float64Array(F);
  for (let i = 0; i < F; i++) a[i] = (g[i]! / (1 + Math.exp(-g[i]!))) * u[i]!;
  return matvec(down, H, F, a, off2);
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i]! + b[i]!;
  return y;
}

/** Index of the largest value; the lowest index wins ties. */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

// --- Cached entry points ---

const cache = new Map<string, { stamp: string; model: ReferenceModel }>();

/** The reference model of a file, loaded once per (path, size, mtime). */
export function referenceModel(modelPath: string): ReferenceModel {
  const st = fs.statSync(modelPath);
  const stamp = `${st.size}/${st.mtimeMs}`;
  const hit = cache.get(modelPath);
  if (hit && hit.stamp === stamp) return hit.model;
  const model = new ReferenceModel(modelPath);
  cache.set(modelPath, { stamp, model });
  return model;
}

/**
 * Float64 logits at every position of `tokens` (a fresh sequence; BOS is not added).
 * @example const rows = referenceForward("tiny.gguf", [1, 42, 7]); // rows[2] = logits after token 7
 */
export function referenceForward(modelPath: string, tokens: readonly number[]): Float64Array[] {
  return referenceModel(modelPath).forward(tokens);
}

/**
 * The smallest relative gap between the K-th and the (K+1)-th expert selection score (sigmoid +
 * bias), (s_K - s_K+1) / |s_K|, over every token and MoE layer of `tokens`; Infinity for a
 * dense model. Routing is a top-K choice, a step function of its input: where this gap is
 * within the engines' rounding, two correct engines may pick different experts.
 */
export function routingMargin(modelPath: string, tokens: readonly number[]): number {
  const model = referenceModel(modelPath);
  const K = model.config.nExpertsUsed;
  let margin = Infinity;
  model.forward(tokens, (name, _layer, v) => {
    if (name !== "router_scores" || v.length <= K) return;
    const sorted = Array.from(v).sort((a, b) => b - a);
    margin = Math.min(margin, (sorted[K - 1]! - sorted[K]!) / Math.abs(sorted[K - 1]!));
  });
  return margin;
}

/**
 * The first of make(seed0), make(seed0 + 1), ... (32 tries) whose routingMargin is at least
 * `minMargin`: the prompt itself for a dense model (or one without near-ties).
 */
export function promptAwayFromRoutingTies(modelPath: string, make: (seed: number) => number[], seed0: number,
  minMargin: number): number[] {
  for (let seed = seed0; seed < seed0 + 32; seed++) {
    const prompt = make(seed);
    if (routingMargin(modelPath, prompt) >= minMargin) return prompt;
  }
  throw new Error(`[reference] ${modelPath}: no prompt from seed ${seed0} on keeps every routing decision ${minMargin} away from a tie`);
}

/** `n` greedy tokens after the prompt, by the reference. */
export function referenceGreedy(modelPath: string, tokens: readonly number[], n: number): number[] {
  return referenceModel(modelPath).greedy(tokens, n);
}
