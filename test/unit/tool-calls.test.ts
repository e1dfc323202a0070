// SPDX-License-Identifier: MIT
// Unit tests of lib/chat/tools.ts: parsing LFM2 tool calls (well-formed and as small models
// really write them), and the streaming filter (same result for every chunking of a text).

import { describe, expect, it } from "vitest";
import {
  formatPythonCall, parseToolCalls, pythonLiteral, ToolCallStreamFilter,
  type ParseToolCallsOptions, type ToolDefinition,
} from "../../lib/chat/index.js";
import { LfmError } from "../../lib/errors.js";

// --- Fixtures ---

const WEATHER: ToolDefinition = {
  name: "get_weather",
  description: "Weather of a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" }, days: { type: "integer" }, unit: { type: "string" } },
    required: ["city"],
  },
};
const SEARCH: ToolDefinition = { name: "search", parameters: { type: "object", properties: { query: { type: "string" } } } };
const TOOLS = { tools: [WEATHER, SEARCH] };

const S = "<|tool_call_start|>";
const E = "<|tool_call_end|>";

interface Sample {
  name: string;
  text: string;
  options?: ParseToolCallsOptions;
  content: string;
  calls: { name: string; arguments: Record<string, unknown>; raw?: string; id?: string }[];
  /** Each error must match one of these, in order; [] = no errors. */
  errors: RegExp[];
}

