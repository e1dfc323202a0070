// SPDX-License-Identifier: MIT
// Unit tests of lib/tokenizer.ts: LLAMA3 pre-tokenization, BPE merging, special tokens, decoding.

import { describe, expect, it } from "vitest";
import { LfmError } from "../../lib/errors.js";
import { LFM2_SPECIAL_TOKENS, trainBpeVocab } from "../../lib/synthetic/bpe-train.js";
import { BPE_CORPUS } from "../../lib/synthetic/corpus.js";
import {
  BYTE_TO_CHAR, detectEogIds, preTokenizeLlama3, toByteLevel, Tokenizer, TokenType, type TokenizerData,
} from "../../lib/tokenizer.js";

// --- Fixtures ---

/** Hand-made vocabulary: 14 LFM2 specials, bytes at 14 + b, then `extra` tokens from id 270. */
function tinyData(extra: [string, number][], merges: string[], over: Partial<TokenizerData> = {}): TokenizerData {
  const tokens = [...LFM2_SPECIAL_TOKENS, ...BYTE_TO_CHAR, ...extra.map((e) => e[0])];
  const tokenTypes = [
    ...LFM2_SPECIAL_TOKENS.map(() => TokenType.CONTROL),
    ...BYTE_TO_CHAR.map(() => TokenType.NORMAL),
    ...extra.map((e) => e[1]),
  ];
  return { tokens, tokenTypes, merges, bosId: 1, eosId: 7, eogIds: [2, 7], addBos: true, pre: "lfm2", ...over };
}
const B = (ch: string): number => 14 + ch.charCodeAt(0); // id of a single-byte (ASCII) token

const N = TokenType.NORMAL;
const TINY_EXTRA: [string, number][] = [
  ["he", N], // 270
  ["ll", N], // 271
  ["hell", N], // 272
  ["hello", N], // 273
  ["Ġw", N], // 274
  ["or", N], // 275
  ["Ġwor", N], // 276
  ["Ġworld", N], // 277: reachable only through ignore_merges (no "Ġwor l" merge)
  ["aa", N], // 278
  ["bc", N], // 279
  ["ab", N], // 280
  ["ĠĠ", N], // 281
  ["<think>", TokenType.USER_DEFINED], // 282
  ["unused", TokenType.UNUSED], // 283
  ["x→", N], // 284: "→" is not a byte-level character
];
const TINY_MERGES = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "a a", "b c", "a b", "Ġ Ġ"];
const tiny = new Tokenizer(tinyData(TINY_EXTRA, TINY_MERGES));

const trained = trainBpeVocab({ vocabSize: 65536 });
const real = new Tokenizer({
  ...trained, bosId: 1, eosId: 7, eogIds: detectEogIds(trained.tokens, 7), addBos: true, pre: "lfm2",
});

// --- Pre-tokenizer ---

describe("preTokenizeLlama3", () => {
  const cases: [string, string[]][] = [
    ["Hello world", ["Hello", " world"]],
    ["a  b", ["a", " ", " b"]],
    ["a   b    c", ["a", "  ", " b", "   ", " c"]],
    ["   leading", ["  ", " leading"]],
    ["trailing   ", ["trailing", "   "]],
    ["x\n\ny", ["x", "\n\n", "y"]],
    ["x  \n  y", ["x", "  \n", " ", " y"]],
    ["a\r\nb\r\n\r\n", ["a", "\r\n", "b", "\r\n\r\n"]],
    ["end.  \n", ["end", ".", "  \n"]],
    ["tab\tsep\t\tx", ["tab", "\tsep", "\t", "\tx"]],
    ["1234567", ["123", "456", "7"]],
    ["x1234 5", ["x", "123", "4", " ", "5"]],
    ["3.14", ["3", ".", "14"]],
    ["It's they're WE'VE I'm you'LL he'd don't", ["It", "'s", " they", "'re", " WE", "'VE", " I", "'m", " you", "'LL", " he", "'d", " don", "'t"]],
    ["'s 'T 're 'LL", ["'s", " '", "T", " '", "re", " '", "LL"]],
    ["'x ''s", ["'x", " ''", "s"]],
    ["hello!!! world", ["hello", "!!!", " world"]],
    ["a !!\n\nb", ["a", " !!\n\n", "b"]],
    ["café naïve", ["café", " naïve"]],
    ["e\u0301", ["e", "\u0301"]], // combining mark is not \p{L}
    ["日本語のテキスト。", ["日本語のテキスト", "。"]],
    ["hi 😀 👩‍💻!", ["hi", " 😀", " 👩‍💻!"]],
    ["<|im_start|>user", ["<|", "im", "_start", "|>", "user"]],
    ["\u00a0x", ["\u00a0x"]],
    ["!\ufeff", ["!\ufeff"]], // U+FEFF is not whitespace for llama.cpp (it is for JS \s)
    ["!\u0085", ["!", "\u0085"]], // U+0085 is whitespace for llama.cpp (not for JS \s)
    ["", []],
  ];
  it.each(cases)("%j", (text, want) => {
    expect(preTokenizeLlama3(text)).toEqual(want);
  });

  it("pieces always concatenate back to the input", () => {
    const s = "  Mixed: 12345 'Re'LL\r\n\t 😀 é\u0301\n\n  end  ";
    expect(preTokenizeLlama3(s).join("")).toBe(s);
  });
});

