// SPDX-License-Identifier: MIT
// The per-model batch scheduler: concurrent evaluations of a model's sequences share native passes.
import type { NativeModel, NativeSequence } from "./native.js";

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
