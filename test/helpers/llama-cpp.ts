// SPDX-License-Identifier: MIT
// Test oracle over node-llama-cpp (llama.cpp CPU build, offline prebuilt binaries): full logits
// rows at every position, tokenization and greedy decoding. Models are cached per path.

import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from "node-llama-cpp";
import { readGguf } from "./gguf-read.js";

/** Options of {@link llamaCppLogits} and {@link llamaCppGreedy}. */
export interface LlamaCppOptions {
  /** CPU threads (default 2). */
  threads?: number;
  /**
   * KV cache element type (default "F32" so that llama.cpp's own rounding stays small;
   * llama.cpp's default is F16).
   */
  kvType?: "F32" | "F16";
}

let llamaPromise: Promise<Llama> | undefined;
const models = new Map<string, Promise<LlamaModel>>();
const vocabSizes = new Map<string, number>();

/** n_vocab as llama.cpp sees it: the length of tokenizer.ggml.tokens. */
function vocabSize(modelPath: string): number {
  let n = vocabSizes.get(modelPath);
  if (n === undefined) {
    const tokens = readGguf(modelPath).metadata.get("tokenizer.ggml.tokens");
    n = tokens?.type === "array" ? tokens.value.length : 0;
    vocabSizes.set(modelPath, n);
  }
  return n;
}

function llama(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  return llamaPromise;
}

/** The llama.cpp model for a path, loaded once (CPU only, no mmap so rewritten files reload). */
export async function llamaCppModel(modelPath: string): Promise<LlamaModel> {
  let m = models.get(modelPath);
  if (!m) {
    m = llama().then((l) => l.loadModel({ modelPath, gpuLayers: 0, useMmap: false }));
    models.set(modelPath, m);
    m.catch(() => models.delete(modelPath));
  }
  return m;
}

/** Forgets (and disposes) the cached model of a path, e.g. before the file is rewritten. */
export async function llamaCppForget(modelPath: string): Promise<void> {
  const m = models.get(modelPath);
  models.delete(modelPath);
  vocabSizes.delete(modelPath);
  if (m) await (await m).dispose();
}

/** Disposes every cached model and the llama.cpp instance. */
export async function llamaCppDisposeAll(): Promise<void> {
  const all = [...models.values()];
  models.clear();
  for (const m of all) await (await m.catch(() => undefined))?.dispose();
  const l = llamaPromise;
  llamaPromise = undefined;
  if (l) await (await l).dispose();
}

async function withSequence<T>(
  modelPath: string,
  nTokens: number,
  opts: LlamaCppOptions,
  fn: (seq: ReturnType<Awaited<ReturnType<LlamaModel["createContext"]>>["getSequence"]>, vocab: number) => Promise<T>,
): Promise<T> {
  const model = await llamaCppModel(modelPath);
  const contextSize = Math.max(256, Math.ceil(nTokens / 256) * 256);
  const kv = opts.kvType ?? "F32";
  const context = await model.createContext({
    contextSize,
    batchSize: Math.min(contextSize, 512),
    threads: opts.threads ?? 2,
    sequences: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: kv,
    experimentalKvCacheValueType: kv,
  });
  try {
    return await fn(context.getSequence(), vocabSize(modelPath));
  } finally {
    await context.dispose();
  }
}

/**
 * llama.cpp's logits after each token of `tokens` (one row of n_vocab per position), evaluated
 * as one prompt in a fresh sequence.
 */
export async function llamaCppLogits(modelPath: string, tokens: readonly number[], opts: LlamaCppOptions = {}): Promise<Float32Array[]> {
  return withSequence(modelPath, tokens.length, opts, async (seq, vocab) => {
    const out = await seq.controlledEvaluate(tokens.map((t) => [t as Token, { generateNext: { logits: true } }]));
    return tokens.map((_, i) => {
      const logits = out[i]?.next.logits;
      if (!logits) throw new Error(`llama.cpp returned no logits for position ${i}`);
      if (logits.size !== vocab) throw new Error(`llama.cpp returned ${logits.size} logits, expected ${vocab}`);
      const row = new Float32Array(vocab);
      for (const [tok, v] of logits) row[tok] = v;
      return row;
    });
  });
}

/** llama.cpp tokenization (no BOS added; `special` parses control tokens such as <|im_start|>). */
export async function llamaCppTokenize(modelPath: string, text: string, special: boolean): Promise<number[]> {
  const model = await llamaCppModel(modelPath);
  return model.tokenize(text, special).map(Number);
}

/** llama.cpp detokenization of ids to text (special tokens rendered as their text). */
export async function llamaCppDetokenize(modelPath: string, tokens: readonly number[]): Promise<string> {
  const model = await llamaCppModel(modelPath);
  return model.detokenize(tokens as Token[], true);
}

/** Greedy continuation: `n` argmax tokens after the prompt (EOS is not special-cased). */
export async function llamaCppGreedy(modelPath: string, tokens: readonly number[], n: number, opts: LlamaCppOptions = {}): Promise<number[]> {
  return withSequence(modelPath, tokens.length + n, opts, async (seq) => {
    const result: number[] = [];
    const last = (items: readonly number[]): Parameters<typeof seq.controlledEvaluate>[0] =>
      items.map((t, i) => (i === items.length - 1 ? [t as Token, { generateNext: { logits: true } }] : (t as Token)));
    let input: number[] = [...tokens];
    for (let k = 0; k < n; k++) {
      const out = await seq.controlledEvaluate(last(input));
      const logits = out[input.length - 1]?.next.logits;
      if (!logits) throw new Error("llama.cpp returned no logits");
      // Argmax with the lowest id winning ties (the map is sorted by logit, not by id).
      let best = -1;
      let bestV = -Infinity;
      for (const [tok, v] of logits) if (v > bestV || (v === bestV && tok < best)) [best, bestV] = [tok, v];
      result.push(best);
      input = [best];
    }
    return result;
  });
}
