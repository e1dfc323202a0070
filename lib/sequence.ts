// SPDX-License-Identifier: MIT
// Sequence: one token stream (KV cache + conv state) of a model; evaluation and generation.
import { LfmError, wrapNativeError } from "./errors.js";
import type { Model } from "./model.js";
import type { NativeModel, NativeSequence } from "./native.js";
import { createRng, sampleToken, type SamplerOptions } from "./sampling.js";
import type { EvaluateOptions, GenerateOptions, GeneratedToken } from "./types.js";
import { boolOption, checkOptions, intOption, invalidParameterError, numberOption, oneOf, tokenArray } from "./validate.js";

const GENERATE_OPTIONS = ["maxTokens", "temperature", "topK", "topP", "minP", "seed", "stop", "signal", "ignoreEog"];

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
    return this.#disposed ? 0 : this.#handle.length + (this.#pending === undefined ? 0 : 1);
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
    this.#pending = undefined;
    this.#lastLogits = undefined;
  }

  /**
   * Evaluates `tokens` (may be empty to continue the sequence) and generates tokens one at a
   * time. Temperature 0 is greedy. Stops at maxTokens, at an end-of-generation token (not
   * returned), at a stop string (its text is not returned, nor any text after it), or when
   * `signal` aborts. Each step runs off the JavaScript thread.
   *
   * @example
   * for await (const { text } of seq.generate(model.tokenize("Once"), { maxTokens: 20, temperature: 0 })) out += text;
   */
  async *generate(tokens: readonly number[] | Int32Array, options?: GenerateOptions): AsyncGenerator<GeneratedToken, void, undefined> {
    this.#check("generate");
    const prompt = tokenArray("tokens", tokens, true);
    const o = checkOptions("options", options, GENERATE_OPTIONS);
    const sampler: SamplerOptions = {
      temperature: o.temperature === undefined ? 0.8 : numberOption("temperature", o.temperature, 0, 100),
      topK: o.topK === undefined ? 40 : intOption("topK", o.topK, 0),
      topP: o.topP === undefined ? 0.95 : numberOption("topP", o.topP, 0, 1),
      minP: o.minP === undefined ? 0.05 : numberOption("minP", o.minP, 0, 1),
    };
    const maxTokens = o.maxTokens === undefined ? Number.MAX_SAFE_INTEGER : intOption("maxTokens", o.maxTokens, 0);
    const seed = o.seed === undefined ? (Math.random() * 2 ** 32) >>> 0 : intOption("seed", o.seed, 0, 2 ** 32 - 1);
    const stops = parseStops(o.stop);
    const signal = o.signal as AbortSignal | undefined;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidParameterError("signal", "AbortSignal", signal);
    const ignoreEog = o.ignoreEog === undefined ? false : boolOption("ignoreEog", o.ignoreEog);
    const rng = createRng(seed);
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

    const decoder = tok.createDecoder();
    const held: GeneratedToken[] = []; // tokens whose text might still turn into a stop string
    let heldText = "";
    for (let n = 0; n < maxTokens; n++) {
      if (signal?.aborted) break;
      if (this.length >= this.contextSize) break;
      const token = sampleToken(logits, sampler, rng);
      this.#pending = token;
      if (!ignoreEog && tok.isEog(token)) break;
      const text = decoder.push(token);
      held.push({ token, text });
      heldText += text;
      const hit = findStop(heldText, stops);
      if (hit >= 0) {
        yield* releaseUntilStop(held, hit);
        return;
      }
      yield* releaseSafe(held, heldText.length - partialStopLength(heldText, stops));
      heldText = held.map((h) => h.text).join("");
      if (n + 1 < maxTokens && !signal?.aborted) logits = await this.#evaluatePending();
    }
    const rest = decoder.flush();
    if (rest && held.length > 0) held[held.length - 1]!.text += rest;
    yield* held;
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
    if (all && pending !== undefined) out = out.subarray(V);
    this.#lastLogits = all ? out.subarray(out.length - V) : out;
    return out;
  }

  #evaluatePending(): Promise<Float32Array> {
    const caller = new Error();
    return this.#enqueue(() => this.#evaluate(new Int32Array(0), false, caller));
  }
}

/**
 * Counters of a model's evaluation batches ({@link Model.stats}). Every evaluation of a sequence
 * (evaluate() or a generate() step) goes through its model's batch scheduler; sequences
 * evaluating at the same time share native passes.
 */
export interface BatchStats {
  /** Native batch evaluations run (one per scheduler pass; long inputs are split natively into 512-token passes). */
  passes: number;
  /** Tokens evaluated by them, all sequences together. */
  batchedTokens: number;
  /** Most sequences evaluated together in one pass. */
  maxSequencesInPass: number;
  /** passSizes[n]: passes that evaluated n sequences (index 0 unused). */
  passSizes: number[];
}

interface BatchRequest {
  seq: NativeSequence;
  tokens: Int32Array;
  all: boolean;
  resolve: (logits: Float32Array) => void;
  reject: (err: unknown) => void;
}

