// SPDX-License-Identifier: MIT
// Byte-level BPE tokenizer for LFM2 GGUF vocabularies (tokenizer.ggml.model "gpt2", pre "lfm2"),
// matching llama.cpp's LLAMA3 pre-tokenizer, ignore_merges and special-token partitioning.

import { MinHeap } from "./util/heap.js";
import { lfmError } from "./errors.js";

// --- Token types (GGUF tokenizer.ggml.token_type, llama_token_type) ---

/** GGUF token types as written in `tokenizer.ggml.token_type`. */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** Everything the tokenizer needs, as read from the GGUF `tokenizer.ggml.*` keys. */
export interface TokenizerData {
  /** Token texts in byte-level form (`tokenizer.ggml.tokens`). */
  tokens: string[];
  /** One {@link TokenType} per token (`tokenizer.ggml.token_type`); missing entries count as NORMAL. */
  tokenTypes: number[];
  /** Merges `"A B"` in rank order (`tokenizer.ggml.merges`). */
  merges: string[];
  bosId: number;
  eosId: number;
  /** End-of-generation ids (see {@link detectEogIds}). */
  eogIds: number[];
  /** `tokenizer.ggml.add_bos_token` (llama.cpp defaults it to true for pre "lfm2"). */
  addBos: boolean;
  /** `tokenizer.ggml.pre`; anything other than the LLAMA3 family still uses LLAMA3 rules. */
  pre: string;
}

/** Options of {@link Tokenizer.tokenize}. */
export interface TokenizeOptions {
  /** Prepend the BOS id when the vocabulary asks for it. Default: `data.addBos`. */
  addBos?: boolean;
  /** Parse control-token texts such as `<|im_start|>` into their ids. Default: true. */
  special?: boolean;
}

/** Options of {@link Tokenizer.detokenize}. */
export interface DetokenizeOptions {
  /** Render control tokens as their text (llama.cpp `common_detokenize` default). Default: true. */
  special?: boolean;
  /**
   * Apply llama.cpp's `clean_spaces` post-pass of `llama_detokenize` (" ," -> ",", " 's" -> "'s" ...),
   * which llama.cpp enables for this vocabulary type. Default: false, so that text round-trips
   * exactly and matches the concatenated pieces a streaming decoder produces.
   */
  cleanSpaces?: boolean;
}

/** Incremental detokenizer that never splits a multi-byte UTF-8 character. */
export interface StreamDecoder {
  /** Adds one token; returns the text that became complete (possibly ""). */
  push(token: number): string;
  /** Returns whatever is held back, with U+FFFD for incomplete bytes, and resets the decoder. */
  flush(): string;
  /** True when the bytes pushed end inside a UTF-8 character (push may be holding them back). */
  readonly pending: boolean;
}

/** Whether `tail` (the last bytes of a stream, at most 3) ends with the start of a multi-byte character. */
function endsInsideCharacter(tail: readonly number[]): boolean {
  for (let back = 1; back <= tail.length; back++) {
    const b = tail[tail.length - back]!;
    if (b >= 0x80 && b < 0xc0) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return back < need;
  }
  return false;
}

/** Pre-tokenizer names llama.cpp maps to LLAMA_VOCAB_PRE_TYPE_LLAMA3 (llama-vocab.cpp). */
const LLAMA3_PRE_NAMES = new Set([
  "lfm2", "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
]);

// --- GPT-2 byte-level mapping (bytes_to_unicode) ---

/** BYTE_TO_CHAR[b] is the printable stand-in GPT-2 uses for byte b. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return out;
})();

const CHAR_TO_BYTE = new Map<number, number>(BYTE_TO_CHAR.map((c, b) => [c.codePointAt(0)!, b]));
const utf8Encoder = new TextEncoder();

/** Maps UTF-8 bytes to their byte-level string (one stand-in character per byte). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!];
  return s;
}

/** Byte-level form of a text: UTF-8 encode, then map every byte (e.g. " hi" -> "Ġhi"). */
export function toByteLevel(text: string): string {
  return bytesToByteLevel(utf8Encoder.encode(text));
}

