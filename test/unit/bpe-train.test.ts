// SPDX-License-Identifier: MIT
// Unit tests of lib/synthetic/bpe-train.ts: layout, real merges, determinism, speed.

import { describe, expect, it } from "vitest";
import { LfmError } from "../../lib/errors.js";
import { LFM2_SPECIAL_TOKENS, MIN_BPE_VOCAB, trainBpeVocab } from "../../lib/synthetic/bpe-train.js";
import { BPE_CORPUS } from "../../lib/synthetic/corpus.js";
import { BYTE_TO_CHAR, preTokenizeLlama3, TokenType } from "../../lib/tokenizer.js";

const t0 = performance.now();
const big = trainBpeVocab({ vocabSize: 65536 });
const bigMs = performance.now() - t0;

const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
const bytesOf = (tok: string): Uint8Array => Uint8Array.from(Array.from(tok, (c) => CHAR_TO_BYTE.get(c)!));

describe("trainBpeVocab layout", () => {
  it("ids 0..13 are the LFM2 control tokens", () => {
    expect(LFM2_SPECIAL_TOKENS).toEqual([
      "<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|fim_pre|>", "<|fim_mid|>", "<|fim_suf|>",
      "<|im_start|>", "<|im_end|>", "<|tool_list_start|>", "<|tool_list_end|>", "<|tool_call_start|>",
      "<|tool_call_end|>", "<|tool_response_start|>", "<|tool_response_end|>",
    ]);
    expect(big.tokens.slice(0, 14)).toEqual(LFM2_SPECIAL_TOKENS);
    expect(big.tokenTypes.slice(0, 14).every((t) => t === TokenType.CONTROL)).toBe(true);
  });

  it("then 4 reserved controls and the 256 byte symbols in byte order", () => {
    expect(big.tokens.slice(14, 18)).toEqual(["<|reserved_0|>", "<|reserved_1|>", "<|reserved_2|>", "<|reserved_3|>"]);
    expect(big.tokens.slice(18, 274)).toEqual(BYTE_TO_CHAR);
    expect(big.tokens[18 + 0x20]).toBe("Ġ");
    expect(big.tokenTypes.slice(18, 274).every((t) => t === TokenType.NORMAL)).toBe(true);
    expect(MIN_BPE_VOCAB).toBe(274);
  });

  it("has exactly vocabSize unique tokens for any size", () => {
    for (const n of [274, 275, 300, 1000, 5000, 64399, 64400, 65536]) {
      const v = n === 65536 ? big : trainBpeVocab({ vocabSize: n });
      expect(v.tokens).toHaveLength(n);
      expect(v.tokenTypes).toHaveLength(n);
      expect(new Set(v.tokens).size).toBe(n);
    }
  });

  it("learns up to 4000 merges and pads with reserved control tokens", () => {
    expect(big.merges.length).toBeGreaterThan(2000);
    expect(big.merges.length).toBeLessThanOrEqual(4000);
    const firstPad = big.tokens.findIndex((t, i) => i >= 274 && t.startsWith("<|reserved_"));
    expect(firstPad).toBeGreaterThan(2000);
    expect(big.tokens.slice(firstPad).every((t) => t.startsWith("<|"))).toBe(true);
    expect(big.tokenTypes.slice(firstPad).every((t) => t === TokenType.CONTROL)).toBe(true);
    expect(big.tokens[firstPad]).toBe("<|reserved_4|>");
  });

  it("puts <|cot_start|>... at 64394..64399 only when the vocabulary reaches that far", () => {
    expect(big.tokens.slice(64394, 64400)).toEqual([
      "<|cot_start|>", "<|cot_end|>", "<|review_start|>", "<|review_end|>", "<|file_start|>", "<|file_end|>",
    ]);
    expect(trainBpeVocab({ vocabSize: 5000 }).tokens).not.toContain("<|cot_start|>");
  });

  it("a small vocabulary stops merging when full", () => {
    const v = trainBpeVocab({ vocabSize: 300 });
    expect(v.tokens.slice(274).every((t) => !t.startsWith("<|"))).toBe(true);
    expect(v.merges.length).toBeGreaterThanOrEqual(26);
    expect(trainBpeVocab({ vocabSize: 274 }).merges).toEqual([]);
  });

  it("rejects sizes outside [274, 65536]", () => {
    for (const n of [0, 273, 65537, 1000.5]) {
      expect(() => trainBpeVocab({ vocabSize: n })).toThrow(LfmError);
    }
    try {
      trainBpeVocab({ vocabSize: 10 });
    } catch (e) {
      expect((e as LfmError).code).toBe("ERR_LFM_INVALID_ARG");
    }
  });
});

