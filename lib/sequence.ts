// SPDX-License-Identifier: MIT
// Sequence: one token stream (KV cache + conv state) of a model; evaluation, generation,
// checkpoints and state files.
import type { BatchScheduler } from "./batch.js";
import { LfmError, wrapNativeError } from "./errors.js";
import type { Model } from "./model.js";
import type { NativeSequence } from "./native.js";
import { createSampler, GENERATE_DEFAULTS, penaltyTokens, resolveSampling, SAMPLING_OPTIONS } from "./sampling.js";
import { readStateFile, writeStateFile } from "./state-file.js";
import type { EvaluateOptions, GenerateOptions, GeneratedToken, GenerateResult, StopReason } from "./types.js";
import { boolOption, checkOptions, intOption, invalidParameterError, oneOf, tokenArray } from "./validate.js";

const GENERATE_OPTIONS = [...SAMPLING_OPTIONS, "maxTokens", "stop", "signal", "ignoreEog"];

/**
 * The state of a sequence at one length ({@link Sequence.checkpoint}): its convolution state and
 * last logits. The KV cache needs no copy (rows are only ever appended), the convolution state
 * does: it folds in every token and cannot be cut back. Small: (conv layers x 2 x width) floats.
 */
export class SequenceCheckpoint {
  /** Tokens the sequence held. */
  readonly length: number;
  /** @internal */
  readonly owner: Sequence;
  /** @internal */
  readonly tokens: readonly number[];
  /** @internal */
  readonly conv: Float32Array;
  /** @internal */
  readonly logits: Float32Array | undefined;

  /** @internal use {@link Sequence.checkpoint} */
  constructor(owner: Sequence, tokens: readonly number[], conv: Float32Array, logits: Float32Array | undefined) {
    this.owner = owner;
    this.length = tokens.length;
    this.tokens = tokens;
    this.conv = conv;
    this.logits = logits;
  }
}

/**
 * A token stream of a {@link Model}: it owns its KV cache and short-convolution state, so
 * several sequences of one model are independent. Calls on one sequence run in order.
 */
export class Sequence {
  readonly model: Model;
  #handle: NativeSequence;
  #onDispose: () => void;
  #queue: Promise<unknown> = Promise.resolve();
  #busy = 0;
  #disposed = false;
  /** Every token in the sequence: the evaluated ones, then #pending when set. */
  #tokens: number[] = [];
  /** A sampled token not yet evaluated: it is evaluated first by the next call. */
  #pending: number | undefined;
  /** Logits after the last evaluated token (what the next token is sampled from). */
  #lastLogits: Float32Array | undefined;

  #scheduler: BatchScheduler;

  /** @internal use {@link Model.createSequence} */
  constructor(model: Model, handle: NativeSequence, scheduler: BatchScheduler, onDispose: () => void) {
    this.model = model;
    this.#handle = handle;
    this.#scheduler = scheduler;
    this.#onDispose = onDispose;
  }

  /** Tokens in the sequence (evaluated, plus a last generated token not yet evaluated). */
  get length(): number {
    return this.#disposed ? 0 : this.#tokens.length;
  }

  /** Tokens evaluated so far: {@link length} less a last generated token not evaluated yet. */
  get evaluatedLength(): number {
    return this.#disposed ? 0 : this.#tokens.length - (this.#pending === undefined ? 0 : 1);
  }

  /** The tokens in the sequence, oldest first (a copy). */
  get tokens(): number[] {
    return this.#disposed ? [] : [...this.#tokens];
  }

  /** Most tokens the sequence can hold. */
  get contextSize(): number {
    return this.#handle.contextSize;
  }

