// SPDX-License-Identifier: MIT
// Parity of lib/tokenizer.ts with llama.cpp (through node-llama-cpp, vocab-only GGUF) on tricky text.

import { createRng } from "../../lib/util/random.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Llama, LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainBpeVocab, type BpeVocab } from "../../lib/synthetic/bpe-train.js";
import { detectEogIds, Tokenizer, TokenType } from "../../lib/tokenizer.js";
import { writeVocabGguf } from "../helpers/vocab-gguf.js";

// --- Text under test ---

const TRICKY: string[] = [
  "Hello world",
  "a  b",
  "a   b    c",
  "   leading spaces",
  "trailing spaces   ",
  " ",
  "  ",
  "\n",
  "\n\n\n",
  "line one\nline two\n\nline four",
  "spaces before newline   \nnext",
  "windows\r\nline\r\n\r\nendings",
  "\r\r\n\n\r",
  "tab\tseparated\t\tvalues\t",
  " \t \n \t x",
  "1 12 123 1234 12345 1234567890",
  "3.14159, 2.71828; 1,000,000",
  "٣٤٥ ๑๒๓ ⅷ ½ ²³",
  "It's they're we've I'm you'll he'd don't",
  "IT'S THEY'RE WE'VE I'M YOU'LL HE'D DON'T",
  "'s 'T 're 'LL 'x '' 'sx",
  "rock 'n' roll, 'quoted'",
  "café naïve résumé São Paulo Łódź",
  "e\u0301 combining acute, n\u0303",
  "日本語のテキストです。",
  "中文分词器测试，你好世界！",
  "한국어 문장입니다",
  "Русский текст и ελληνικά",
  "emoji 😀 🎉 🚀",
  "family 👨‍👩‍👧‍👦 and coder 👩‍💻",
  "flags 🇫🇷🇯🇵 skin 👍🏽 heart ❤️",
  "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
  "<|startoftext|><|im_start|>system\nYou are helpful.<|im_end|>",
  "text<|im_end|>more<|endoftext|>",
  "<|im_start|><|im_start|>",
  "<|im_start",
  "<|tool_call_start|>[get_weather(city=\"Paris\")]<|tool_call_end|>",
  "List of tools: <|tool_list_start|>[{\"name\": \"f\"}]<|tool_list_end|>",
  "<|reserved_2|> and <|reserved_99|>",
  "<|cot_start|>think<|cot_end|>",
  "function add(a, b) {\n  return a + b;\n}\n",
  "    indented = 4 spaces\n\tand a tab",
  "if (x !== y) { console.log(`x=${x}`); }",
  "https://example.com/a?b=c&d=e#f user@example.org",
  "!!! ??? ... --- ***",
  " !!!\n\n",
  "a!\r\n\r\nb",
  "The quick brown fox jumps over the lazy dog.",
  "Tokenizers split text into pieces.",
  "hello , world . what ? yes ! it 's ' x ' don 't we 're I 'm you 've",
  "\u00a0non-breaking\u00a0space and\u3000ideographic space",
  "nel\u0085next line, zwsp\u200bhere, bom\ufeffthere",
  "\u2028line sep\u2029para sep",
  "\u0000nul\u0001soh\u007fdel",
  "private \ue000 use, unassigned \u0378, noncharacter \ufffe",
  "math 𝔸𝔹ℂ 𝟙𝟚𝟛, music 𝄞",
  "Ærø Øresund Åland ß ẞ ﬁ",
  "x".repeat(300),
  "ab ".repeat(100),
];


/** Random strings biased to the characters the pre-tokenizer treats specially. */
function randomText(rnd: () => number, len: number): string {
  const pools = [
    " ", "  ", "\n", "\r\n", "\t", "'", "'s", "'RE", "a", "Z", "é", "ß", "7", "42", "١", "½", "!", ".", ",",
    "😀", "👩‍💻", "日", "本", "한", "\u00a0", "\u3000", "\u0085", "<|im_end|>", "<|im_start|>", "<|", "|>",
    "the", " the", "ing", "\ufeff", "\u0301", "𝔸",
  ];
  let s = "";
  while (s.length < len) {
    if (rnd() < 0.3) s += String.fromCodePoint(0x20 + Math.floor(rnd() * 0x2fe0));
    else s += pools[Math.floor(rnd() * pools.length)];
  }
  return s;
}

// --- llama.cpp side ---

