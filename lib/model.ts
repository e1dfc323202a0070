// SPDX-License-Identifier: MIT
// Model: a loaded GGUF file (weights stay memory-mapped in native code) plus its tokenizer.
import { access } from "node:fs/promises";
import { LfmError, wrapNativeError } from "./errors.js";
import { native, type NativeModel, type TensorInfo } from "./native.js";
import { BatchScheduler, type BatchStats } from "./batch.js";
import { ChatSession, type ChatSessionOptions } from "./chat/session.js";
import { Sequence } from "./sequence.js";
import { Tokenizer } from "./tokenizer.js";
import type { LoadModelOptions, ModelInfo, SequenceOptions, TokenizeOptions } from "./types.js";
import { boolOption, checkOptions, intOption, invalidParameterError, oneOf, tokenArray } from "./validate.js";

const DEFAULT_CONTEXT = 4096;

/**
 * Loads an LFM2 or LFM2-MoE GGUF file. Parsing and weight checks run off the JavaScript thread.
 *
 * @example
 * const model = await loadModel("LFM2-1.2B-Q4_0.gguf", { threads: 4 });
 * const seq = model.createSequence();
 * for await (const { text } of seq.generate(model.tokenize("Hello"), { maxTokens: 32 })) process.stdout.write(text);
 * model.dispose();
 *
 * @throws {LfmError} ERR_LFM_FILE_NOT_FOUND, ERR_LFM_MODEL_FORMAT (not a GGUF, truncated),
 *   ERR_LFM_UNSUPPORTED_ARCH, ERR_LFM_UNSUPPORTED_TYPE, ERR_LFM_SHAPE_MISMATCH, ERR_LFM_INVALID_ARG,
 *   ERR_LFM_DEVICE_UNAVAILABLE (device "cuda" without a usable GPU), ERR_LFM_DEVICE (GPU failure).
 */
export async function loadModel(path: string, options?: LoadModelOptions): Promise<Model> {
  if (typeof path !== "string" || path.length === 0) throw invalidParameterError("path", "a file path string", path);
  const opts = checkOptions("options", options, ["threads", "device", "useMmap", "activations", "onProgress"]);
  const threads = opts.threads === undefined ? 0 : intOption("threads", opts.threads, 1, 1024);
  const device = opts.device === undefined ? "auto" : oneOf("device", opts.device, ["auto", "cuda", "cpu"] as const);
  if (opts.useMmap !== undefined && typeof opts.useMmap !== "boolean") throw invalidParameterError("useMmap", "a boolean", opts.useMmap);
  const activations = opts.activations === undefined ? "q16" : oneOf("activations", opts.activations, ["q16", "q8", "f32"] as const);
  const useMmap = opts.useMmap ?? false;
  if (opts.onProgress !== undefined && typeof opts.onProgress !== "function") throw invalidParameterError("onProgress", "a function", opts.onProgress);
  const progress = opts.onProgress === undefined ? undefined : new LoadProgress(opts.onProgress as (p: number) => void);
  const caller = new Error();
  try {
    await access(path);
  } catch {
    throw new LfmError("ERR_LFM_FILE_NOT_FOUND", `[load] model file not found: ${path}`);
  }
  let handle: NativeModel;
  try {
    handle = await native().loadModel(path, { threads, useMmap, activations, device, ...(progress && { onProgress: progress.update }) });
  } catch (err) {
    progress?.close();
    throw wrapNativeError(err, caller);
  }
  const model = new Model(path, handle);
  if (progress) {
    progress.update(1);
    progress.close();
    if (progress.error !== undefined) {
      model.dispose();
      throw progress.error;
    }
  }
  return model;
}

/**
 * The caller's onProgress behind what the addon calls: only rising values, nothing after the
 * load settled, and an exception kept (the addon's callback must not throw) to fail the load.
 */
class LoadProgress {
  error: unknown;
  #last = -1;
  #closed = false;
  #callback: (p: number) => void;

  constructor(callback: (p: number) => void) {
    this.#callback = callback;
  }

  update = (fraction: number): void => {
    if (this.#closed || this.error !== undefined || !(fraction > this.#last)) return;
    this.#last = fraction;
    try {
      this.#callback(fraction);
    } catch (err) {
      this.error = err;
    }
  };

  close(): void {
    this.#closed = true;
  }
}

/** A loaded model. Create sequences from it to evaluate tokens; dispose it to unmap the file. */
export class Model {
  /** Hyperparameters, layer pattern, tensor types and the runtime chosen. */
  readonly info: ModelInfo;
  /** The byte-level BPE tokenizer read from the file. */
  readonly tokenizer: Tokenizer;
  readonly path: string;
  #handle: NativeModel;
  #scheduler: BatchScheduler;
  #sequences = new Set<Sequence>();
  #disposed = false;

