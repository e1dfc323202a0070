// The float64 reference of the native sampler (native/core/sampler.h), written from its stated
// semantics for readability, not speed: every step over a plain copy of the row, a full sort.
import { createRng } from "../../lib/util/random.js";

export interface ReferenceSamplingOptions {
  /** <= 0: greedy. */
  temperature: number;
  /** 0 = all. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off. */
  minP: number;
  repeatPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  logitBias?: { ids: ArrayLike<number>; values: ArrayLike<number> } | undefined;
}

/** Thrown when bias bans every token (the native sampler's ERR_LFM_INVALID_ARG). */
export class AllBannedError extends Error {}

/**
 * Picks a token from `logits` as the native sampler does, with `window` the tokens of its
 * penalty window and `rng` its random stream (called once, by non-greedy picks only).
 */
export function sampleReference(
  logits: ArrayLike<number>,
  opts: ReferenceSamplingOptions,
  rng: () => number,
  window: readonly number[] = [],
): number {
  const x = Float64Array.from(logits);
  // 1. Logit bias.
  const bias = opts.logitBias;
  if (bias) for (let i = 0; i < bias.ids.length; i++) x[bias.ids[i]!]! += bias.values[i]!;
  // 2. Penalties on each distinct token of the window, with its count c.
  const counts = new Map<number, number>();
  for (const t of window) counts.set(t, (counts.get(t) ?? 0) + 1);
  const rp = opts.repeatPenalty ?? 1, fp = opts.frequencyPenalty ?? 0, pp = opts.presencePenalty ?? 0;
  for (const [t, c] of counts) {
    x[t] = x[t]! <= 0 ? x[t]! * rp : x[t]! / rp;
    x[t] = x[t]! - (c * fp + pp);
  }
  // 3. Banned tokens (-Infinity) are never picked.
  const allowed: number[] = [];
  for (let i = 0; i < x.length; i++) if (x[i]! > -Infinity) allowed.push(i);
  if (allowed.length === 0) throw new AllBannedError("every token is banned by logitBias");
  // Candidates by logit, descending, lower id first on ties.
  allowed.sort((a, b) => (x[a]! > x[b]! ? -1 : x[a]! < x[b]! ? 1 : a - b));
  if (opts.temperature <= 0) return allowed[0]!;
  const cand = opts.topK > 0 ? allowed.slice(0, opts.topK) : allowed;
  // Softmax at the temperature relative to the largest logit.
  const max = x[cand[0]!]!;
  const probs = cand.map((t) => Math.exp((x[t]! - max) / opts.temperature));
  let sum = 0;
  for (const p of probs) sum += p;
  let n = cand.length;
  // top-p: the smallest prefix whose cumulative probability reaches topP.
  if (opts.topP < 1) {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += probs[i]! / sum;
      if (acc >= opts.topP) {
        n = i + 1;
        break;
      }
    }
  }
  // min-p: at least minP times the top candidate's probability.
  if (opts.minP > 0) {
    const floor = opts.minP * probs[0]!;
    let m = 1;
    while (m < n && probs[m]! >= floor) m++;
    n = m;
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += probs[i]!;
  let r = rng() * total;
  for (let i = 0; i < n; i++) {
    r -= probs[i]!;
    if (r < 0) return cand[i]!;
  }
  return cand[n - 1]!;
}

/** The stateful counterpart of NativeSampler: penalty window and seeded random stream. */
export class ReferenceSampler {
  readonly #opts: ReferenceSamplingOptions & { penaltyLastN: number };
  readonly #rng: () => number;
  #window: number[] = [];

  constructor(opts: ReferenceSamplingOptions & { penaltyLastN: number; seed: number }) {
    this.#opts = opts;
    this.#rng = createRng(opts.seed);
  }

  sample(logits: ArrayLike<number>): number {
    return sampleReference(logits, this.#opts, this.#rng, this.#window);
  }

  accept(tokens: ArrayLike<number>): void {
    const n = this.#opts.penaltyLastN;
    this.#window = n > 0 ? [...this.#window, ...Array.from(tokens)].slice(-n) : [];
  }

  clearHistory(): void {
    this.#window = [];
  }
}