  /** True after {@link dispose}. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Appends tokens to the sequence and returns logits: for the last token (`logits: "last"`,
   * a Float32Array of vocabSize) or for every token (`"all"`, row-major [tokens.length, vocabSize]).
   * @throws {LfmError} ERR_LFM_TOKEN_RANGE, ERR_LFM_CONTEXT_OVERFLOW, ERR_LFM_DISPOSED, ERR_LFM_INVALID_ARG
   */
  evaluate(tokens: readonly number[] | Int32Array, options?: EvaluateOptions): Promise<Float32Array> {
    const caller = new Error();
    try {
      this.#check("evaluate");
      const ids = tokenArray("tokens", tokens);
      const o = checkOptions("options", options, ["logits"]);
      const mode = o.logits === undefined ? "last" : oneOf("logits", o.logits, ["last", "all"] as const);
      return this.#enqueue(() => this.#evaluate(ids, mode === "all", caller));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Empties the sequence (KV cache and conv state). Throws while an evaluation is running. */
  reset(): void {
    this.#check("reset");
    if (this.#busy > 0) throw new LfmError("ERR_LFM_INVALID_ARG", "[reset] the sequence is busy evaluating");
    try {
      this.#handle.reset();
    } catch (err) {
      throw wrapNativeError(err);
    }
    this.#tokens = [];
    this.#pending = undefined;
    this.#lastLogits = undefined;
  }

  /**
   * Remembers the sequence as it is now (a pending generated token is evaluated first), so that
   * {@link rewind} can come back here later without evaluating these tokens again.
   * @example
   * const cp = await seq.checkpoint();           // after the prompt
   * for await (const t of seq.generate([], { seed: 1 })) ...
   * await seq.rewind(cp);                        // regenerate from the prompt, nothing re-read
   */
  checkpoint(): Promise<SequenceCheckpoint> {
    const caller = new Error();
    try {
      this.#check("checkpoint");
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(async () => {
      if (this.#pending !== undefined) await this.#evaluate(new Int32Array(0), false, caller);
      this.#check("checkpoint");
      try {
        const conv = this.#handle.convState();
        return new SequenceCheckpoint(this, [...this.#tokens], conv, this.#lastLogits?.slice());
      } catch (err) {
        throw wrapNativeError(err, caller);
      }
    });
  }

  /**
   * Cuts the sequence back to a {@link checkpoint} of it: the tokens after it are dropped and the
   * next evaluation or generation continues from there. The checkpoint must come from this
   * sequence and still describe its start (no rewind or reset to before it since).
   * @throws {LfmError} ERR_LFM_INVALID_ARG when the checkpoint does not apply.
   */
  rewind(checkpoint: SequenceCheckpoint): Promise<void> {
    const caller = new Error();
    try {
      this.#check("rewind");
      if (!(checkpoint instanceof SequenceCheckpoint)) throw invalidParameterError("checkpoint", "a SequenceCheckpoint", checkpoint);
      if (checkpoint.owner !== this) throw new LfmError("ERR_LFM_INVALID_ARG", "[rewind] the checkpoint belongs to another sequence");
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(async () => {
      this.#check("rewind");
      const cp = checkpoint;
      if (!startsWith(this.#tokens, cp.tokens)) {
        throw new LfmError("ERR_LFM_INVALID_ARG", `[rewind] the checkpoint (${cp.length} tokens) no longer matches the sequence (${this.#tokens.length} tokens): it was cut back or reset before it since`);
      }
      try {
        this.#handle.rewind(cp.length, cp.conv);
      } catch (err) {
        throw wrapNativeError(err, caller);
      }
      this.#tokens = [...cp.tokens];
      this.#pending = undefined;
      this.#lastLogits = cp.logits?.slice();
    });
  }

  /**
   * Writes the whole state (tokens, KV cache, conv state, last logits) to a file, with optional
   * JSON-serialisable `metadata`; {@link loadState} restores it into a sequence of the same model.
   */
  saveState(path: string, options?: { metadata?: unknown }): Promise<void> {
    const caller = new Error();
    try {
      this.#check("saveState");
      if (typeof path !== "string" || path.length === 0) throw invalidParameterError("path", "a file path string", path);
      checkOptions("options", options, ["metadata"]);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(async () => {
      if (this.#pending !== undefined) await this.#evaluate(new Int32Array(0), false, caller);
      this.#check("saveState");
      let state: ArrayBuffer;
      try {
        state = await this.#handle.exportState();
      } catch (err) {
        throw wrapNativeError(err, caller);
      }
      await writeStateFile(path, { model: this.model.info, tokens: this.#tokens, state, logits: this.#lastLogits, metadata: options?.metadata });
    });
  }

  /**
   * Replaces this sequence's state with one written by {@link saveState} (same model shape);
   * returns the file's metadata.
   * @throws {LfmError} ERR_LFM_FILE_NOT_FOUND, ERR_LFM_MODEL_FORMAT (not a state file, truncated),
   *   ERR_LFM_SHAPE_MISMATCH (another model), ERR_LFM_CONTEXT_OVERFLOW (longer than contextSize).
   */
  loadState(path: string): Promise<unknown> {
    const caller = new Error();
    try {
      this.#check("loadState");
      if (typeof path !== "string" || path.length === 0) throw invalidParameterError("path", "a file path string", path);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(async () => {
      const file = await readStateFile(path, this.model.info);
      this.#check("loadState");
      if (file.tokens.length > this.contextSize) {
        throw new LfmError("ERR_LFM_CONTEXT_OVERFLOW", `[loadState] ${path} holds ${file.tokens.length} tokens, more than the context size ${this.contextSize}`);
      }
      try {
        await this.#handle.importState(file.state);
      } catch (err) {
        throw wrapNativeError(err, caller);
      }
      if (this.#handle.length !== file.tokens.length) {
        throw new LfmError("ERR_LFM_MODEL_FORMAT", `[loadState] ${path}: the state holds ${this.#handle.length} tokens, the header ${file.tokens.length}`);
      }
      this.#tokens = file.tokens;
      this.#pending = undefined;
      this.#lastLogits = file.logits;
      return file.metadata;
    });
  }

  /**
   * Evaluates `tokens` (may be empty to continue the sequence) and generates tokens one at a
   * time, sampled natively ({@link SamplingOptions}). Stops at maxTokens, at an
   * end-of-generation token (not yielded), at a stop string (its text is not yielded, nor any
   * text after it), when the context is full, or when `signal` aborts. Each step runs off the
   * JavaScript thread. The generator's return value ({@link GenerateResult}) says why it ended.
   *
   * @example
   * for await (const { text } of seq.generate(model.tokenize("Once"), { maxTokens: 20, temperature: 0 })) out += text;
   */
  async *generate(tokens: readonly number[] | Int32Array, options?: GenerateOptions): AsyncGenerator<GeneratedToken, GenerateResult, undefined> {
    this.#check("generate");
    const prompt = tokenArray("tokens", tokens, true);
    const o = checkOptions("options", options, GENERATE_OPTIONS);
    const V = this.model.info.vocabSize;
    const settings = resolveSampling(o, GENERATE_DEFAULTS, V);
    const maxTokens = o.maxTokens === undefined ? Number.MAX_SAFE_INTEGER : intOption("maxTokens", o.maxTokens, 0);
    const stops = parseStops(o.stop);
    const signal = o.signal as AbortSignal | undefined;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidParameterError("signal", "AbortSignal", signal);
    const ignoreEog = o.ignoreEog === undefined ? false : boolOption("ignoreEog", o.ignoreEog);
    const tok = this.model.tokenizer;

    let logits: Float32Array;
    if (prompt.length > 0) {
      logits = await this.evaluate(prompt);
    } else if (this.#pending !== undefined) {
      logits = await this.#evaluatePending();
    } else if (this.#lastLogits) {
      logits = this.#lastLogits;
    } else {
      throw new LfmError("ERR_LFM_INVALID_ARG", "[generate] the sequence is empty: give prompt tokens");
    }
    const sampler = createSampler(settings, V, tok, this.#tokens);

    const result: GenerateResult = { stopReason: "maxTokens", tokens: [], seed: settings.seed };
    const end = (reason: StopReason) => (result.stopReason = reason);
    const decoder = tok.createDecoder();
    const held: GeneratedToken[] = []; // tokens whose text might still turn into a stop string
    let heldText = "";
    for (let n = 0; ; n++) {
      if (n >= maxTokens) break;
      if (signal?.aborted) {
        end("abort");
        break;
      }
      if (this.length >= this.contextSize) {
        end("contextFull");
        break;
      }
      let token: number;
      try {
        token = sampler.sample(logits);
      } catch (err) {
        throw wrapNativeError(err);
      }
      this.#pending = token;
      this.#tokens.push(token);
      result.tokens.push(token);
      if (!ignoreEog && tok.isEog(token)) {
        end("eog");
        break;
      }
      if (settings.penaltyLastN > 0) sampler.accept(penaltyTokens([token], tok));
      const text = decoder.push(token);
      held.push({ token, text });
      heldText += text;
      const hit = findStop(heldText, stops);
      if (hit.index >= 0) {
        end("stop");
        result.stop = hit.stop;
        yield* releaseUntilStop(held, hit.index);
        return result;
      }
      yield* releaseSafe(held, heldText.length - partialStopLength(heldText, stops), decoder.pending);
      heldText = held.map((h) => h.text).join("");
      if (n + 1 < maxTokens && !signal?.aborted && this.length < this.contextSize) logits = await this.#evaluatePending();
    }
    // What the decoder still holds (the bytes of an unfinished character: the token that began
    // it is still held) ends the text.
    const rest = decoder.flush();
    if (rest && held.length > 0) held[held.length - 1]!.text += rest;
    // A stop string cannot complete any more: the held text is released, unless it ends in one.
    const tail = held.map((h) => h.text).join("");
    const hit = findStop(tail, stops);
    if (hit.index >= 0) {
      end("stop");
      result.stop = hit.stop;
      yield* releaseUntilStop(held, hit.index);
    } else {
      yield* held;
    }
    return result;
  }

  /** Frees the KV cache and conv state. Later calls throw ERR_LFM_DISPOSED. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    // A request still waiting for a batch is dropped (one already in a native pass finishes).
    this.#scheduler.cancel(this.#handle, new LfmError("ERR_LFM_DISPOSED", "[evaluate] the sequence was disposed while waiting for its batch"));
    this.#handle.dispose();
    this.#onDispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #check(op: string): void {
    if (this.#disposed) throw new LfmError("ERR_LFM_DISPOSED", `[${op}] the sequence has been disposed`);
    if (this.model.disposed) throw new LfmError("ERR_LFM_DISPOSED", `[${op}] the model has been disposed`);
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    this.#busy++;
    // The count drops before callers awaiting `run` resume.
    const run = this.#queue.then(work, work).finally(() => this.#busy--);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Evaluates the pending token (if any) followed by `ids`; returns logits for `ids` only. */
  async #evaluate(ids: Int32Array, all: boolean, caller: Error): Promise<Float32Array> {
    this.#check("evaluate");
    const pending = this.#pending;
    let input = ids;
    if (pending !== undefined) {
      input = new Int32Array(ids.length + 1);
      input[0] = pending;
      input.set(ids, 1);
    }
    if (input.length === 0) throw new LfmError("ERR_LFM_INVALID_ARG", "[evaluate] no tokens to evaluate");
    // The native checks, made here so that a bad call fails alone instead of failing the batch
    // it would join (same messages as the addon's).
    const V = this.model.info.vocabSize;
    for (let i = 0; i < input.length; i++) {
      if (input[i]! >= V) {
        throw new LfmError("ERR_LFM_TOKEN_RANGE", `[evaluate] token id ${input[i]} at index ${i} is out of range (vocabulary has ${V} tokens)`);
      }
    }
    const past = this.#handle.length;
    if (past + input.length > this.contextSize) {
      throw new LfmError(
        "ERR_LFM_CONTEXT_OVERFLOW",
        `[evaluate] context overflow: ${past} tokens in the sequence + ${input.length} new exceed the context size ${this.contextSize}`,
      );
    }
    let out: Float32Array;
    try {
      out = await this.#scheduler.submit(this.#handle, input, all);
    } catch (err) {
      throw wrapNativeError(err, caller);
    }
    this.#pending = undefined;
    for (const t of ids) this.#tokens.push(t);
    if (all && pending !== undefined) out = out.subarray(V);
    this.#lastLogits = all ? out.subarray(out.length - V) : out;
    return out;
  }

  #evaluatePending(): Promise<Float32Array> {
    const caller = new Error();
    return this.#enqueue(() => this.#evaluate(new Int32Array(0), false, caller));
  }
}

function startsWith(tokens: readonly number[], prefix: readonly number[]): boolean {
  if (prefix.length > tokens.length) return false;
  for (let i = 0; i < prefix.length; i++) if (tokens[i] !== prefix[i]) return false;
  return true;
}

function parseStops(stop: unknown): string[] {
  if (stop === undefined) return [];
  const list = typeof stop === "string" ? [stop] : stop;
  if (!Array.isArray(list) || list.some((s) => typeof s !== "string" || s.length === 0)) {
    throw invalidParameterError("stop", "a non-empty string or an array of them", stop);
  }
  return list as string[];
}

/** The earliest stop string in `text` and where it starts (index -1: none). */
function findStop(text: string, stops: string[]): { index: number; stop?: string } {
  let best: { index: number; stop?: string } = { index: -1 };
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best.index < 0 || i < best.index)) best = { index: i, stop: s };
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop string. */
function partialStopLength(text: string, stops: string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > best; k--) {
      if (text.endsWith(s.slice(0, k))) {
        best = k;
        break;
      }
    }
  }
  return best;
}

/**
 * Yields (and removes from `held`) the tokens whose text ends within the first `safe` chars,
 * except the last one while `keepLast` (the decoder holds the start of a character it began:
 * that token gets the character's text, or U+FFFD when generation ends first).
 */
function* releaseSafe(held: GeneratedToken[], safe: number, keepLast: boolean): Generator<GeneratedToken> {
  let left = keepLast ? held.length - 1 : held.length;
  let pos = 0;
  while (left > 0 && pos + held[0]!.text.length <= safe) {
    left--;
    pos += held[0]!.text.length;
    yield held.shift()!;
  }
}

/** Yields the tokens before a stop string found at `hit`; the token it starts in keeps only its text before it. */
function* releaseUntilStop(held: GeneratedToken[], hit: number): Generator<GeneratedToken> {
  let pos = 0;
  for (const h of held) {
    if (pos + h.text.length <= hit) {
      yield h;
    } else {
      if (hit > pos) yield { token: h.token, text: h.text.slice(0, hit - pos) };
      return;
    }
    pos += h.text.length;
  }
}
