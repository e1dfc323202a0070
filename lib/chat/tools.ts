// SPDX-License-Identifier: MIT
// Tool calls in LFM2 output: a lenient parser (never throws, never evaluates) and a streaming
// filter that keeps call markup out of the visible text.
//
// LFM2 writes calls as a Python list between two special tokens:
//   <|tool_call_start|>[get_weather(city="Paris", days=3)]<|tool_call_end|>
// Some templates (and LFM2.5 models) use JSON objects instead,
//   <|tool_call_start|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]<|tool_call_end|>
// and small models often drop the markers, forget the end marker, add trailing commas or pass
// arguments positionally. All of these are accepted; what is wrong is reported in `errors`.
//
// Grammar of a call block (after <|tool_call_start|>), whitespace allowed between tokens:
//   block := fence? ( "[" items? "]" | items ) fence? "<|tool_call_end|>"?
//   items := item ( ","? item )* ","?
//   item  := NAME "(" ( arg ( "," arg )* ","? )? ")"  |  dict-with-"name"
//   arg   := ( NAME ("=" | ":") )? value
//   value := Python literal (str, int, float, True/False/None, list, tuple, dict, set)
//            or JSON literal (true/false/null)

import { LfmError } from "../errors.js";
import type { ParsedToolCalls, ToolCall, ToolDefinition, ToolInput } from "./types.js";

/** The marker LFM2 writes before a call list (special token 10). */
export const TOOL_CALL_START = "<|tool_call_start|>";
/** The marker LFM2 writes after a call list (special token 11). */
export const TOOL_CALL_END = "<|tool_call_end|>";

/** Options of {@link parseToolCalls} and {@link ToolCallStreamFilter}. */
export interface ParseToolCallsOptions {
  /**
   * The tools offered to the model. Used to map positional arguments to parameter names (in the
   * order of `parameters.properties`), to report unknown tool names, and to accept call lists
   * written without markers.
   */
  tools?: readonly ToolInput[];
  /**
   * Also recognise call lists written without markers (`[get_weather(city="Paris")]`,
   * `[{"name": ...}]`). Default: true when `tools` is non-empty. A marker-less list is taken as
   * calls only when it parses completely, holds nothing but calls, and (when `tools` is given)
   * names at least one offered tool; otherwise it stays text.
   */
  bare?: boolean;
}

/** The last call of {@link ToolCallStreamFilter.end}. */
export interface ToolCallStreamResult extends ParsedToolCalls {
  /** Visible text not yet returned by `push()` (the tail that was held back). */
  text: string;
}

// ---------------------------------------------------------------------------------------------
// Tool definitions

