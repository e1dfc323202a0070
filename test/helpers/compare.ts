// Comparing logits rows: relative error measures used by the model tests.

/** max_i |a_i - b_i| / max_i |b_i| over one row (b is the reference). */
export function rowRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < b.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    maxRef = Math.max(maxRef, Math.abs(b[i]!));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

/** Splits a row-major [n, V] Float32Array into rows. */
export function rows(flat: Float32Array, V: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < flat.length; i += V) out.push(flat.subarray(i, i + V));
  return out;
}

/** Largest rowRelError over paired rows. */
export function maxRelError(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  if (a.length !== b.length) throw new Error(`row count ${a.length} != ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, rowRelError(a[i]!, b[i]!));
  return worst;
}

export function argmaxOf(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** A deterministic prompt of token ids in [lo, hi). */
export function promptTokens(n: number, vocab: number, seed = 7, lo = 14): number[] {
  const out = [1];
  let s = seed >>> 0;
  for (let i = 1; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(lo + (s % (vocab - lo)));
  }
  return out;
}