  /** @internal use {@link loadModel} */
  constructor(path: string, handle: NativeModel) {
    this.path = path;
    this.#handle = handle;
    this.#scheduler = new BatchScheduler(handle);
    const ni = handle.info();
    const v = handle.vocab();
    const find = (text: string) => v.tokens.indexOf(text);
    const eog = new Set<number>();
    for (const id of [v.eosId, v.eotId, find("<|endoftext|>"), find("<|im_end|>")]) {
      if (id !== undefined && id >= 0) eog.add(id);
    }
    const bosId = v.bosId ?? 1;
    const eosId = v.eosId ?? 7;
    this.tokenizer = new Tokenizer({
      tokens: v.tokens,
      tokenTypes: Array.from(v.tokenTypes),
      merges: v.merges,
      bosId,
      eosId,
      eogIds: [...eog],
      addBos: v.addBos ?? true,
      pre: v.pre ?? "lfm2",
    });
    this.info = {
      architecture: ni.architecture as ModelInfo["architecture"],
      name: ni.name,
      vocabSize: ni.vocabSize,
      contextLength: ni.contextLength,
      embeddingLength: ni.embeddingLength,
      layerCount: ni.layerCount,
      layerKinds: ni.layerKinds,
      attentionLayers: ni.layerKinds.flatMap((k, i) => (k === "attention" ? [i] : [])),
      headCount: ni.headCount,
      headCountKv: ni.headCountKv,
      headDim: ni.headDim,
      convLCache: ni.convLCache,
      feedForwardLength: ni.feedForwardLength,
      expertCount: ni.expertCount,
      expertUsedCount: ni.expertUsedCount,
      expertFeedForwardLength: ni.expertFeedForwardLength,
      leadingDenseBlockCount: ni.leadingDenseBlockCount,
      normEps: ni.normEps,
      ropeFreqBase: ni.ropeFreqBase,
      tensorTypes: ni.tensorTypes,
      parameterCount: ni.parameterCount,
      fileSize: ni.fileSize,
      ggufVersion: ni.ggufVersion,
      bosId,
      eosId,
      eogIds: [...eog].sort((a, b) => a - b),
      device: ni.device === "cuda" ? "cuda" : "cpu",
      ...(ni.deviceName !== undefined && { deviceName: ni.deviceName }),
      ...(ni.deviceFallback !== undefined && { deviceFallback: ni.deviceFallback }),
      isa: ni.isa,
      threads: ni.threads,
      activations: ni.activations,
      useMmap: ni.useMmap,
    };
  }

  /** True after {@link dispose}. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Counters of batched evaluation. Evaluations of this model's sequences that run at the same
   * time (concurrent evaluate() calls, generate() loops) are evaluated together, one native pass
   * for all of them (the weights are read once per pass): `passes` counts those passes,
   * `batchedTokens` the tokens they evaluated, `maxSequencesInPass` the most sequences one pass
   * held and `passSizes[n]` the passes of n sequences. A snapshot; for tests and benchmarks.
   * @example
   * await Promise.all(seqs.map((s) => s.evaluate(prompt)));
   * model.stats.maxSequencesInPass; // seqs.length
   */
  get stats(): BatchStats {
    return this.#scheduler.stats;
  }

  /** All metadata key/values of the GGUF file (long arrays summarised as {type, length}). */
  metadata(): Record<string, unknown> {
    this.#check("metadata");
    return this.#handle.metadata();
  }

  /** Every tensor of the file: name, storage type, ggml shape (ne0 first) and bytes. */
  tensors(): TensorInfo[] {
    this.#check("tensors");
    return this.#handle.tensors();
  }

  /**
   * Text to token ids (byte-level BPE, LLAMA3 pre-tokenizer as llama.cpp does for LFM2).
   * @example model.tokenize("<|im_start|>user\nHi<|im_end|>") // [1, 6, ...]
   */
  tokenize(text: string, options?: TokenizeOptions): number[] {
    this.#check("tokenize");
    if (typeof text !== "string") throw invalidParameterError("text", "string", text);
    const o = checkOptions("options", options, ["addBos", "special"]);
    return this.tokenizer.tokenize(text, {
      addBos: o.addBos === undefined ? true : boolOption("addBos", o.addBos),
      special: o.special === undefined ? true : boolOption("special", o.special),
    });
  }

  /** Token ids to text. Throws ERR_LFM_TOKEN_RANGE for ids outside the vocabulary. */
  detokenize(tokens: readonly number[]): string {
    this.#check("detokenize");
    return this.tokenizer.detokenize(Array.from(tokenArray("tokens", tokens, true)));
  }

  /**
   * A new token stream with its own KV cache and convolution state.
   * @throws {LfmError} ERR_LFM_INVALID_ARG when contextSize is out of [1, contextLength].
   */
  createSequence(options?: SequenceOptions): Sequence {
    this.#check("createSequence");
    const o = checkOptions("options", options, ["contextSize"]);
    const contextSize =
      o.contextSize === undefined
        ? Math.min(DEFAULT_CONTEXT, this.info.contextLength)
        : intOption("contextSize", o.contextSize, 1, this.info.contextLength);
    let handle;
    try {
      handle = this.#handle.createSequence(contextSize);
    } catch (err) {
      throw wrapNativeError(err);
    }
    const seq = new Sequence(this, handle, this.#scheduler, () => this.#sequences.delete(seq));
    this.#sequences.add(seq);
    return seq;
  }

  /**
   * A conversation over a new sequence of this model ({@link ChatSession}): the prompt is the
   * GGUF's chat template (or the built-in LFM2 one), each turn evaluates only new tokens, and
   * tool calls are parsed and answered.
   * @example
   * const chat = model.createChat({ systemPrompt: "You are a helpful assistant." });
   * const { text } = await chat.send("What is C. elegans?", { onText: (t) => process.stdout.write(t) });
   */
  createChat(options?: ChatSessionOptions): ChatSession {
    this.#check("createChat");
    return new ChatSession(this, options);
  }

  /** Frees the model and every sequence created from it. Later calls throw ERR_LFM_DISPOSED. */
  dispose(): void {
    if (this.#disposed) return;
    for (const s of [...this.#sequences]) s.dispose();
    this.#disposed = true;
    this.#handle.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  #check(op: string): void {
    if (this.#disposed) throw new LfmError("ERR_LFM_DISPOSED", `[${op}] the model has been disposed`);
  }
}