// --- LLAMA3 pre-tokenizer ---
// Mirrors llama.cpp unicode_regex_split_custom_llama3, i.e. the regex
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with llama.cpp's whitespace set (Unicode White_Space: includes U+0085, excludes U+FEFF, unlike
// JS \s). Written as a scanner rather than a JS regex so both facts hold exactly.

const F_LETTER = 1;
const F_NUMBER = 2;
const F_SPACE = 4;
const F_IN_RANGE = 8; // set for every real code point; 0 means "past the end" (llama.cpp OUT_OF_RANGE)

const RE_LETTER = /\p{L}/u;
const RE_NUMBER = /\p{N}/u;
let bmpFlags: Uint8Array | undefined;
const astralFlags = new Map<number, number>();

function isWhiteSpace(c: number): boolean {
  return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f ||
    c === 0x3000;
}

function computeFlags(c: number): number {
  const s = String.fromCodePoint(c);
  let f = F_IN_RANGE;
  if (RE_LETTER.test(s)) f |= F_LETTER;
  if (RE_NUMBER.test(s)) f |= F_NUMBER;
  if (isWhiteSpace(c)) f |= F_SPACE;
  return f;
}

function cptFlags(c: number): number {
  if (c < 0x10000) {
    if (bmpFlags === undefined) {
      // One pass over the BMP (~10 ms) so the hot loop is a table lookup.
      bmpFlags = new Uint8Array(0x10000);
      for (let i = 0; i < 0x10000; i++) bmpFlags[i] = computeFlags(i);
    }
    return bmpFlags[c]!;
  }
  let f = astralFlags.get(c);
  if (f === undefined) {
    f = computeFlags(c);
    astralFlags.set(c, f);
  }
  return f;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;

function asciiLower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/**
 * Splits text into LLAMA3 pre-tokens exactly as llama.cpp does (before byte-level mapping).
 * @example preTokenizeLlama3("a  b's 1234") // ["a", " ", " b", "'s", " ", "123", "4"]
 */
export function preTokenizeLlama3(text: string): string[] {
  const cps: number[] = [];
  const at: number[] = []; // UTF-16 offset of each code point, plus the end
  for (let i = 0; i < text.length; ) {
    const c = text.codePointAt(i)!;
    cps.push(c);
    at.push(i);
    i += c > 0xffff ? 2 : 1;
  }
  at.push(text.length);
  const n = cps.length;
  const flags = (p: number): number => (p < n ? cptFlags(cps[p]!) : 0);
  const cpt = (p: number): number => (p < n ? cps[p]! : -1);

  const out: string[] = [];
  let prevEnd = 0;
  const add = (end: number): void => {
    if (end > prevEnd) out.push(text.slice(at[prevEnd], at[end]));
    prevEnd = end;
  };

  for (let pos = 0; pos < n; ) {
    const c = cps[pos]!;
    const f = flags(pos);

    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c === 0x27 && pos + 1 < n) {
      const c1 = asciiLower(cps[pos + 1]!);
      if (c1 === 0x73 || c1 === 0x74 || c1 === 0x6d || c1 === 0x64) {
        pos += 2;
        add(pos);
        continue;
      }
      if (pos + 2 < n) {
        const c2 = asciiLower(cps[pos + 2]!);
        if ((c1 === 0x72 && c2 === 0x65) || (c1 === 0x76 && c2 === 0x65) || (c1 === 0x6c && c2 === 0x6c)) {
          pos += 3;
          add(pos);
          continue;
        }
      }
    }

    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(c === CR || c === LF || f & F_NUMBER)) {
      if (f & F_LETTER || flags(pos + 1) & F_LETTER) {
        pos++;
        while (flags(pos) & F_LETTER) pos++;
        add(pos);
        continue;
      }
    }

    // \p{N}{1,3}
    if (f & F_NUMBER) {
      let ini = pos;
      while (flags(pos) & F_NUMBER) {
        if (++pos - ini >= 3) {
          add(pos);
          ini = pos;
        }
      }
      add(pos);
      continue;
    }

    // <space>?[^\s\p{L}\p{N}]+[\r\n]*
    let f2 = c === SP ? flags(pos + 1) : f;
    if (!(f2 & (F_SPACE | F_LETTER | F_NUMBER)) && f2 !== 0) {
      if (c === SP) pos++;
      while (!(f2 & (F_SPACE | F_LETTER | F_NUMBER)) && f2 !== 0) f2 = flags(++pos);
      let c2 = cpt(pos);
      while (c2 === CR || c2 === LF) c2 = cpt(++pos);
      add(pos);
      continue;
    }

    let nSpaces = 0;
    let lastEndCrLf = 0;
    while (flags(pos + nSpaces) & F_SPACE) {
      const c2 = cps[pos + nSpaces]!;
      if (c2 === CR || c2 === LF) lastEndCrLf = pos + nSpaces + 1;
      nSpaces++;
    }
    // \s*[\r\n]+
    if (lastEndCrLf > 0) {
      pos = lastEndCrLf;
      add(pos);
      continue;
    }
    // \s+(?!\S)
    if (nSpaces > 1 && pos + nSpaces < n) {
      pos += nSpaces - 1;
      add(pos);
      continue;
    }
    // \s+
    if (nSpaces > 0) {
      pos += nSpaces;
      add(pos);
      continue;
    }
    add(++pos); // no alternative matched (unreachable for in-range code points)
  }
  return out;
}