/** Unwraps OpenAI-style `{type: "function", function: {...}}` tools; checks names. */
export function normalizeTools(tools: readonly ToolInput[] | undefined): ToolDefinition[] {
  if (tools === undefined) return [];
  if (!Array.isArray(tools)) {
    throw new LfmError("ERR_LFM_INVALID_ARG", "[chat] tools must be an array of tool definitions");
  }
  return tools.map((t, i) => {
    const def = (t !== null && typeof t === "object" && "function" in t && (t as { type?: unknown }).type === "function"
      ? (t as { function: ToolDefinition }).function
      : t) as ToolDefinition;
    if (def === null || typeof def !== "object" || typeof def.name !== "string" || def.name.length === 0) {
      throw new LfmError("ERR_LFM_INVALID_ARG", `[chat] tools[${i}] must have a non-empty string name`);
    }
    // Fixed key order: what the model was trained to read (name, description, parameters).
    const out: ToolDefinition = { name: def.name };
    if (def.description !== undefined) out.description = def.description;
    if (def.parameters !== undefined) out.parameters = def.parameters;
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Python / JSON literal reader

/** Why a parse stopped: "eof" = the text ended too early (more may come), "syntax" = it is wrong. */
class Stop {
  constructor(readonly kind: "eof" | "syntax", readonly message: string, readonly pos: number) {}
}

/** A call as written, before its arguments are named. */
interface RawCall {
  name: string;
  positional: unknown[];
  keywords: [string, unknown][];
  raw: string;
  id?: string;
  /** Set for JSON items that are not calls (no "name"). */
  notCall?: string;
}

const MAX_DEPTH = 64;
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_.\-]/;
const WORD_CHAR = /[A-Za-z0-9_]/;
const NUMBER_RUN = /[0-9A-Za-z_.+\-]/;
const DEC_NUMBER = /^(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?$/;
const SIMPLE_ESCAPES: Record<string, string> = {
  n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", a: "\x07", "0": "\0",
  "\\": "\\", "'": "'", '"': '"', "/": "/", "\n": "",
};

function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty: a key named "__proto__" stays a plain key.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function keyString(k: unknown): string {
  if (typeof k === "string") return k;
  if (k === null) return "null";
  if (typeof k === "number" || typeof k === "boolean") return String(k);
  return JSON.stringify(k) ?? String(k);
}

/**
 * Recursive-descent reader over text[pos, end). With `final` false, running into the end of the
 * text throws Stop("eof") instead of deciding anything, so that every decision it does make is
 * the one it would make on any longer text (what keeps streaming and whole-text parses equal).
 */
class Reader {
  pos: number;
  /** Notes on accepted oddities (bare words used as strings). */
  readonly notes: string[] = [];

  constructor(readonly s: string, start: number, readonly final: boolean) {
    this.pos = start;
  }

  fail(message: string, at = this.pos): never {
    throw new Stop(at >= this.s.length ? "eof" : "syntax", message, at);
  }

  /** The next character, "" at the end of a final text; throws "eof" at the end otherwise. */
  peek(): string {
    if (this.pos < this.s.length) return this.s[this.pos]!;
    if (!this.final) this.fail("unexpected end of text");
    return "";
  }

  ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }

  /** True when `lit` is at pos (consumed); throws "eof" when the text ends inside a prefix of it. */
  match(lit: string): boolean {
    const s = this.s;
    if (s.startsWith(lit, this.pos)) {
      this.pos += lit.length;
      return true;
    }
    if (!this.final && this.s.length - this.pos < lit.length && lit.startsWith(s.slice(this.pos))) {
      this.fail(`unexpected end of text`);
    }
    return false;
  }

  expect(ch: string, what: string): void {
    this.ws();
    if (this.peek() !== ch) this.fail(`expected ${what}`);
    this.pos++;
  }

  /** A maximal run of characters of `cls` from pos; "eof" when it may continue past the text. */
  run(cls: RegExp): string {
    const start = this.pos;
    while (this.pos < this.s.length && cls.test(this.s[this.pos]!)) this.pos++;
    if (this.pos >= this.s.length && !this.final) this.fail("unexpected end of text");
    return this.s.slice(start, this.pos);
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail("nesting too deep");
    this.ws();
    const c = this.peek();
    if (c === "") this.fail("expected a value");
    if (c === '"' || c === "'") return this.strings(false);
    if (c === "[") return this.sequence("]", depth);
    if (c === "(") return this.sequence(")", depth);
    if (c === "{") return this.dict(depth);
    if (c === "-" || c === "+" || c === "." || (c >= "0" && c <= "9")) return this.number();
    if (NAME_START.test(c)) {
      const word = this.run(WORD_CHAR);
      const q = this.peek();
      if ((q === '"' || q === "'") && /^(?:[rRuUbB]|[rR][bB]|[bB][rR])$/.test(word)) {
        return this.strings(/[rR]/.test(word));
      }
      switch (word) {
        case "True": case "true": return true;
        case "False": case "false": return false;
        case "None": case "null": return null;
        case "inf": return Infinity;
        case "nan": return NaN;
      }
      this.ws();
      if (this.peek() === "(") this.fail(`nested call "${word}(" is not a literal`);
      this.notes.push(`bare word ${word} read as the string "${word}"`);
      return word;
    }
    return this.fail(`unexpected character ${JSON.stringify(c)}`);
  }

  /** One string literal, and any literals right after it (Python joins "a" "b"). */
  strings(raw: boolean): string {
    let out = this.string(raw);
    for (;;) {
      const save = this.pos;
      this.ws();
      if (this.pos >= this.s.length) {
        this.pos = save;
        return out;
      }
      const c = this.s[this.pos];
      if (c !== '"' && c !== "'") {
        this.pos = save;
        return out;
      }
      out += this.string(false);
    }
  }

  string(raw: boolean): string {
    const s = this.s;
    const q = s[this.pos]!;
    const start = this.pos;
    this.pos++;
    let triple = false;
    if (this.peek() === q) {
      this.pos++;
      // "" is an empty string unless a third quote follows.
      if (this.pos >= s.length && !this.final) this.fail("unexpected end of text");
      if (s[this.pos] !== q) return "";
      this.pos++;
      triple = true;
    }
    let out = "";
    for (;;) {
      if (this.pos >= s.length) this.fail("unterminated string", this.pos);
      const c = s[this.pos]!;
      if (c === q) {
        if (!triple) {
          this.pos++;
          return out;
        }
        if (this.match(q + q + q)) return out;
        out += c;
        this.pos++;
        continue;
      }
      if (c === "<" && (this.match(TOOL_CALL_END) || this.match(TOOL_CALL_START))) {
        this.fail("unterminated string", start);
      }
      if (c !== "\\") {
        out += c;
        this.pos++;
        continue;
      }
      this.pos++;
      const e = this.peek();
      if (raw) {
        out += "\\" + e;
        this.pos++;
        continue;
      }
      if (e in SIMPLE_ESCAPES && !(e === "0" && /[0-7]/.test(s[this.pos + 1] ?? ""))) {
        out += SIMPLE_ESCAPES[e];
        this.pos++;
      } else if (e === "x" || e === "u" || e === "U") {
        const n = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = s.slice(this.pos + 1, this.pos + 1 + n);
        if (hex.length < n && !this.final && /^[0-9a-fA-F]*$/.test(hex)) this.fail("unexpected end of text");
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) this.fail(`bad \\${e} escape`);
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) this.fail(`bad \\${e} escape`);
        out += e === "U" ? String.fromCodePoint(cp) : String.fromCharCode(cp);
        this.pos += 1 + n;
      } else if (/[0-7]/.test(e)) {
        const oct = /^[0-7]{1,3}/.exec(s.slice(this.pos, this.pos + 3))![0];
        if (oct.length < 3 && this.pos + oct.length >= s.length && !this.final) this.fail("unexpected end of text");
        out += String.fromCharCode(parseInt(oct, 8));
        this.pos += oct.length;
      } else if (e === "\r") {
        this.pos++;
        if (this.peek() === "\n") this.pos++;
      } else {
        out += "\\" + e; // Python keeps unknown escapes as written
        this.pos++;
      }
    }
  }

  number(): number {
    const start = this.pos;
    let sign = 1;
    const c = this.s[this.pos];
    if (c === "-" || c === "+") {
      if (c === "-") sign = -1;
      this.pos++;
      this.ws();
    }
    const tokStart = this.pos;
    const tok = this.run(NUMBER_RUN);
    const t = tok.replace(/_/g, "");
    let v: number;
    if (DEC_NUMBER.test(tok)) v = Number(t);
    else if (/^0[xX][0-9a-fA-F_]+$/.test(tok)) v = parseInt(t.slice(2), 16);
    else if (/^0[oO][0-7_]+$/.test(tok)) v = parseInt(t.slice(2), 8);
    else if (/^0[bB][01_]+$/.test(tok)) v = parseInt(t.slice(2), 2);
    else if (tok === "inf" || tok === "Infinity") v = Infinity;
    else this.fail(`bad number ${JSON.stringify(this.s.slice(start, this.pos))}`, tokStart);
    return sign * v;
  }

  /** [a, b], (a, b): both become arrays. */
  sequence(close: "]" | ")", depth: number): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    for (;;) {
      this.ws();
      if (this.peek() === close) {
        this.pos++;
        return out;
      }
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.peek();
      if (c === ",") this.pos++;
      else if (c !== close) this.fail(`expected "," or "${close}"`);
    }
  }

  /** {k: v} becomes an object (keys as strings), {a, b} (a set) an array. */
  dict(depth: number): Record<string, unknown> | unknown[] {
    this.pos++;
    this.ws();
    if (this.peek() === "}") {
      this.pos++;
      return {};
    }
    const first = this.value(depth + 1);
    this.ws();
    if (this.peek() !== ":") {
      const set = [first];
      for (;;) {
        this.ws();
        const c = this.peek();
        if (c === "}") {
          this.pos++;
          return set;
        }
        if (c !== ",") this.fail('expected "," or "}"');
        this.pos++;
        this.ws();
        if (this.peek() === "}") continue;
        set.push(this.value(depth + 1));
      }
    }
    const obj: Record<string, unknown> = {};
    let key: unknown = first;
    for (;;) {
      this.expect(":", '":"');
      setKey(obj, keyString(key), this.value(depth + 1));
      this.ws();
      const c = this.peek();
      if (c === "}") {
        this.pos++;
        return obj;
      }
      if (c !== ",") this.fail('expected "," or "}"');
      this.pos++;
      this.ws();
      if (this.peek() === "}") {
        this.pos++;
        return obj;
      }
      key = this.value(depth + 1);
    }
  }

  /** Whether the next non-space text can start a call item (a name or "{"). */
  atItem(): boolean {
    this.ws();
    const c = this.peek();
    return c === "{" || NAME_START.test(c);
  }

  /** NAME(args) or a JSON object naming the call. */
  item(): RawCall {
    this.ws();
    const start = this.pos;
    if (this.peek() === "{") {
      const obj = this.dict(1);
      return jsonCall(obj, this.s.slice(start, this.pos));
    }
    const name = this.run(NAME_CHAR);
    if (!NAME_START.test(name[0] ?? "")) this.fail("expected a function name");
    this.ws();
    if (this.peek() !== "(") this.fail(`expected "(" after ${name}`);
    this.pos++;
    const call: RawCall = { name, positional: [], keywords: [], raw: "" };
    for (;;) {
      this.ws();
      if (this.peek() === ")") {
        this.pos++;
        break;
      }
      const argStart = this.pos;
      let keyword: string | undefined;
      if (NAME_START.test(this.peek())) {
        const word = this.run(WORD_CHAR);
        this.ws();
        const c = this.peek();
        if (c === ":" || c === "=") {
          this.pos++;
          if (c === ":" || this.peek() !== "=") keyword = word; // not "=="
        }
        if (keyword === undefined) this.pos = argStart;
      }
      const v = this.value(1);
      if (keyword === undefined) {
        if (call.keywords.length > 0) this.notes.push(`${name}: positional argument after keyword arguments`);
        call.positional.push(v);
      } else {
        call.keywords.push([keyword, v]);
      }
      this.ws();
      const c = this.peek();
      if (c === ",") this.pos++;
      else if (c !== ")") this.fail(`expected "," or ")" in the arguments of ${name}`);
    }
    call.raw = this.s.slice(start, this.pos);
    return call;
  }

  /**
   * A call list: "[" items "]" when `bracketed`, else items up to the first thing that is not
   * one. Complete items are pushed to `out` as they are read, so a failure keeps them.
   */
  items(out: RawCall[], bracketed: boolean): void {
    if (bracketed) this.pos++;
    for (;;) {
      this.ws();
      if (bracketed) {
        if (this.peek() === "]") {
          this.pos++;
          return;
        }
      } else if (!this.atItem()) {
        return;
      }
      out.push(this.item());
      const save = this.pos;
      this.ws();
      if (!bracketed && this.pos >= this.s.length) {
        if (!this.final) this.fail("unexpected end of text");
        return;
      }
      const c = this.peek();
      if (c === ",") this.pos++;
      else if (bracketed ? c !== "]" && !(c === "{" || NAME_START.test(c)) : !(c === "{" || NAME_START.test(c))) {
        if (bracketed) this.fail('expected "," or "]" after a call');
        this.pos = save;
        return;
      }
    }
  }
}