describe("byte-level mapping", () => {
  it("follows GPT-2 bytes_to_unicode", () => {
    expect(BYTE_TO_CHAR[0x20]).toBe("Ġ");
    expect(BYTE_TO_CHAR[0x0a]).toBe("Ċ");
    expect(BYTE_TO_CHAR[0x00]).toBe("Ā");
    expect(BYTE_TO_CHAR[0x41]).toBe("A");
    expect(BYTE_TO_CHAR[0xa0]).toBe("ł");
    expect(BYTE_TO_CHAR[0xad]).toBe("Ń");
    expect(BYTE_TO_CHAR[0xe9]).toBe("é");
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(toByteLevel(" é\n")).toBe("ĠÃ©Ċ");
  });
});

// --- BPE ---

describe("BPE merging (hand-made vocabulary)", () => {
  it("applies merges by rank", () => {
    expect(tiny.tokenize("hello", { addBos: false })).toEqual([273]);
    expect(tiny.tokenize("hello hello", { addBos: false })).toEqual([273, B(" "), 273]);
    expect(tiny.tokenize("helo", { addBos: false })).toEqual([270, B("l"), B("o")]);
  });

  it("ignore_merges emits a whole pre-token found in the vocabulary", () => {
    expect(tiny.tokenize(" world", { addBos: false })).toEqual([277]);
    expect(tiny.tokenize(" worlds", { addBos: false })).toEqual([276, B("l"), B("d"), B("s")]);
  });

  it("lower rank wins, ties go to the leftmost pair", () => {
    expect(tiny.tokenize("abc", { addBos: false })).toEqual([B("a"), 279]); // "b c" ranks before "a b"
    expect(tiny.tokenize("aaa", { addBos: false })).toEqual([278, B("a")]);
    expect(tiny.tokenize("aaaa", { addBos: false })).toEqual([278, 278]);
  });

  it("keeps BPE inside pre-tokens: runs of spaces", () => {
    // "a   b" -> "a", "  ", " b": the space run is merged, the last space stays with the word.
    expect(tiny.tokenize("a   b", { addBos: false })).toEqual([B("a"), 281, B(" "), B("b")]);
  });

  it("encodes multi-byte characters as their UTF-8 bytes", () => {
    expect(tiny.tokenize("é", { addBos: false })).toEqual([14 + 0xc3, 14 + 0xa9]);
    expect(tiny.tokenize("😀", { addBos: false })).toEqual([0xf0, 0x9f, 0x98, 0x80].map((b) => 14 + b));
  });

  it("lone surrogates tokenise as U+FFFD", () => {
    expect(tiny.tokenize("\ud800", { addBos: false })).toEqual([0xef, 0xbf, 0xbd].map((b) => 14 + b));
  });
});

// --- Special tokens and BOS ---