// --- Helpers for loaders ---

/** Token texts llama.cpp treats as end-of-generation whatever the metadata says (llama-vocab.cpp). */
const EOG_TEXTS = new Set([
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
  "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
]);

/**
 * End-of-generation ids the way llama.cpp derives them: the EOS id plus every token whose text is a
 * known end marker (for LFM2: 2 `<|endoftext|>` and 7 `<|im_end|>`).
 */
export function detectEogIds(tokens: readonly string[], eosId: number): number[] {
  const out = new Set<number>();
  if (eosId >= 0 && eosId < tokens.length) out.add(eosId);
  tokens.forEach((t, id) => {
    if (EOG_TEXTS.has(t)) out.add(id);
  });
  return [...out].sort((a, b) => a - b);
}

// --- Merge queue (min-heap on rank, then left position, as llama.cpp llm_bigram_bpe) ---

interface Bigram {
  left: number;
  right: number;
  rank: number;
  text: string;
}

function bigramLess(a: Bigram, b: Bigram): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.left < b.left);
}


// --- Tokenizer ---

const CACHE_LIMIT = 65536;

/** A token matched in raw text before pre-tokenization; `control` ones only when parsing specials. */
interface SpecialToken {
  text: string;
  id: number;
  control: boolean;
  /** UTF-8 length: llama.cpp orders specials by byte length, longest first. */
  bytes: number;
}

/**
 * Byte-level BPE tokenizer equivalent to llama.cpp's for LFM2 vocabularies.
 *
 * @example
 * const tok = new Tokenizer(data);
 * const ids = tok.tokenize("<|im_start|>user\nHi<|im_end|>"); // [1, 6, ...]
 * tok.detokenize(ids); // "<|startoftext|><|im_start|>user\nHi<|im_end|>"
 */
export class Tokenizer {
  /** Number of tokens in the vocabulary. */
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly eogIds: readonly number[];
  readonly addBos: boolean;
  /** The `tokenizer.ggml.pre` string as given. */
  readonly pre: string;
  /** False when `pre` is not one llama.cpp maps to LLAMA3; LLAMA3 rules are used anyway. */
  readonly preKnown: boolean;

  private readonly tokens: readonly string[];
  private readonly types: Uint8Array;
  private readonly textToId = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly eog: Set<number>;
  /** Special tokens to split on, longest (UTF-8 bytes) first; `control` ones only when parsing specials. */
  private readonly specials: SpecialToken[] = [];
  /** Special texts grouped by UTF-16 length, and their first code units, to find occurrences fast. */
  private readonly specialsByLen = new Map<number, Map<string, SpecialToken>>();
  private readonly specialFirst = new Set<number>();
  private readonly specialRank = new Map<SpecialToken, number>();
  private readonly cache = new Map<string, number[]>();
  private readonly pieces: (Uint8Array | undefined)[];