/** Reads {"name": ..., "arguments": {...}} (also "parameters"/"args", and the OpenAI wrapping). */
function jsonCall(value: Record<string, unknown> | unknown[], raw: string): RawCall {
  const call: RawCall = { name: "", positional: [], keywords: [], raw };
  if (Array.isArray(value)) {
    call.notCall = "a set is not a tool call";
    return call;
  }
  let obj = value;
  if (obj.type === "function" && obj.function !== null && typeof obj.function === "object" && !Array.isArray(obj.function)) {
    obj = obj.function as Record<string, unknown>;
  }
  if (typeof obj.name !== "string" || obj.name.length === 0) {
    call.notCall = `an object without a "name" is not a tool call: ${raw}`;
    return call;
  }
  call.name = obj.name;
  const id = value.id ?? obj.id;
  if (typeof id === "string") call.id = id;
  let args = obj.arguments ?? obj.parameters ?? obj.args;
  if (typeof args === "string") {
    try {
      args = JSON.parse(args);
    } catch {
      const r = new Reader(args as string, 0, true);
      try {
        const v = r.value(1);
        r.ws();
        args = r.pos === (args as string).length ? v : undefined;
      } catch {
        args = undefined;
      }
      if (args === undefined) call.notCall = `the arguments of ${obj.name} are not an object: ${raw}`;
    }
  }
  if (args === undefined || args === null) args = {};
  if (typeof args !== "object" || Array.isArray(args)) {
    if (Array.isArray(args)) call.positional = args;
    else call.notCall = `the arguments of ${obj.name} are not an object: ${raw}`;
    return call;
  }
  call.keywords = Object.entries(args as Record<string, unknown>);
  return call;
}

