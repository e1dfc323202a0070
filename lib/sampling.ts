// SPDX-License-Identifier: MIT
// Token sampling over a logits row: greedy, or temperature -> top-k -> top-p -> min-p -> draw.
import { MinHeap } from "./util/heap.js";

export { createRng } from "./util/random.js";

export interface SamplerOptions {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep the k most likely tokens; 0 = no limit. */
  topK: number;
  /** Keep the smallest set of tokens whose probability sums to at least topP; 1 = no limit. */
  topP: number;
  /** Drop tokens whose probability is below minP times the most likely one; 0 = no limit. */
  minP: number;
}

/** Index of the largest logit (the lowest index on ties). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  let bestValue = logits[0]!;
  for (let i = 1; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** Indices of the k largest values, largest first (ties: lower index first). */
function topKIndices(logits: Float32Array, k: number): number[] {
  if (k >= logits.length) {
    return Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
  }
  // Min-heap of size k over (value, index): O(V log k). The root is the weakest kept token.
  const less = (i: number, j: number) => logits[i]! < logits[j]! || (logits[i] === logits[j] && i > j);
  const heap = new MinHeap<number>(less);
  for (let i = 0; i < logits.length; i++) {
    if (heap.size < k) heap.push(i);
    else if (less(heap.peek()!, i)) heap.replaceTop(i);
  }
  return heap.items.sort((a, b) => logits[b]! - logits[a]! || a - b);
}

/** Picks the next token from one logits row. */
export function sampleToken(logits: Float32Array, opts: SamplerOptions, rng: () => number): number {
  if (opts.temperature <= 0) return argmax(logits);
  const k = opts.topK > 0 ? Math.min(opts.topK, logits.length) : logits.length;
  const cand = topKIndices(logits, k);
  // Softmax over the candidates at the given temperature (candidates are sorted descending).
  const maxLogit = logits[cand[0]!]!;
  const probs = new Float64Array(cand.length);
  let sum = 0;
  for (let i = 0; i < cand.length; i++) {
    probs[i] = Math.exp((logits[cand[i]!]! - maxLogit) / opts.temperature);
    sum += probs[i]!;
  }
  let n = cand.length;
  // top-p: the smallest prefix reaching topP of the mass.
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
  // min-p: relative to the most likely candidate (probs[0] is the largest, = 1 before scaling).
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