  constructor(data: TokenizerData) {
    this.tokens = data.tokens;
    this.vocabSize = data.tokens.length;
    this.bosId = data.bosId;
    this.eosId = data.eosId;
    this.eogIds = [...data.eogIds];
    this.eog = new Set(data.eogIds);
    this.addBos = data.addBos;
    this.pre = data.pre;
    this.preKnown = LLAMA3_PRE_NAMES.has(data.pre);
    this.types = new Uint8Array(this.vocabSize);
    this.pieces = new Array<Uint8Array | undefined>(this.vocabSize);
    for (let id = 0; id < this.vocabSize; id++) {
      const text = data.tokens[id]!;
      // llama.cpp forces known end markers (<|im_end|>, <|endoftext|>, ...) to CONTROL.
      const type = EOG_TEXTS.has(text) ? TokenType.CONTROL : (data.tokenTypes[id] ?? TokenType.NORMAL);
      this.types[id] = type;
      this.textToId.set(text, id); // later ids win, as llama.cpp token_to_id[text] = id
      if (type === TokenType.CONTROL || type === TokenType.USER_DEFINED || type === TokenType.UNKNOWN) {
        if (text.length > 0) this.specials.push({ text, id, control: type !== TokenType.USER_DEFINED, bytes: utf8Length(text) });
      }
    }
    this.specials.sort((a, b) => b.bytes - a.bytes || a.id - b.id);
    this.specials.forEach((sp, i) => this.specialRank.set(sp, i));
    for (const sp of this.specials) {
      let m = this.specialsByLen.get(sp.text.length);
      if (!m) this.specialsByLen.set(sp.text.length, (m = new Map()));
      if (!m.has(sp.text)) m.set(sp.text, sp);
      this.specialFirst.add(sp.text.charCodeAt(0));
    }
    data.merges.forEach((m, rank) => {
      // llama.cpp splits at the first space after index 0 and keeps the first rank of a pair.
      const pos = m.indexOf(" ", 1);
      const key = pos < 0 ? " " : m;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
  }

  /**
   * Converts text to token ids.
   * @param text - any string; lone surrogates are treated as U+FFFD.
   * @param opts - `addBos` (default: the vocabulary's add_bos_token), `special` (default true).
   * A BOS is prepended even when the text already starts with `<|startoftext|>` (as llama.cpp).
   */
  tokenize(text: string, opts: TokenizeOptions = {}): number[] {
    const addBos = opts.addBos ?? this.addBos;
    const special = opts.special ?? true;
    const out: number[] = [];
    if (addBos && this.bosId >= 0) out.push(this.bosId);
    const wellFormed = toWellFormed(text);
    for (const frag of this.partition(wellFormed, special)) {
      if (typeof frag === "number") out.push(frag);
      else for (const word of preTokenizeLlama3(frag)) this.encodeWord(word, out);
    }
    return out;
  }

  /**
   * Converts token ids back to text. With `special` (default true, like llama.cpp
   * `common_detokenize`) control tokens appear as their text; otherwise they are dropped.
   * Invalid UTF-8 becomes U+FFFD. No space clean-up unless `cleanSpaces` is set.
   * @throws LfmError ERR_LFM_TOKEN_RANGE for an id outside [0, vocabSize).
   */
  detokenize(tokens: readonly number[], opts: DetokenizeOptions = {}): string {
    const special = opts.special ?? true;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const t of tokens) {
      const p = this.piece(t, special);
      parts.push(p);
      total += p.length;
    }
    const all = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(opts.cleanSpaces ? cleanSpaces(all) : all);
  }

  /**
   * Returns a streaming decoder: each `push` returns only complete characters, holding back a
   * trailing partial UTF-8 sequence until the next token completes it (or `flush` is called).
   * @param opts - `special` as in {@link detokenize} (default true).
   */
  createDecoder(opts: DetokenizeOptions = {}): StreamDecoder {
    const special = opts.special ?? true;
    let dec = new TextDecoder("utf-8", { ignoreBOM: true });
    let tail: number[] = []; // the last bytes pushed (at most 3)
    return {
      push: (token: number): string => {
        const bytes = this.piece(token, special);
        tail = [...tail, ...bytes.subarray(Math.max(0, bytes.length - 3))].slice(-3);
        return dec.decode(bytes, { stream: true });
      },
      flush: (): string => {
        const rest = dec.decode();
        dec = new TextDecoder("utf-8", { ignoreBOM: true });
        tail = [];
        return rest;
      },
      get pending(): boolean {
        return endsInsideCharacter(tail);
      },
    };
  }

  /** True for end-of-generation tokens (EOS, `<|im_end|>`, `<|endoftext|>` ...). */
  isEog(token: number): boolean {
    return this.eog.has(token);
  }

  /** Raw (byte-level) text of a token. @throws LfmError ERR_LFM_TOKEN_RANGE */
  tokenText(token: number): string {
    this.checkId(token);
    return this.tokens[token]!;
  }

  /** GGUF token type of a token. @throws LfmError ERR_LFM_TOKEN_RANGE */
  tokenType(token: number): number {
    this.checkId(token);
    return this.types[token]!;
  }

  /** Id of a token given its exact vocabulary text, or undefined. */
  tokenId(text: string): number | undefined {
    return this.textToId.get(text);
  }

  // --- internals ---

  private checkId(token: number): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
      throw lfmError("ERR_LFM_TOKEN_RANGE", `[detokenize] token id ${token} is outside [0, ${this.vocabSize})`);
    }
  }

  /** The bytes llama.cpp token_to_piece produces for one token. */
  private piece(token: number, special: boolean): Uint8Array {
    this.checkId(token);
    const type = this.types[token]!;
    if (!special && (type === TokenType.CONTROL || type === TokenType.UNKNOWN)) return EMPTY;
    let p = this.pieces[token];
    if (p === undefined) {
      const text = this.tokens[token]!;
      if (type === TokenType.CONTROL || type === TokenType.UNKNOWN || type === TokenType.USER_DEFINED) {
        p = utf8Encoder.encode(text);
      } else if (type === TokenType.NORMAL) {
        p = decodeByteLevel(text);
      } else {
        p = EMPTY; // UNUSED, BYTE, UNDEFINED: llama.cpp's BPE path renders nothing
      }
      this.pieces[token] = p;
    }
    return p;
  }

  /**
   * llama.cpp tokenizer_st_partition: for each special token, longest first, cut every raw
   * fragment at its occurrences. Control/unknown tokens only when `special`; user-defined always.
   */
  private partition(text: string, special: boolean): (string | number)[] {
    let frags: (string | number)[] = text.length > 0 ? [text] : [];
    // Fragments are substrings of the text, so only specials occurring in the text can apply; finding
    // those first keeps this linear in the text for vocabularies with tens of thousands of specials.
    const present = new Set<SpecialToken>();
    for (let p = 0; p < text.length; p++) {
      if (!this.specialFirst.has(text.charCodeAt(p))) continue;
      for (const [len, m] of this.specialsByLen) {
        const sp = p + len <= text.length ? m.get(text.slice(p, p + len)) : undefined;
        if (sp && (special || !sp.control)) present.add(sp);
      }
    }
    if (present.size === 0) return frags;
    const order = [...present].sort((a, b) => this.specialRank.get(a)! - this.specialRank.get(b)!);
    for (const s of order) {
      const next: (string | number)[] = [];
      for (const f of frags) {
        if (typeof f !== "string") {
          next.push(f);
          continue;
        }
        const pieces = f.split(s.text);
        pieces.forEach((p, i) => {
          if (i > 0) next.push(s.id);
          if (p.length > 0) next.push(p);
        });
      }
      frags = next;
    }
    return frags;
  }

  /** BPE for one pre-token, appending ids to out (cached per pre-token). */
  private encodeWord(word: string, out: number[]): void {
    let ids = this.cache.get(word);
    if (ids === undefined) {
      ids = this.bpe(toByteLevel(word));
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  /** llama.cpp llm_tokenizer_bpe_session::tokenize for a single byte-level word. */
  private bpe(word: string): number[] {
    // ignore_merges: a whole pre-token found in the vocabulary is emitted as is.
    const whole = this.textToId.get(word);
    if (whole !== undefined) return [whole];

    const sym: string[] = Array.from(word); // one byte-level character per byte
    const n = sym.length;
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = new MinHeap<Bigram>(bigramLess);
    const addBigram = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const rank = this.ranks.get(sym[left] + " " + sym[right]);
      if (rank !== undefined) heap.push({ left, right, rank, text: sym[left]! + sym[right]! });
    };
    for (let i = 1; i < n; i++) addBigram(i - 1, i);

    while (heap.size > 0) {
      const b = heap.pop();
      const l = sym[b.left]!;
      const r = sym[b.right]!;
      if (l.length === 0 || r.length === 0 || l + r !== b.text) continue; // outdated entry
      sym[b.left] = b.text;
      sym[b.right] = "";
      next[b.left] = next[b.right]!;
      if (next[b.right]! >= 0) prev[next[b.right]!] = b.left;
      addBigram(prev[b.left]!, b.left);
      addBigram(b.left, next[b.left]!);
    }

    const ids: number[] = [];
    for (let i = 0; i !== -1; i = next[i]!) {
      const s = sym[i]!;
      if (s.length === 0) continue;
      const id = this.textToId.get(s);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      // llama.cpp falls back to single bytes of the symbol's UTF-8 text; only ASCII can match.
      for (const byte of utf8Encoder.encode(s)) {
        const bid = byte < 0x80 ? this.textToId.get(String.fromCharCode(byte)) : undefined;
        if (bid !== undefined) ids.push(bid);
      }
    }
    return ids;
  }
}