// ---------------------------------------------------------------------------------------------
// Scanner: text -> content + calls, resumable for streaming

function describe(text: string, from: number, to: number): string {
  const s = text.slice(from, to);
  return JSON.stringify(s.length > 120 ? s.slice(0, 117) + "..." : s);
}

/**
 * Walks the text once, left to right. `run(text, false)` stops at the first place whose meaning
 * depends on text not yet seen (a marker cut in half, a call list still open) and leaves `pos`
 * there; everything before it is settled exactly as `run(text, true)` on the whole text settles it.
 */
class Scanner {
  pos = 0;
  content = "";
  readonly calls: ToolCall[] = [];
  readonly errors: string[] = [];
  readonly #tools: Map<string, ToolDefinition>;
  readonly #hasTools: boolean;
  readonly #bare: boolean;

  constructor(options: ParseToolCallsOptions | undefined) {
    const tools = normalizeTools(options?.tools);
    this.#tools = new Map(tools.map((t) => [t.name, t]));
    this.#hasTools = tools.length > 0;
    this.#bare = options?.bare ?? this.#hasTools;
  }

  run(text: string, final: boolean): void {
    let textStart = this.pos;
    let i = this.pos;
    const flush = (to: number) => {
      this.content += text.slice(textStart, to);
    };
    while (i < text.length) {
      const c = text[i];
      if (c === "<") {
        if (text.startsWith(TOOL_CALL_START, i)) {
          flush(i);
          const next = this.#block(text, i, final);
          if (next < 0) {
            this.pos = i;
            return;
          }
          i = textStart = next;
          continue;
        }
        if (text.startsWith(TOOL_CALL_END, i)) {
          flush(i);
          this.errors.push(`stray ${TOOL_CALL_END} without a call list removed`);
          i = textStart = i + TOOL_CALL_END.length;
          continue;
        }
        const tail = !final && text.length - i < TOOL_CALL_START.length ? text.slice(i) : undefined;
        if (tail !== undefined && (TOOL_CALL_START.startsWith(tail) || TOOL_CALL_END.startsWith(tail))) {
          flush(i);
          this.pos = i;
          return;
        }
      } else if (c === "[" && this.#bare) {
        const next = this.#bareList(text, i, final);
        if (next === -1) {
          flush(i);
          this.pos = i;
          return;
        }
        if (next > 0) {
          flush(i);
          i = textStart = next;
          continue;
        }
      }
      i++;
    }
    flush(i);
    this.pos = i;
  }