describe("special tokens", () => {
  it("control tokens become ids when special=true (default)", () => {
    expect(tiny.tokenize("<|im_start|>hello<|im_end|>")).toEqual([1, 6, 273, 7]);
    expect(tiny.tokenize("hello<|im_end|><|im_end|>", { addBos: false })).toEqual([273, 7, 7]);
  });

  it("control tokens are plain text when special=false", () => {
    const ids = tiny.tokenize("<|im_end|>", { addBos: false, special: false });
    expect(ids).toEqual(Array.from("<|im_end|>", (c) => B(c)));
  });

  it("user-defined tokens are matched even when special=false", () => {
    expect(tiny.tokenize("ab<think>c", { addBos: false, special: false })).toEqual([280, 282, B("c")]);
    expect(tiny.tokenize("<think><think>", { addBos: false })).toEqual([282, 282]);
  });

  it("longest special token wins", () => {
    const data = tinyData([["<|a|>", TokenType.CONTROL], ["<|a|>b", TokenType.CONTROL]], []);
    const t = new Tokenizer(data);
    expect(t.tokenize("<|a|>b<|a|>", { addBos: false })).toEqual([271, 270]);
  });

  it("BOS handling", () => {
    expect(tiny.tokenize("")).toEqual([1]);
    expect(tiny.tokenize("", { addBos: false })).toEqual([]);
    expect(tiny.tokenize("hello", { addBos: true })).toEqual([1, 273]);
    // like llama.cpp, a BOS already in the text is kept: the caller must not render one too
    expect(tiny.tokenize("<|startoftext|>hello")).toEqual([1, 1, 273]);
    const noBos = new Tokenizer(tinyData(TINY_EXTRA, TINY_MERGES, { addBos: false }));
    expect(noBos.tokenize("hello")).toEqual([273]);
    expect(noBos.tokenize("hello", { addBos: true })).toEqual([1, 273]);
  });

  it("real LFM2-style vocabulary: chat prompt", () => {
    const ids = real.tokenize("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    expect(ids[0]).toBe(1);
    expect(ids[1]).toBe(6);
    expect(ids.filter((i) => i === 6)).toHaveLength(2);
    expect(ids.filter((i) => i === 7)).toHaveLength(1);
    expect(real.detokenize(ids)).toBe("<|startoftext|><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    expect(real.detokenize(ids, { special: false })).toBe("user\nHi\nassistant\n");
  });
});

// --- Decoding ---

describe("detokenize", () => {
  it("renders control tokens only when special (default true, like llama.cpp common_detokenize)", () => {
    expect(tiny.detokenize([1, 6, 273, 7])).toBe("<|startoftext|><|im_start|>hello<|im_end|>");
    expect(tiny.detokenize([1, 6, 273, 7], { special: false })).toBe("hello");
  });

  it("user-defined tokens are raw text, unused tokens are empty, unknown characters are marked", () => {
    expect(tiny.detokenize([282], { special: false })).toBe("<think>");
    expect(tiny.detokenize([283])).toBe("");
    expect(tiny.detokenize([284])).toBe("x[UNK_BYTE_0xe28692x→]");
  });

  it("throws ERR_LFM_TOKEN_RANGE for bad ids", () => {
    for (const bad of [-1, tiny.vocabSize, 1.5, Number.NaN]) {
      let err: unknown;
      try {
        tiny.detokenize([bad]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LfmError);
      expect((err as LfmError).code).toBe("ERR_LFM_TOKEN_RANGE");
    }
    expect(() => tiny.createDecoder().push(tiny.vocabSize)).toThrow(LfmError);
  });

  it("invalid UTF-8 becomes U+FFFD and never throws", () => {
    expect(tiny.detokenize([14 + 0xff])).toBe("\ufffd");
    expect(tiny.detokenize([14 + 0xe6, 14 + 0x97])).toBe("\ufffd");
    expect(tiny.detokenize([14 + 0xef, 14 + 0xbb, 14 + 0xbf, B("a")])).toBe("\ufeffa"); // BOM kept
  });

  it("cleanSpaces reproduces llama.cpp's clean-up passes", () => {
    const text = "hello , world . ok ? yes ! it 's ' x ' don 't we 're I 'm you 've he 'll";
    const ids = real.tokenize(text, { addBos: false });
    expect(real.detokenize(ids)).toBe(text);
    expect(real.detokenize(ids, { cleanSpaces: true })).toBe(
      "hello, world. ok? yes! it's'x'don 't we're I'm you've he 'll",
    );
  });
});

describe("round trips on the trained 65536-token vocabulary", () => {
  const texts = [
    "", " ", "a  b", "\n\n\n", " \r\n \t", "It's   THEY'RE\n", "1234567890 3.14",
    "café naïve résumé Łódź", "日本語のテキストです。", "한국어", "👨‍👩‍👧‍👦 🇫🇷 👍🏽 ❤️",
    "<|im_start|>user\nHi<|im_end|>", "<|im_start", "\ufeffBOM", "e\u0301", "\u0000\u0001\u007f",
    "function f(x) {\n    return x * 2;\n}\n",
  ];
  it.each(texts)("%j", (text) => {
    expect(real.detokenize(real.tokenize(text, { addBos: false }))).toBe(text);
    expect(real.detokenize(real.tokenize(text, { addBos: false, special: false }), { special: false })).toBe(text);
  });

  it("random well-formed unicode strings", () => {
    let seed = 42;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 300; i++) {
      let s = "";
      const len = Math.floor(rnd() * 40);
      for (let j = 0; j < len; j++) {
        const r = rnd();
        let cp = r < 0.4 ? 0x20 + Math.floor(rnd() * 0x60) : r < 0.8 ? Math.floor(rnd() * 0x3000) : Math.floor(rnd() * 0x10ffff);
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
        s += String.fromCodePoint(cp);
      }
      expect(real.detokenize(real.tokenize(s, { addBos: false }), { special: true })).toBe(s);
    }
  });

  it("uses the learned merges (fewer tokens than bytes on English text)", () => {
    const text = "The quick brown fox jumps over the lazy dog, and the baker counted the loaves.";
    const ids = real.tokenize(text, { addBos: false });
    expect(ids.length).toBeLessThan(Buffer.byteLength(text) / 3);
  });
});

describe("streaming decoder", () => {
  const samples = ["héllo wörld", "日本語のテキスト", "👨‍👩‍👧‍👦 and 👩‍💻", "mixed: ñ 中 😀 \u{1D538}", "\ufeffstart"];

  it("never emits U+FFFD for valid text split at every byte", () => {
    for (const text of samples) {
      const bytes = Buffer.from(text, "utf8");
      const dec = real.createDecoder();
      let out = "";
      for (let k = 0; k < bytes.length; k++) {
        const piece = dec.push(real.tokenId(BYTE_TO_CHAR[bytes[k]!]!)!);
        expect(piece).not.toContain("\ufffd");
        out += piece;
        // everything emitted so far is exactly the complete characters of bytes[0..k]
        const prefix = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes.subarray(0, k + 1), { stream: true });
        expect(out).toBe(prefix);
        // pending: exactly when bytes[0..k] ends inside a character
        const complete = Buffer.from(prefix, "utf8").length === k + 1;
        expect(dec.pending).toBe(!complete);
      }
      expect(out + dec.flush()).toBe(text);
    }
  });

  it("matches detokenize on real token sequences", () => {
    for (const text of [...samples, "<|im_start|>assistant\nSure! 😀<|im_end|>"]) {
      const ids = real.tokenize(text);
      const dec = real.createDecoder();
      const out = ids.map((t) => dec.push(t)).join("") + dec.flush();
      expect(out).toBe(real.detokenize(ids));
      const dec2 = real.createDecoder({ special: false });
      expect(ids.map((t) => dec2.push(t)).join("") + dec2.flush()).toBe(real.detokenize(ids, { special: false }));
    }
  });

  it("holds back incomplete sequences until flush, then resets", () => {
    const dec = tiny.createDecoder();
    expect(dec.push(14 + 0xe6)).toBe("");
    expect(dec.push(14 + 0x97)).toBe("");
    expect(dec.pending).toBe(true);
    expect(dec.flush()).toBe("\ufffd");
    expect(dec.pending).toBe(false);
    expect(dec.push(B("a"))).toBe("a");
    expect(dec.flush()).toBe("");
  });
});

// --- Misc ---

describe("vocabulary facts", () => {
  it("exposes size, EOG and the pre-tokenizer name", () => {
    expect(real.vocabSize).toBe(65536);
    expect(detectEogIds(trained.tokens, 7)).toEqual([2, 7]);
    expect(real.isEog(7)).toBe(true);
    expect(real.isEog(2)).toBe(true);
    expect(real.isEog(6)).toBe(false);
    expect(real.pre).toBe("lfm2");
    expect(real.preKnown).toBe(true);
    expect(real.tokenText(6)).toBe("<|im_start|>");
    expect(real.tokenType(6)).toBe(TokenType.CONTROL);
    expect(real.tokenId("<|im_end|>")).toBe(7);
  });

  it("an unknown pre-tokenizer name falls back to LLAMA3 rules", () => {
    const other = new Tokenizer({ ...trained, bosId: 1, eosId: 7, eogIds: [2, 7], addBos: true, pre: "mystery" });
    expect(other.pre).toBe("mystery");
    expect(other.preKnown).toBe(false);
    const text = "It's  a test\n\n<|im_end|>";
    expect(other.tokenize(text)).toEqual(real.tokenize(text));
  });

  it("promotes an end marker of type NORMAL to CONTROL, as llama.cpp does", () => {
    const data = tinyData([["<|eot_id|>", N]], []);
    const t = new Tokenizer({ ...data, eogIds: detectEogIds(data.tokens, 7) });
    expect(t.isEog(270)).toBe(true);
    expect(t.tokenType(270)).toBe(TokenType.CONTROL);
    expect(t.tokenize("a<|eot_id|>", { addBos: false })).toEqual([B("a"), 270]);
    expect(t.detokenize([270], { special: false })).toBe("");
  });

  it("tokenizes ~100 KB of text quickly", () => {
    const big = BPE_CORPUS.repeat(Math.ceil(100_000 / BPE_CORPUS.length));
    const t0 = performance.now();
    const ids = real.tokenize(big, { addBos: false });
    const ms = performance.now() - t0;
    expect(real.detokenize(ids)).toBe(big);
    expect(ms).toBeLessThan(2000);
  });
});