let llama: Llama | undefined;
let loadError: unknown;
const dir = mkdtempSync(join(tmpdir(), "lfm2-tok-"));

beforeAll(async () => {
  try {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    // "fatal": node-llama-cpp's memory estimate tries a full load first and logs the missing tensors.
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.fatal });
  } catch (err) {
    loadError = err;
  }
});

afterAll(async () => {
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function load(name: string, vocab: BpeVocab): Promise<{ ref: LlamaModel; ours: Tokenizer }> {
  const path = join(dir, `${name}.gguf`);
  writeVocabGguf(path, vocab);
  const ref = await llama!.loadModel({ modelPath: path, vocabOnly: true });
  const ours = new Tokenizer({
    ...vocab, bosId: 1, eosId: 7, eogIds: detectEogIds(vocab.tokens, 7), addBos: true, pre: "lfm2",
  });
  return { ref, ours };
}

function checkParity(ref: LlamaModel, ours: Tokenizer, texts: string[]): void {
  const mismatches: string[] = [];
  for (const text of texts) {
    for (const special of [true, false]) {
      const refTokens = ref.tokenize(text, special); // node-llama-cpp never adds BOS here
      const want = Array.from(refTokens, Number);
      const got = ours.tokenize(text, { addBos: false, special });
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        mismatches.push(`${JSON.stringify(text)} special=${special}\n  ours ${got}\n  llama ${want}`);
        continue;
      }
      for (const unparse of [true, false]) {
        const wantText = ref.detokenize(refTokens, unparse);
        const gotText = ours.detokenize(want, { special: unparse, cleanSpaces: true });
        if (gotText !== wantText) {
          mismatches.push(`detokenize ${JSON.stringify(text)} special=${unparse}: ${JSON.stringify(gotText)} vs ${JSON.stringify(wantText)}`);
        }
      }
    }
  }
  expect(mismatches.slice(0, 10).join("\n")).toBe("");
}

describe("tokenizer parity with llama.cpp (node-llama-cpp, vocab-only GGUF)", () => {
  it("node-llama-cpp loaded", () => {
    if (loadError) console.warn(`node-llama-cpp unavailable: ${String(loadError)}`);
    expect(llama, "node-llama-cpp must load (prebuilt binaries) for the parity tests").toBeDefined();
  });

  it(`65536-token LFM2-style vocabulary: ${TRICKY.length} tricky strings`, async () => {
    if (!llama) return;
    const { ref, ours } = await load("v65536", trainBpeVocab({ vocabSize: 65536 }));
    expect(TRICKY.length).toBeGreaterThanOrEqual(50);
    checkParity(ref, ours, TRICKY);
    await ref.dispose();
  });

  it("65536-token vocabulary: 300 random strings", async () => {
    if (!llama) return;
    const { ref, ours } = await load("v65536r", trainBpeVocab({ vocabSize: 65536 }));
    const rnd = createRng(1234);
    checkParity(ref, ours, Array.from({ length: 300 }, () => randomText(rnd, 1 + Math.floor(rnd() * 80))));
    await ref.dispose();
  });

  it("small vocabulary (merges cut short, other seed)", async () => {
    if (!llama) return;
    const { ref, ours } = await load("v700", trainBpeVocab({ vocabSize: 700, seed: 7 }));
    const rnd = createRng(99);
    checkParity(ref, ours, [...TRICKY, ...Array.from({ length: 100 }, () => randomText(rnd, 60))]);
    await ref.dispose();
  });

  it("user-defined tokens are split out even without special parsing; end markers are controls", async () => {
    if (!llama) return;
    const vocab = trainBpeVocab({ vocabSize: 3000 });
    const last = vocab.tokens.length - 1;
    vocab.tokens[last] = "<think>";
    vocab.tokenTypes[last] = TokenType.USER_DEFINED;
    vocab.tokens[last - 1] = "ĠXYZ";
    vocab.tokenTypes[last - 1] = TokenType.USER_DEFINED;
    vocab.tokenTypes[7] = TokenType.NORMAL; // llama.cpp forces end markers such as <|im_end|> back to CONTROL
    const { ref, ours } = await load("vuser", vocab);
    checkParity(ref, ours, ["a<think>b</think> c", "<think><think>", " XYZ and XYZ", "<|im_start|><think>\n", "x<|im_end|>y", ...TRICKY]);
    await ref.dispose();
  });
});