  /** A block after <|tool_call_start|> at `at`; returns where text resumes, or -1 (unsettled). */
  #block(text: string, at: number, final: boolean): number {
    const bodyStart = at + TOOL_CALL_START.length;
    const r = new Reader(text, bodyStart, final);
    const raws: RawCall[] = [];
    try {
      r.ws();
      if (r.match("```")) {
        r.run(/[A-Za-z]/);
        r.ws();
      }
      if (r.match(TOOL_CALL_END)) {
        this.errors.push("empty tool call block");
        return r.pos;
      }
      if (r.pos >= text.length) {
        if (!final) return -1;
        this.errors.push(`${TOOL_CALL_START} at the end of the text without a call`);
        return text.length;
      }
      const bracketed = r.peek() === "[";
      if (!bracketed && !r.atItem()) r.fail("expected a call list");
      r.items(raws, bracketed);
      const listEnd = r.pos;
      r.ws();
      if (r.match("```")) r.ws();
      if (r.pos >= text.length && !final) return -1;
      const end = r.match(TOOL_CALL_END) ? r.pos : listEnd; // no end marker: text resumes after the list
      this.#accept(raws, r.notes);
      return end;
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      if (e.kind === "eof" && !final) return -1;
      // Broken block: keep the complete calls, drop the rest up to the next marker.
      const endAt = text.indexOf(TOOL_CALL_END, bodyStart);
      const startAt = text.indexOf(TOOL_CALL_START, bodyStart);
      let resume: number;
      if (endAt >= 0 && (startAt < 0 || endAt < startAt)) resume = endAt + TOOL_CALL_END.length;
      else if (startAt >= 0) resume = startAt;
      else if (!final) return -1;
      else resume = text.length;
      this.#accept(raws, r.notes);
      const stopAt = Math.min(e.pos, text.length);
      const where = e.kind === "eof" ? "the text ended inside a tool call" : `${e.message} at offset ${stopAt}`;
      this.errors.push(`malformed tool call (${where}): ${describe(text, bodyStart, endAt >= 0 && endAt < resume ? endAt : resume)}`);
      return resume;
    }
  }

  /** A possible marker-less list at `at`: where text resumes, 0 when it is text, -1 unsettled. */
  #bareList(text: string, at: number, final: boolean): number {
    const r = new Reader(text, at, final);
    const raws: RawCall[] = [];
    try {
      r.pos++;
      if (!r.atItem()) return 0;
      r.pos = at;
      r.items(raws, true);
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      return e.kind === "eof" && !final ? -1 : 0;
    }
    if (raws.length === 0 || raws.some((c) => c.notCall !== undefined)) return 0;
    if (this.#hasTools && !raws.some((c) => this.#tools.has(c.name))) return 0;
    this.#accept(raws, r.notes);
    return r.pos;
  }

  #accept(raws: RawCall[], notes: string[]): void {
    for (const n of notes) this.errors.push(n);
    notes.length = 0;
    for (const rc of raws) {
      if (rc.notCall !== undefined) {
        this.errors.push(rc.notCall);
        continue;
      }
      this.calls.push(this.#named(rc));
    }
  }

  /** Names the arguments (positional ones by the schema's order) and checks the tool name. */
  #named(rc: RawCall): ToolCall {
    const tool = this.#tools.get(rc.name);
    if (this.#hasTools && tool === undefined) {
      this.errors.push(`unknown tool "${rc.name}" (offered: ${[...this.#tools.keys()].join(", ")})`);
    }
    const args: Record<string, unknown> = {};
    for (const [k, v] of rc.keywords) {
      if (Object.prototype.hasOwnProperty.call(args, k)) this.errors.push(`${rc.name}: argument ${k} given twice, the last kept`);
      setKey(args, k, v);
    }
    if (rc.positional.length > 0) {
      const params = Object.keys(tool?.parameters?.properties ?? {}).filter(
        (p) => !Object.prototype.hasOwnProperty.call(args, p),
      );
      const unnamed: string[] = [];
      rc.positional.forEach((v, idx) => {
        const key = params[idx] ?? `arg${idx}`;
        if (params[idx] === undefined) unnamed.push(key);
        setKey(args, key, v);
      });
      if (unnamed.length > 0) {
        this.errors.push(
          `${rc.name}: positional argument(s) without a parameter name in the tool's schema, kept as ${unnamed.join(", ")}`,
        );
      }
    }
    const call: ToolCall = { name: rc.name, arguments: args, raw: rc.raw };
    if (rc.id !== undefined) call.id = rc.id;
    return call;
  }
}

