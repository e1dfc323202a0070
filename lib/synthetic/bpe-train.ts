// SPDX-License-Identifier: MIT
// Trains a small but real byte-level BPE vocabulary laid out like LFM2's (control tokens, byte
// symbols, learned merges, reserved padding) for synthetic test and benchmark models.

import { MinHeap } from "../util/heap.js";
import { createRng } from "../util/random.js";
import { lfmError } from "../errors.js";
import { BYTE_TO_CHAR, preTokenizeLlama3, toByteLevel, TokenType } from "../tokenizer.js";
import { BPE_CORPUS } from "./corpus.js";

/** A vocabulary in GGUF form (`tokenizer.ggml.tokens`, `.token_type`, `.merges`). */
export interface BpeVocab {
  tokens: string[];
  tokenTypes: number[];
  merges: string[];
}

/** LFM2 control tokens, ids 0..13 (LiquidAI/LFM2-Tokenizer). */
export const LFM2_SPECIAL_TOKENS: readonly string[] = Object.freeze([
  "<|pad|>",
  "<|startoftext|>",
  "<|endoftext|>",
  "<|fim_pre|>",
  "<|fim_mid|>",
  "<|fim_suf|>",
  "<|im_start|>",
  "<|im_end|>",
  "<|tool_list_start|>",
  "<|tool_list_end|>",
  "<|tool_call_start|>",
  "<|tool_call_end|>",
  "<|tool_response_start|>",
  "<|tool_response_end|>",
]);

/** Control tokens LFM2 keeps at ids 64394..64399; placed there only when the vocabulary reaches. */
const LFM2_HIGH_SPECIALS = [
  "<|cot_start|>", "<|cot_end|>", "<|review_start|>", "<|review_end|>", "<|file_start|>", "<|file_end|>",
];
const HIGH_SPECIALS_AT = 64394;
/** `<|reserved_N|>` tokens right after the 14 specials, as in the real vocabulary. */
const N_LOW_RESERVED = 4;
/** Learned merges are capped so that training a 65536-token vocabulary stays well under a second. */
const MAX_MERGES = 4000;
const MAX_VOCAB = 65536;
/** Smallest vocabulary: specials, low reserved tokens and the 256 byte symbols. */
export const MIN_BPE_VOCAB = LFM2_SPECIAL_TOKENS.length + N_LOW_RESERVED + 256;

// --- Deterministic extra text from the seed ---


/** Pseudo-words recombined from corpus fragments, so different seeds learn different merges. */
function seededText(words: string[], seed: number): string {
  const rnd = createRng(seed ^ 0x9e3779b9);
  const pick = (): string => words[Math.floor(rnd() * words.length)]!.trim();
  const out: string[] = [];
  for (let i = 0; i < 2500; i++) {
    const r = rnd();
    if (r < 0.6) out.push(" " + pick() + pick());
    else if (r < 0.8) out.push(" " + pick());
    else out.push(String(Math.floor(rnd() * 100000)));
  }
  return out.join("");
}

// --- Training ---