const SAMPLES: Sample[] = [
  // --- well-formed ---
  { name: "plain text", text: "Paris is sunny today.", content: "Paris is sunny today.", calls: [], errors: [] },
  {
    name: "one pythonic call",
    text: `${S}[get_weather(city="Paris", days=3)]${E}`,
    options: TOOLS,
    content: "",
    calls: [{ name: "get_weather", arguments: { city: "Paris", days: 3 }, raw: 'get_weather(city="Paris", days=3)' }],
    errors: [],
  },
  {
    name: "two calls, Python literals of every kind",
    text: `${S}[get_weather(city="Paris", days=3), other(x=[1, 2], flag=True, none=None, nested={"a": 1})]${E}`,
    content: "",
    calls: [
      { name: "get_weather", arguments: { city: "Paris", days: 3 } },
      { name: "other", arguments: { x: [1, 2], flag: true, none: null, nested: { a: 1 } }, raw: 'other(x=[1, 2], flag=True, none=None, nested={"a": 1})' },
    ],
    errors: [],
  },
  {
    name: "string quotes and escapes",
    text: `${S}[f(s='it\\'s', t="a\\"b\\\\c\\nd", u='\\u00e9\\x41\\t', v="\\U0001F600", w='say "hi"')]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { s: "it's", t: 'a"b\\c\nd', u: "éA\t", v: "😀", w: 'say "hi"' } }],
    errors: [],
  },
  {
    name: "numbers: negative, float, exponent, underscores, hex",
    text: `${S}[f(a=-1, b=2.5, c=-0.25, d=1e3, e=-1.5E-2, g=+7, h=1_000, i=0x1F, j=.5, k=- 4)]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { a: -1, b: 2.5, c: -0.25, d: 1000, e: -0.015, g: 7, h: 1000, i: 31, j: 0.5, k: -4 } }],
    errors: [],
  },
  {
    name: "tuples, sets, nested dicts, empty containers",
    text: `${S}[f(t=(1, "a"), e=(), s={1, 2}, d={"k": [1, {"z": None}], 3: 'three'}, empty={}, l=[])]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { t: [1, "a"], e: [], s: [1, 2], d: { k: [1, { z: null }], 3: "three" }, empty: {}, l: [] } }],
    errors: [],
  },
  {
    name: "text before and after a call",
    text: `Let me check.${S}[search(query="LFM2")]${E}Done.`,
    options: TOOLS,
    content: "Let me check.Done.",
    calls: [{ name: "search", arguments: { query: "LFM2" } }],
    errors: [],
  },
  {
    name: "calls split across the text (several blocks)",
    text: `A${S}[search(query="a")]${E}B${S}[get_weather(city="Oslo")]${E}C`,
    options: TOOLS,
    content: "ABC",
    calls: [{ name: "search", arguments: { query: "a" } }, { name: "get_weather", arguments: { city: "Oslo" } }],
    errors: [],
  },
  {
    name: "JSON form in markers",
    text: `${S}[{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}]${E}`,
    options: TOOLS,
    content: "",
    calls: [{ name: "get_weather", arguments: { city: "Paris", days: 3 }, raw: '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}' }],
    errors: [],
  },
  {
    name: "JSON form with true/false/null and an id",
    text: `${S}[{"name": "f", "arguments": {"ok": true, "no": false, "v": null}, "id": "call_1"}]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { ok: true, no: false, v: null }, id: "call_1" }],
    errors: [],
  },
  {
    name: "JSON arguments given as a JSON string (OpenAI style)",
    text: `${S}[{"name": "f", "arguments": "{\\"a\\": 1, \\"b\\": [true]}"}]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { a: 1, b: [true] } }],
    errors: [],
  },
  {
    name: "OpenAI wrapping {type: function, function: {...}}",
    text: `${S}[{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { a: 1 } }],
    errors: [],
  },
  {
    name: "pythonic and JSON calls in one list",
    text: `${S}[f(a=1), {"name": "g", "arguments": {}}]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { a: 1 } }, { name: "g", arguments: {} }],
    errors: [],
  },
  {
    name: "unicode, raw strings, implicit concatenation",
    text: `${S}[f(city="Zürich", emoji="😀", p=r"C:\\new", s="ab" 'cd')]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { city: "Zürich", emoji: "😀", p: "C:\\new", s: "abcd" } }],
    errors: [],
  },
  {
    name: "no arguments",
    text: `${S}[get_time()]${E}ok`,
    content: "ok",
    calls: [{ name: "get_time", arguments: {}, raw: "get_time()" }],
    errors: [],
  },

  // --- malformed, as seen in the wild ---
  {
    name: "missing end marker at the end of generation",
    text: `${S}[get_weather(city="Paris")]`,
    options: TOOLS,
    content: "",
    calls: [{ name: "get_weather", arguments: { city: "Paris" } }],
    errors: [],
  },
  {
    name: "missing end marker, text after the list",
    text: `${S}[search(query="x")] I searched for it.`,
    options: TOOLS,
    content: " I searched for it.",
    calls: [{ name: "search", arguments: { query: "x" } }],
    errors: [],
  },
  {
    name: "bare list without markers when tools are offered",
    text: `Sure! [get_weather(city='Paris')]`,
    options: TOOLS,
    content: "Sure! ",
    calls: [{ name: "get_weather", arguments: { city: "Paris" } }],
    errors: [],
  },
  {
    name: "bare JSON list without markers when tools are offered",
    text: `[{"name": "search", "arguments": {"query": "q"}}]\n`,
    options: TOOLS,
    content: "\n",
    calls: [{ name: "search", arguments: { query: "q" } }],
    errors: [],
  },
  {
    name: "bare list stays text when no tools are offered",
    text: `[get_weather(city="Paris")]`,
    content: `[get_weather(city="Paris")]`,
    calls: [],
    errors: [],
  },
  {
    name: "bare list is read when asked for (bare: true, no tools)",
    text: `x [f(a=1)] y`,
    options: { bare: true },
    content: "x  y",
    calls: [{ name: "f", arguments: { a: 1 } }],
    errors: [],
  },
  {
    name: "prose brackets stay text with tools offered",
    text: `Use [brackets] like [this one](link), [1, 2], [Note(1)] and [{"name": "Bob"}].`,
    options: TOOLS,
    content: `Use [brackets] like [this one](link), [1, 2], [Note(1)] and [{"name": "Bob"}].`,
    calls: [],
    errors: [],
  },
  {
    name: "extra whitespace and newlines, trailing commas",
    text: `${S}\n  [\n    get_weather( city = "Paris" ,\n days = 3, ) ,\n  ]\n${E}`,
    options: TOOLS,
    content: "",
    calls: [{ name: "get_weather", arguments: { city: "Paris", days: 3 } }],
    errors: [],
  },
  {
    name: "trailing commas inside lists and dicts",
    text: `${S}[f(a=[1, 2,], b={"x": 1,}, c=(3,),)]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { a: [1, 2], b: { x: 1 }, c: [3] } }],
    errors: [],
  },
  {
    name: "positional arguments mapped to the schema's order",
    text: `${S}[get_weather("Paris", 3)]${E}`,
    options: TOOLS,
    content: "",
    calls: [{ name: "get_weather", arguments: { city: "Paris", days: 3 } }],
    errors: [],
  },
  {
    name: "positional and keyword arguments mixed",
    text: `${S}[get_weather("Paris", unit="C")]${E}`,
    options: TOOLS,
    content: "",
    calls: [{ name: "get_weather", arguments: { unit: "C", city: "Paris" } }],
    errors: [],
  },
  {
    name: "positional arguments without a schema",
    text: `${S}[f("Paris", 3)]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { arg0: "Paris", arg1: 3 } }],
    errors: [/positional argument\(s\) without a parameter name.*arg0, arg1/],
  },
  {
    name: "unknown tool name: kept and reported",
    text: `${S}[get_wether(city="Paris")]${E}`,
    options: TOOLS,
    content: "",
    calls: [{ name: "get_wether", arguments: { city: "Paris" } }],
    errors: [/unknown tool "get_wether"/],
  },
  {
    name: "unbalanced brackets: error, nothing thrown, text after the block kept",
    text: `${S}[get_weather(city="Paris"]${E}after`,
    options: TOOLS,
    content: "after",
    calls: [],
    errors: [/malformed tool call \(expected "," or "\)"/],
  },
  {
    name: "an extra closing parenthesis: the complete call is kept",
    text: `${S}[f(a=1))]${E}x`,
    content: "x",
    calls: [{ name: "f", arguments: { a: 1 } }],
    errors: [/malformed tool call \(expected "," or "\]"/],
  },
  {
    name: "generation cut inside the second call",
    text: `${S}[f(a=1), g(b=`,
    content: "",
    calls: [{ name: "f", arguments: { a: 1 } }],
    errors: [/the text ended inside a tool call/],
  },
  {
    name: "unterminated string stops at the end marker",
    text: `${S}[f(a="oops)]${E}tail`,
    content: "tail",
    calls: [],
    errors: [/unterminated string/],
  },
  {
    name: "a call without list brackets",
    text: `${S}get_weather(city="Paris")${E}`,
    options: TOOLS,
    content: "",
    calls: [{ name: "get_weather", arguments: { city: "Paris" } }],
    errors: [],
  },
  {
    name: "a code fence inside the markers",
    text: `${S}\`\`\`python\n[search(query="x")]\n\`\`\`${E}`,
    options: TOOLS,
    content: "",
    calls: [{ name: "search", arguments: { query: "x" } }],
    errors: [],
  },
  {
    name: "missing comma between calls",
    text: `${S}[f(a=1)\n g(b=2)]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { a: 1 } }, { name: "g", arguments: { b: 2 } }],
    errors: [],
  },
  {
    name: "newline before the end marker",
    text: `${S}[f(a=1)]\n${E}\nok`,
    content: "\nok",
    calls: [{ name: "f", arguments: { a: 1 } }],
    errors: [],
  },
  {
    name: "a second block starting before the first is closed",
    text: `${S}[f()]${S}[g()]${E}`,
    content: "",
    calls: [{ name: "f", arguments: {} }, { name: "g", arguments: {} }],
    errors: [],
  },
  {
    name: "stray end marker is removed",
    text: `text${E}more`,
    content: "textmore",
    calls: [],
    errors: [/stray <\|tool_call_end\|>/],
  },
  {
    name: "empty block",
    text: `${S}${E}hi`,
    content: "hi",
    calls: [],
    errors: [/empty tool call block/],
  },
  {
    name: "start marker at the very end",
    text: `Hmm ${S}`,
    content: "Hmm ",
    calls: [],
    errors: [/at the end of the text without a call/],
  },
  {
    name: "prose inside the markers",
    text: `${S}I cannot do that.${E}Sorry.`,
    content: "Sorry.",
    calls: [],
    errors: [/malformed tool call/],
  },
  {
    name: "bare word used as a string value",
    text: `${S}[get_weather(city="Paris", unit=celsius)]${E}`,
    options: TOOLS,
    content: "",
    calls: [{ name: "get_weather", arguments: { city: "Paris", unit: "celsius" } }],
    errors: [/bare word celsius/],
  },
  {
    name: "an argument given twice",
    text: `${S}[f(a=1, a=2)]${E}`,
    content: "",
    calls: [{ name: "f", arguments: { a: 2 } }],
    errors: [/argument a given twice/],
  },
  {
    name: "a JSON object without a name in the markers",
    text: `${S}[{"tool": "f"}]${E}`,
    content: "",
    calls: [],
    errors: [/without a "name"/],
  },
  {
    name: "nesting too deep: error, no stack overflow",
    text: `${S}[f(a=${"[".repeat(500)}1${"]".repeat(500)})]${E}z`,
    content: "z",
    calls: [],
    errors: [/nesting too deep/],
  },
  {
    name: "a nested call is not a literal",
    text: `${S}[f(a=g(1))]${E}`,
    content: "",
    calls: [],
    errors: [/nested call/],
  },
];

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits text at random places (code-unit boundaries, so surrogate pairs get split too). */
function randomSplit(text: string, rand: () => number, maxLen: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const n = 1 + Math.floor(rand() * maxLen);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

/** Feeds chunks through a filter; returns everything it showed and its end() result. */
function stream(chunks: string[], options?: ParseToolCallsOptions) {
  const f = new ToolCallStreamFilter(options);
  const shown: string[] = [];
  for (const c of chunks) shown.push(f.push(c));
  const end = f.end();
  shown.push(end.text);
  return { shown, end };
}

// --- Tests ---

describe("parseToolCalls", () => {
  it(`has at least 25 samples (${SAMPLES.length})`, () => {
    expect(SAMPLES.length).toBeGreaterThanOrEqual(25);
  });

  for (const s of SAMPLES) {
    it(s.name, () => {
      const r = parseToolCalls(s.text, s.options);
      expect(r.content).toBe(s.content);
      expect(r.toolCalls.map((c) => ({ name: c.name, arguments: c.arguments }))).toEqual(
        s.calls.map((c) => ({ name: c.name, arguments: c.arguments })),
      );
      s.calls.forEach((c, i) => {
        if (c.raw !== undefined) expect(r.toolCalls[i]!.raw).toBe(c.raw);
        expect(r.toolCalls[i]!.id).toBe(c.id);
      });
      expect(r.errors).toHaveLength(s.errors.length);
      s.errors.forEach((re, i) => expect(r.errors[i]).toMatch(re));
    });
  }

  it("raw is the call's source text (what the template writes back)", () => {
    const r = parseToolCalls(`${S}[ get_weather( city = "Paris" ) , search(query='q') ]${E}`);
    expect(r.toolCalls.map((c) => c.raw)).toEqual(['get_weather( city = "Paris" )', "search(query='q')"]);
  });

  it('a "__proto__" key stays a plain key', () => {
    const r = parseToolCalls(`${S}[f(d={"__proto__": {"polluted": 1}})]${E}`);
    const d = r.toolCalls[0]!.arguments.d as Record<string, unknown>;
    expect(Object.keys(d)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("never throws, whatever the text (fuzz)", () => {
    const rand = rng(7);
    const atoms = [S, E, "[", "]", "(", ")", "{", "}", '"', "'", "\\", ",", "=", ":", " ", "\n", "f", "get_weather", "a", "1", "-", ".", "True", "None", "```", "<|", "😀"];
    for (let n = 0; n < 2000; n++) {
      let text = "";
      const len = Math.floor(rand() * 30);
      for (let k = 0; k < len; k++) text += atoms[Math.floor(rand() * atoms.length)];
      const opts = n % 2 === 0 ? TOOLS : undefined;
      const r = parseToolCalls(text, opts);
      expect(Array.isArray(r.toolCalls)).toBe(true);
      expect(r.content).not.toContain(S);
      expect(r.content).not.toContain(E);
      // Streaming gives the same answer on fuzz input too.
      const { shown, end } = stream(randomSplit(text, rand, 6), opts);
      expect(shown.join("")).toBe(r.content);
      expect(end.toolCalls).toEqual(r.toolCalls);
      expect(end.errors).toEqual(r.errors);
    }
  });
});