/**
 * Splits model output into text and tool calls. Never throws on any text (only on malformed
 * `options.tools`), never evaluates anything.
 *
 * Accepts `<|tool_call_start|>[f(a=1), g(b="x")]<|tool_call_end|>` (Python literals), the JSON form
 * `[{"name": "f", "arguments": {...}}]`, and the usual damage: no end marker, no markers at all
 * (when tools are offered, see `bare`), code fences, extra whitespace, trailing commas, several
 * call blocks between text, positional arguments, unknown tools (kept, reported), unbalanced
 * brackets (complete calls kept, the rest reported and dropped). `content` is the text outside
 * the calls, not trimmed.
 *
 * @example
 * parseToolCalls('<|tool_call_start|>[get_weather(city="Paris")]<|tool_call_end|>Checking.')
 * // { content: "Checking.", toolCalls: [{ name: "get_weather", arguments: { city: "Paris" },
 * //   raw: 'get_weather(city="Paris")' }], errors: [] }
 */
export function parseToolCalls(text: string, options?: ParseToolCallsOptions): ParsedToolCalls {
  const s = new Scanner(options);
  s.run(typeof text === "string" ? text : String(text), true);
  return { content: s.content, toolCalls: s.calls, errors: s.errors };
}

/**
 * Filters streamed model output: `push(chunk)` returns the text that is certain to be visible
 * (never any part of a tool call), holding back whatever might be the start of one until it is
 * settled; `end()` returns the held-back rest and the calls. For any split of a text into chunks,
 * the pushed results plus `end().text` equal `parseToolCalls(text).content`, and `end()` returns
 * the same calls and errors.
 *
 * @example
 * const filter = new ToolCallStreamFilter({ tools });
 * for await (const { text } of seq.generate(prompt)) process.stdout.write(filter.push(text));
 * const { text, toolCalls } = filter.end();
 * process.stdout.write(text);
 */