/** Order of the pair queue: count descending, then pair key ascending (lazy deletion). */
function pairBefore(a: [number, number], b: [number, number]): boolean {
  return a[0] > b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/**
 * Builds an LFM2-style byte-level BPE vocabulary by training merges on a corpus pre-tokenised with
 * the LLAMA3 pre-tokenizer (so no merge crosses a pre-token boundary).
 *
 * Layout: ids 0..13 LFM2 control tokens; 4 `<|reserved_N|>` controls; the 256 byte symbols in
 * byte order (NORMAL); learned tokens (NORMAL, at most 4000); `<|cot_start|>`... at 64394..64399
 * when `vocabSize >= 64400`; the rest `<|reserved_N|>` controls. Deterministic for given options.
 *
 * @param opts.vocabSize - total tokens, 274..65536.
 * @param opts.corpus - training text (default: the built-in {@link BPE_CORPUS}).
 * @param opts.seed - mixes seeded pseudo-words into the corpus (default 0).
 * @throws LfmError ERR_LFM_INVALID_ARG when vocabSize is out of range.
 * @example
 * const v = trainBpeVocab({ vocabSize: 65536 }); // v.tokens[7] === "<|im_end|>"
 */
export function trainBpeVocab(opts: { vocabSize: number; corpus?: string; seed?: number }): BpeVocab {
  const { vocabSize } = opts;
  if (!Number.isInteger(vocabSize) || vocabSize < MIN_BPE_VOCAB || vocabSize > MAX_VOCAB) {
    throw lfmError("ERR_LFM_INVALID_ARG", `[trainBpeVocab] vocabSize must be an integer in [${MIN_BPE_VOCAB}, ${MAX_VOCAB}], got ${vocabSize}`);
  }
  const tokens: string[] = [];
  const tokenTypes: number[] = [];
  const merges: string[] = [];
  let nReserved = 0;
  const addReserved = (): void => {
    tokens.push(`<|reserved_${nReserved++}|>`);
    tokenTypes.push(TokenType.CONTROL);
  };
  for (const s of LFM2_SPECIAL_TOKENS) {
    tokens.push(s);
    tokenTypes.push(TokenType.CONTROL);
  }
  for (let i = 0; i < N_LOW_RESERVED; i++) addReserved();
  const idOf = new Map<string, number>();
  for (let b = 0; b < 256; b++) {
    idOf.set(BYTE_TO_CHAR[b]!, tokens.length);
    tokens.push(BYTE_TO_CHAR[b]!);
    tokenTypes.push(TokenType.NORMAL);
  }

  const highSpecials = vocabSize >= HIGH_SPECIALS_AT + LFM2_HIGH_SPECIALS.length;
  const room = (highSpecials ? HIGH_SPECIALS_AT : vocabSize) - tokens.length;
  const maxMerges = Math.min(MAX_MERGES, room);

  // Word frequencies over byte-level pre-tokens.
  const corpus = opts.corpus ?? BPE_CORPUS;
  const pre = preTokenizeLlama3(corpus);
  const text = corpus + seededText(pre.filter((w) => /\p{L}/u.test(w)), opts.seed ?? 0);
  const freq = new Map<string, number>();
  for (const w of preTokenizeLlama3(text)) {
    const bl = toByteLevel(w);
    freq.set(bl, (freq.get(bl) ?? 0) + 1);
  }
  const wordKeys = [...freq.keys()].sort(); // fixed order, independent of Map insertion
  const words: number[][] = wordKeys.map((w) => Array.from(w, (ch) => idOf.get(ch)!));
  const counts = wordKeys.map((w) => freq.get(w)!);

  const KEY = 65536;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const heap = new MinHeap<[number, number]>(pairBefore);
  const bump = (key: number, wi: number, delta: number): void => {
    const c = (pairCount.get(key) ?? 0) + delta;
    pairCount.set(key, c);
    if (delta > 0) {
      let s = pairWords.get(key);
      if (!s) pairWords.set(key, (s = new Set()));
      s.add(wi);
    }
    if (c > 0) heap.push([c, key]);
  };
  const addPairs = (wi: number, sign: number): void => {
    const w = words[wi]!;
    for (let i = 0; i + 1 < w.length; i++) bump(w[i]! * KEY + w[i + 1]!, wi, sign * counts[wi]!);
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  while (merges.length < maxMerges && heap.size > 0) {
    const [c, key] = heap.pop();
    if (pairCount.get(key) !== c) continue; // stale heap entry
    const a = Math.floor(key / KEY);
    const b = key % KEY;
    const merged = tokens[a]! + tokens[b]!;
    let id = idOf.get(merged);
    if (id === undefined) {
      id = tokens.length;
      idOf.set(merged, id);
      tokens.push(merged);
      tokenTypes.push(TokenType.NORMAL);
    }
    merges.push(`${tokens[a]} ${tokens[b]}`);
    for (const wi of [...pairWords.get(key)!].sort((x, y) => x - y)) {
      const w = words[wi]!;
      addPairs(wi, -1);
      const nw: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          nw.push(id);
          i++;
        } else {
          nw.push(w[i]!);
        }
      }
      words[wi] = nw;
      addPairs(wi, 1);
    }
    pairWords.delete(key);
    // A merge can reuse an existing string, so the vocabulary may grow by less than one per merge.
    if (tokens.length >= (highSpecials ? HIGH_SPECIALS_AT : vocabSize)) break;
  }

  while (tokens.length < vocabSize) {
    if (highSpecials && tokens.length === HIGH_SPECIALS_AT) {
      for (const s of LFM2_HIGH_SPECIALS) {
        tokens.push(s);
        tokenTypes.push(TokenType.CONTROL);
      }
    } else {
      addReserved();
    }
  }
  return { tokens, tokenTypes, merges };
}