describe("ToolCallStreamFilter", () => {
  for (const s of SAMPLES) {
    it(`same result for every split: ${s.name}`, () => {
      const whole = parseToolCalls(s.text, s.options);
      const rand = rng(s.text.length * 31 + 1);
      const splits = [[s.text], s.text.split("")]; // whole, and one code unit at a time
      for (let k = 0; k < 40; k++) splits.push(randomSplit(s.text, rand, 1 + (k % 12)));
      for (const chunks of splits) {
        const { shown, end } = stream(chunks, s.options);
        expect(shown.join("")).toBe(whole.content);
        expect(end.content).toBe(whole.content);
        expect(end.toolCalls).toEqual(whole.toolCalls);
        expect(end.errors).toEqual(whole.errors);
        for (const piece of shown) expect(piece).not.toMatch(/<\|tool_call_(start|end)\|>/);
      }
    });
  }

  it("shows text as soon as it is settled and holds a possible call back", () => {
    const f = new ToolCallStreamFilter(TOOLS);
    expect(f.push("Hello ")).toBe("Hello ");
    expect(f.holding).toBe(false);
    expect(f.push("<|tool_")).toBe("");
    expect(f.holding).toBe(true);
    expect(f.push("call_start|>[get_weather(city=")).toBe("");
    expect(f.push('"Paris")]')).toBe("");
    expect(f.toolCalls).toHaveLength(0); // the end marker may still come
    expect(f.push(E)).toBe("");
    expect(f.toolCalls).toHaveLength(1);
    expect(f.push("Done")).toBe("Done");
    const end = f.end();
    expect(end).toMatchObject({ text: "", content: "Hello Done", errors: [] });
    expect(end.toolCalls[0]).toMatchObject({ name: "get_weather", arguments: { city: "Paris" } });
    expect(f.end()).toEqual(end); // idempotent
  });

  it("a '<' or '[' that turns out to be text is released", () => {
    const f = new ToolCallStreamFilter(TOOLS);
    expect(f.push("a <")).toBe("a ");
    expect(f.push(" b [")).toBe("< b ");
    expect(f.push("1]")).toBe("[1]");
    expect(f.push(" [search")).toBe(" ");
    expect(f.push(" engine]")).toBe("[search engine]");
    expect(f.end().text).toBe("");
  });

  it("never ends a visible piece inside a surrogate pair", () => {
    const f = new ToolCallStreamFilter();
    const emoji = "😀";
    expect(f.push("a" + emoji[0])).toBe("a");
    expect(f.push(emoji[1] + "b")).toBe(emoji + "b");
    expect(f.end().content).toBe("a😀b");
  });

  it("push after end throws ERR_LFM_INVALID_ARG", () => {
    const f = new ToolCallStreamFilter();
    f.end();
    expect(() => f.push("x")).toThrow(LfmError);
  });
});

describe("formatPythonCall / pythonLiteral", () => {
  it("writes calls that parse back to the same arguments", () => {
    const args = { city: "Pa\"ris\n", days: 3, ratio: -0.5, ok: true, no: false, none: null, list: [1, "a", [2]], obj: { k: { z: 1 } } };
    const text = formatPythonCall("get_weather", args);
    expect(text).toBe('get_weather(city="Pa\\"ris\\n", days=3, ratio=-0.5, ok=True, no=False, none=None, list=[1, "a", [2]], obj={"k": {"z": 1}})');
    const r = parseToolCalls(`${S}[${text}]${E}`);
    expect(r.errors).toEqual([]);
    expect(r.toolCalls[0]!.arguments).toEqual(args);
  });

  it("writes non-finite numbers as Python floats", () => {
    expect(pythonLiteral(Infinity)).toBe('float("inf")');
    expect(pythonLiteral(undefined)).toBe("None");
  });
});