export class ToolCallStreamFilter {
  #scanner: Scanner;
  #text = "";
  #shown = 0;
  #ended = false;

  constructor(options?: ParseToolCallsOptions) {
    this.#scanner = new Scanner(options);
  }

  /** Feeds the next chunk of generated text; returns the newly visible text (often ""). */
  push(chunk: string): string {
    if (this.#ended) throw new LfmError("ERR_LFM_INVALID_ARG", "[chat] ToolCallStreamFilter.push() after end()");
    if (typeof chunk !== "string") throw new LfmError("ERR_LFM_INVALID_ARG", "[chat] push() takes a string");
    this.#text += chunk;
    this.#scanner.run(this.#text, false);
    return this.#take();
  }

  /** Whether text is being held back (a marker or call list may be in progress). */
  get holding(): boolean {
    return this.#scanner.pos < this.#text.length;
  }

  /** The calls settled so far. */
  get toolCalls(): readonly ToolCall[] {
    return this.#scanner.calls;
  }

  /** All text pushed so far. */
  get text(): string {
    return this.#text;
  }

  /** Ends the stream: the visible text not yet returned, and the whole parse. */
  end(): ToolCallStreamResult {
    if (!this.#ended) {
      this.#ended = true;
      this.#scanner.run(this.#text, true);
    }
    const s = this.#scanner;
    return { text: this.#take(), content: s.content, toolCalls: s.calls, errors: s.errors };
  }

  #take(): string {
    const content = this.#scanner.content;
    let end = content.length;
    // Keep a high surrogate until its pair arrives, so that no piece ends inside a character.
    if (!this.#ended && end > this.#shown && /[\uD800-\uDBFF]/.test(content[end - 1]!)) end--;
    const out = content.slice(this.#shown, end);
    this.#shown = end;
    return out;
  }
}

/**
 * Writes a call the way LFM2 does: `name(key="value", n=3, flag=True, none=None)`, strings in
 * double quotes with Python escapes, dicts and lists as Python literals.
 */
export function formatPythonCall(name: string, args: Record<string, unknown>): string {
  return `${name}(${Object.entries(args).map(([k, v]) => `${k}=${pythonLiteral(v)}`).join(", ")})`;
}

/** A JSON-like value as a Python literal. */
export function pythonLiteral(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return 'float("nan")';
    if (!Number.isFinite(v)) return v > 0 ? 'float("inf")' : '-float("inf")';
    return String(v);
  }
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") return JSON.stringify(v); // JSON string escapes are valid Python
  if (Array.isArray(v)) return `[${v.map(pythonLiteral).join(", ")}]`;
  if (typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${JSON.stringify(k)}: ${pythonLiteral(x)}`).join(", ")}}`;
  }
  return JSON.stringify(String(v));
}