const EMPTY = new Uint8Array(0);

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * The three clean-up passes of llama.cpp `llama_vocab::impl::detokenize` (clean_spaces), on UTF-8
 * bytes; they only look at ASCII, which never occurs inside a multi-byte sequence.
 */
function cleanSpaces(input: Uint8Array): Uint8Array {
  const SPACE = 0x20;
  const APOS = 0x27;
  const ch = (c: string): number => c.charCodeAt(0);
  // Pass 1: drop the space before ? ! . ,
  let t = Array.from(input);
  let out: number[] = t.slice(0, 1);
  for (let i = 1; i < t.length; i++) {
    const x = t[i]!;
    if (t[i - 1] === SPACE && (x === ch("?") || x === ch("!") || x === ch(".") || x === ch(","))) out.pop();
    out.push(x);
  }
  // Pass 2: " ' " -> "'" (the following space is zeroed in place, as llama.cpp does)
  t = out;
  out = t.slice(0, 1);
  for (let i = 1; i < t.length; i++) {
    const x = t[i]!;
    if (x === APOS && i + 1 < t.length && t[i - 1] === SPACE && t[i + 1] === SPACE) {
      out.pop();
      t[++i] = 0;
    }
    out.push(x);
  }
  // Pass 3: " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it)
  t = out;
  out = t.slice(0, 1);
  for (let i = 1; i < t.length; i++) {
    const x = t[i]!;
    if (t[i - 1] === SPACE && x === APOS && i + 1 < t.length) {
      const x1 = t[i + 1]!;
      if (x1 === ch("s") || x1 === ch("m")) {
        out.pop();
      } else if (x1 !== ch("t") && x1 !== ch("d") && i + 2 < t.length) {
        const x2 = t[i + 2]!;
        if ((x1 === ch("r") && x2 === ch("e")) || (x1 === ch("v") && x2 === ch("e"))) out.pop();
      }
    }
    out.push(x);
  }
  return Uint8Array.from(out);
}

/** Lone surrogates -> U+FFFD, as the UTF-8 conversion in front of llama.cpp does. */
function toWellFormed(text: string): string {
  const f = (text as { toWellFormed?: () => string }).toWellFormed;
  return typeof f === "function" ? f.call(text) : text.replace(/\p{Cs}/gu, "\uFFFD");
}

/** llama_decode_text: byte-level characters back to bytes; unknown characters become a marker. */
function decodeByteLevel(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of text) {
    const b = CHAR_TO_BYTE.get(ch.codePointAt(0)!);
    if (b !== undefined) {
      bytes.push(b);
    } else {
      const utf8 = utf8Encoder.encode(ch);
      const hex = Array.from(utf8, (x) => x.toString(16).padStart(2, "0")).join("");
      bytes.push(...utf8Encoder.encode(`[UNK_BYTE_0x${hex}${text}]`));
    }
  }
  return Uint8Array.from(bytes);
}