describe("trainBpeVocab merges", () => {
  it("are GGUF 'A B' strings of existing tokens whose concatenation is a token", () => {
    const index = new Map(big.tokens.map((t, i) => [t, i]));
    for (const [rank, m] of big.merges.entries()) {
      const parts = m.split(" ");
      expect(parts, m).toHaveLength(2);
      const [a, b] = parts as [string, string];
      expect(index.has(a) && index.has(b), m).toBe(true);
      const id = index.get(a + b);
      expect(id, m).toBeDefined();
      expect(big.tokenTypes[id!]).toBe(TokenType.NORMAL);
      // a merged token never precedes the tokens it is made of
      expect(id!).toBeGreaterThan(Math.max(index.get(a)!, index.get(b)!));
      if (rank > 0) expect(big.merges[rank - 1]).not.toBe(m);
    }
  });

  it("start with the most frequent pairs of the corpus", () => {
    // English text: "t h", "i n", "e r" and "Ġ a"-style pairs dominate the first merges.
    // "t h" leads; "i n" and "e r" are close and their order depends on the seeded extra text.
    expect(big.merges[0]).toBe("t h");
    expect([...big.merges.slice(1, 3)].sort()).toEqual(["e r", "i n"]);
    expect(big.merges).toContain("Ġ t");
    expect(big.merges).toContain("Ċ Ċ");
  });

  it("never cross LLAMA3 pre-token boundaries", () => {
    const utf8 = new TextDecoder("utf-8", { fatal: true });
    let checked = 0;
    for (let id = 274; id < big.tokens.length; id++) {
      if (big.tokenTypes[id] !== TokenType.NORMAL) continue;
      let text: string;
      try {
        text = utf8.decode(bytesOf(big.tokens[id]!));
      } catch {
        continue; // part of a multi-byte character
      }
      expect(preTokenizeLlama3(text), JSON.stringify(text)).toHaveLength(1);
      checked++;
    }
    expect(checked).toBeGreaterThan(1500);
  });

  it("cover the corpus' scripts: words, spaces, digits, CJK and emoji bytes", () => {
    const texts = new Set(big.tokens);
    for (const t of ["Ġthe", "ĠĠĠ", "ĠĠĠĠ", "12", "000", "ĊĊ", "'s"]) expect(texts.has(t), t).toBe(true);
    expect(big.tokens.some((t) => t.startsWith("æĹ"))).toBe(true); // 日 = e6 97 a5
    expect(big.tokens.some((t) => t.startsWith("ðŁ"))).toBe(true); // emoji lead bytes f0 9f
    expect(BPE_CORPUS.length).toBeGreaterThan(3000);
  });
});

describe("trainBpeVocab determinism and speed", () => {
  it("is deterministic; the seed changes the learned merges", () => {
    const a = trainBpeVocab({ vocabSize: 3000 });
    const b = trainBpeVocab({ vocabSize: 3000 });
    expect(b).toEqual(a);
    expect(trainBpeVocab({ vocabSize: 3000, seed: 0 })).toEqual(a);
    const c = trainBpeVocab({ vocabSize: 3000, seed: 1 });
    expect(c.merges).not.toEqual(a.merges);
    expect(c.tokens.slice(0, 274)).toEqual(a.tokens.slice(0, 274));
  });

  it("accepts a custom corpus", () => {
    const v = trainBpeVocab({ vocabSize: 400, corpus: "abab abab abab", seed: 3 });
    expect(v.merges[0]).toBe("a b");
  });

  it("trains a 65536-token vocabulary in under 2 s", () => {
    expect(bigMs).toBeLessThan(2000);
  });
});