/** Codes of errors the addon raises before it changes any sequence (safe to retry item by item). */
const PRECHECK_CODES = new Set(["ERR_LFM_TOKEN_RANGE", "ERR_LFM_CONTEXT_OVERFLOW", "ERR_LFM_INVALID_ARG", "ERR_LFM_DISPOSED"]);

/**
 * @internal One per model: gathers the evaluation requests of its sequences into batched native
 * passes (NativeModel.evaluateBatch). At most one pass runs at a time. A request made while no
 * pass runs starts one as soon as the current JavaScript job and its promise callbacks are done
 * (process.nextTick: no timer, so a lone sequence waits for nothing), together with everything
 * queued by then; requests made while a pass runs go into the next pass, which starts once the
 * callbacks of the finished pass have run (the sequences it served have queued their next
 * steps by then). So N concurrent generate() loops settle into passes of N sequences. A pass
 * takes at most one request per sequence, oldest first (a sequence's calls stay in order).
 *
 * Per-call errors: Sequence validates token range and context before submitting, so a bad call
 * fails alone. Should a batch still fail with an error the addon raises before changing any
 * sequence (ERR_LFM_TOKEN_RANGE, _CONTEXT_OVERFLOW, _INVALID_ARG, _DISPOSED), its requests are
 * retried one by one so that each gets its own result or error; other errors reject the batch.
 */
export class BatchScheduler {
  #model: NativeModel;
  #queue: BatchRequest[] = [];
  /** "scheduled": a nextTick will start the next pass; "running": a pass is in the addon. */
  #state: "idle" | "scheduled" | "running" = "idle";
  #stats: BatchStats = { passes: 0, batchedTokens: 0, maxSequencesInPass: 0, passSizes: [0] };

  constructor(model: NativeModel) {
    this.#model = model;
  }

  get stats(): BatchStats {
    return { ...this.#stats, passSizes: [...this.#stats.passSizes] };
  }

  /** Queues an evaluation of `seq`; resolves to its logits. */
  submit(seq: NativeSequence, tokens: Int32Array, all: boolean): Promise<Float32Array> {
    return new Promise<Float32Array>((resolve, reject) => {
      this.#queue.push({ seq, tokens, all, resolve, reject });
      if (this.#state === "idle") this.#schedule();
    });
  }

  /** Rejects the queued (not yet running) requests of `seq` with `err`. */
  cancel(seq: NativeSequence, err: unknown): void {
    const keep: BatchRequest[] = [];
    for (const r of this.#queue) {
      if (r.seq === seq) r.reject(err);
      else keep.push(r);
    }
    this.#queue = keep;
  }

  #schedule(): void {
    this.#state = "scheduled";
    process.nextTick(() => void this.#run());
  }

  async #run(): Promise<void> {
    if (this.#queue.length === 0) {
      this.#state = "idle";
      return;
    }
    const batch: BatchRequest[] = [];
    const rest: BatchRequest[] = [];
    const seen = new Set<NativeSequence>();
    for (const r of this.#queue) {
      if (seen.has(r.seq)) {
        rest.push(r);
      } else {
        seen.add(r.seq);
        batch.push(r);
      }
    }
    this.#queue = rest;
    this.#state = "running";
    try {
      const results = await this.#pass(batch);
      batch.forEach((r, i) => r.resolve(results[i]!));
    } catch (err) {
      const code = (err as { code?: unknown } | undefined)?.code;
      if (batch.length > 1 && typeof code === "string" && PRECHECK_CODES.has(code)) {
        for (const r of batch) {
          try {
            r.resolve((await this.#pass([r]))[0]!);
          } catch (e) {
            r.reject(e);
          }
        }
      } else {
        for (const r of batch) r.reject(err);
      }
    }
    // The callbacks of this pass run before the next tick: the next pass gathers what they queue.
    this.#schedule();
  }

  #pass(batch: BatchRequest[]): Promise<Float32Array[]> {
    const s = this.#stats;
    s.passes++;
    s.maxSequencesInPass = Math.max(s.maxSequencesInPass, batch.length);
    while (s.passSizes.length <= batch.length) s.passSizes.push(0);
    s.passSizes[batch.length]!++;
    for (const r of batch) s.batchedTokens += r.tokens.length;
    try {
      return this.#model.evaluateBatch(batch.map((r) => ({ seq: r.seq, tokens: r.tokens, allLogits: r.all })));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

function parseStops(stop: unknown): string[] {
  if (stop === undefined) return [];
  const list = typeof stop === "string" ? [stop] : stop;
  if (!Array.isArray(list) || list.some((s) => typeof s !== "string" || s.length === 0)) {
    throw invalidParameterError("stop", "a non-empty string or an array of them", stop);
  }
  return list as string[];
}

/** Earliest index where a stop string occurs in `text`, or -1. */
function findStop(text: string, stops: string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
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

/** Yields (and removes from `held`) the tokens whose text ends within the first `safe` chars. */
function* releaseSafe(held: GeneratedToken[], safe: number): Generator<GeneratedToken> {
  let pos = 0;
  while (held.length > 0 && pos + held[0]!.text.length <= safe) {
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
