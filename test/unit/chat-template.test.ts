// SPDX-License-Identifier: MIT
// Unit tests of lib/chat/template.ts: LFM2 chat rendering (built-in template, the LFM2 template
// text quoted in lfm2-spec.md, a template that reads tool_calls), one BOS, incremental prompts.

import { describe, expect, it } from "vitest";
import {
  LFM2_CHAT_TEMPLATE, renderChat, renderChatPrompt, renderDelta, type ChatMessage, type ToolDefinition,
} from "../../lib/chat/index.js";
import { LfmError } from "../../lib/errors.js";
import { trainBpeVocab } from "../../lib/synthetic/bpe-train.js";
import { detectEogIds, Tokenizer } from "../../lib/tokenizer.js";
import { LFM2_CHAT_TEMPLATE as SYNTHETIC_CHAT_TEMPLATE } from "../../lib/synthetic/model.js";

// --- Fixtures ---

/**
 * The LFM2 chat template as lfm2-spec.md section 4 quotes it (the LFM2 tokenizer_config
 * "chat_template"; the GGUF's tokenizer.chat_template starts the same way): the one the
 * synthetic models carry.
 */
const SPEC_TEMPLATE = SYNTHETIC_CHAT_TEMPLATE;

/**
 * A template that renders assistant tool_calls itself, as JSON objects in the call list (the
 * form llama.cpp's LFM2 test template and some LFM2.5 files use). Written for this test.
 */
const JSON_CALLS_TEMPLATE = `{{- bos_token -}}
{%- for message in messages -%}
  {{- "<|im_start|>" + message.role + "\\n" -}}
  {%- if message.role == "assistant" and message.tool_calls -%}
    {{- "<|tool_call_start|>[" -}}
    {%- for tc in message.tool_calls -%}
      {%- if not loop.first -%}{{- ", " -}}{%- endif -%}
      {{- '{"name": "' + tc.function.name + '", "arguments": ' + (tc.function.arguments | tojson) -}}
      {%- if tc.id -%}{{- ', "id": "' + tc.id + '"' -}}{%- endif -%}
      {{- "}" -}}
    {%- endfor -%}
    {{- "]<|tool_call_end|>" -}}
  {%- endif -%}
  {%- if message.role == "tool" -%}
    {{- "<|tool_response_start|>" + message.content + "<|tool_response_end|>" -}}
  {%- else -%}
    {{- message.content -}}
  {%- endif -%}
  {{- "<|im_end|>\\n" -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- "<|im_start|>assistant\\n" -}}{%- endif -%}`;

const WEATHER: ToolDefinition = {
  name: "get_weather",
  description: "Current weather of a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const WEATHER_JSON =
  '{"name": "get_weather", "description": "Current weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}';
const TIME: ToolDefinition = { name: "get_time", parameters: { type: "object", properties: {} } };
const TIME_JSON = '{"name": "get_time", "parameters": {"type": "object", "properties": {}}}';

const S = "<|startoftext|>";
const turn = (role: string, content: string): string => `<|im_start|>${role}\n${content}<|im_end|>\n`;
const GEN = "<|im_start|>assistant\n";

const CALL = { name: "get_weather", arguments: { city: "Paris" }, raw: 'get_weather(city="Paris")' };

/** Message lists and what the LFM2 template renders for them (hand-written from the spec). */
const CASES: { name: string; messages: ChatMessage[]; tools?: ToolDefinition[]; gen?: boolean; expected: string }[] = [
  {
    name: "one user message",
    messages: [{ role: "user", content: "Hi" }],
    expected: S + turn("user", "Hi") + GEN,
  },
  {
    name: "the LFM2-Tokenizer README example (system, multi-turn)",
    messages: [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "Hello! How are you?" },
      { role: "assistant", content: "I'm doing well, thank you!" },
      { role: "user", content: "What's the weather like?" },
    ],
    expected:
      "<|startoftext|><|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello! How are you?<|im_end|>\n<|im_start|>assistant\nI'm doing well, thank you!<|im_end|>\n<|im_start|>user\nWhat's the weather like?<|im_end|>\n<|im_start|>assistant\n",
  },
  {
    name: "no generation prompt",
    messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello." }],
    gen: false,
    expected: S + turn("user", "Hi") + turn("assistant", "Hello."),
  },
  {
    name: "tools without a system prompt",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [WEATHER],
    expected:
      S + turn("system", `List of tools: <|tool_list_start|>[${WEATHER_JSON}]<|tool_list_end|>`) +
      turn("user", "Weather in Paris?") + GEN,
  },
  {
    name: "two tools after a system prompt",
    messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Time?" }],
    tools: [WEATHER, TIME],
    expected:
      S + turn("system", `Be brief.\nList of tools: <|tool_list_start|>[${WEATHER_JSON}, ${TIME_JSON}]<|tool_list_end|>`) +
      turn("user", "Time?") + GEN,
  },
  {
    name: "an assistant tool call and its result",
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: "Checking.", toolCalls: [CALL] },
      { role: "tool", content: '{"temperature": 21}', name: "get_weather" },
    ],
    tools: [WEATHER],
    expected:
      S + turn("system", `List of tools: <|tool_list_start|>[${WEATHER_JSON}]<|tool_list_end|>`) +
      turn("user", "Weather in Paris?") +
      turn("assistant", '<|tool_call_start|>[get_weather(city="Paris")]<|tool_call_end|>Checking.') +
      turn("tool", '<|tool_response_start|>{"temperature": 21}<|tool_response_end|>') + GEN,
  },
  {
    name: "two calls without raw text (written as Python calls), then the final answer",
    messages: [
      { role: "user", content: "Paris and Oslo?" },
      {
        role: "assistant",
        content: "",
        toolCalls: [
          { name: "get_weather", arguments: { city: "Paris" }, raw: "" },
          { name: "get_weather", arguments: { city: "Oslo", days: 2, exact: true, unit: null, tags: ["a"] }, raw: "" },
        ],
      },
      { role: "tool", content: "sunny" },
      { role: "tool", content: "rain" },
      { role: "assistant", content: "Sunny in Paris, rain in Oslo." },
    ],
    gen: false,
    expected:
      S + turn("user", "Paris and Oslo?") +
      turn(
        "assistant",
        '<|tool_call_start|>[get_weather(city="Paris"), get_weather(city="Oslo", days=2, exact=True, unit=None, tags=["a"])]<|tool_call_end|>',
      ) +
      turn("tool", "<|tool_response_start|>sunny<|tool_response_end|>") +
      turn("tool", "<|tool_response_start|>rain<|tool_response_end|>") +
      turn("assistant", "Sunny in Paris, rain in Oslo."),
  },
];

// A small real tokenizer (LFM2 special tokens, byte-level BPE trained on the bundled corpus).
const vocab = trainBpeVocab({ vocabSize: 4000 });
const tokenizer = new Tokenizer({
  ...vocab, bosId: 1, eosId: 7, eogIds: detectEogIds(vocab.tokens, 7), addBos: true, pre: "lfm2",
});

// --- Tests ---

describe("renderChat with the built-in LFM2 template", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const opts = { tools: c.tools, addGenerationPrompt: c.gen ?? true };
      expect(renderChat(c.messages, opts)).toBe(c.expected);
      expect(renderChat(c.messages, { ...opts, template: LFM2_CHAT_TEMPLATE })).toBe(c.expected);
      expect(renderChat(c.messages, { ...opts, template: "" })).toBe(c.expected); // empty: built-in
    });
  }

  it("accepts OpenAI-style tools and unwraps them", () => {
    const text = renderChat([{ role: "user", content: "x" }], { tools: [{ type: "function", function: WEATHER }] });
    expect(text).toContain(`<|tool_list_start|>[${WEATHER_JSON}]<|tool_list_end|>`);
  });

  it("keeps non-ASCII text and JSON escapes as Python's json.dumps(ensure_ascii=False) does", () => {
    const tool: ToolDefinition = { name: "say", description: 'Say "é" \\ \n' };
    expect(renderChat([{ role: "user", content: "ça va?" }], { tools: [tool] })).toBe(
      S + turn("system", 'List of tools: <|tool_list_start|>[{"name": "say", "description": "Say \\"é\\" \\\\ \\n"}]<|tool_list_end|>') +
        turn("user", "ça va?") + GEN,
    );
  });

  it("an empty conversation renders BOS and the generation prompt", () => {
    expect(renderChat([])).toBe(S + GEN);
  });
});

describe("renderChat with the LFM2 template text from the spec", () => {
  for (const c of CASES) {
    it(c.name, () => {
      expect(renderChat(c.messages, { template: SPEC_TEMPLATE, tools: c.tools, addGenerationPrompt: c.gen ?? true })).toBe(c.expected);
    });
  }
});

describe("renderChat with a template that reads tool_calls", () => {
  it("passes calls as tool_calls (OpenAI shape) and leaves the content alone", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "Weather?" },
      { role: "assistant", content: "Checking.", toolCalls: [{ ...CALL, id: "call_1" }] },
      { role: "tool", content: "21", toolCallId: "call_1" },
    ];
    expect(renderChat(messages, { template: JSON_CALLS_TEMPLATE })).toBe(
      S + turn("user", "Weather?") +
        turn("assistant", '<|tool_call_start|>[{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"}]<|tool_call_end|>Checking.') +
        turn("tool", "<|tool_response_start|>21<|tool_response_end|>") + GEN,
    );
  });

  it("hands name, tool_call_id, tools, bos/eos tokens and extra variables to the template", () => {
    const tpl =
      "{{ bos_token }}|{{ eos_token }}|{{ tools | length }}|{{ flag }}|" +
      "{% for m in messages %}{{ m.role }}:{{ m.name }}:{{ m.tool_call_id }}:{{ 'tool_calls' in m }};{% endfor %}|{{ add_generation_prompt }}";
    const text = renderChat(
      [{ role: "user", content: "q" }, { role: "tool", content: "r", name: "get_weather", toolCallId: "c1" }],
      { template: tpl, tools: [WEATHER], bosToken: "<s>", eosToken: "</s>", addGenerationPrompt: false, variables: { flag: "on" } },
    );
    expect(text).toBe("<s>|</s>|1|on|user:::false;tool:get_weather:c1:false;|false");
  });

  it("runs templates using HF extensions ({% generation %}, strftime_now, .items())", () => {
    const tpl =
      "{%- for m in messages -%}{%- generation -%}{{ m.role }}{%- endgeneration -%}{%- endfor -%}" +
      "|{{ strftime_now('%Y') | length }}|{% for k, v in tools[0].items() %}{{ k }};{% endfor %}";
    expect(renderChat([{ role: "user", content: "q" }], { template: tpl, tools: [TIME] })).toBe("user|4|name;parameters;");
  });
});

describe("renderChat errors", () => {
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return e instanceof LfmError ? e.code : "not an LfmError";
    }
    return undefined;
  };

  it("rejects malformed messages with ERR_LFM_INVALID_ARG", () => {
    expect(code(() => renderChat([{ role: "robot", content: "x" } as unknown as ChatMessage]))).toBe("ERR_LFM_INVALID_ARG");
    expect(code(() => renderChat([{ role: "user", content: 3 } as unknown as ChatMessage]))).toBe("ERR_LFM_INVALID_ARG");
    expect(code(() => renderChat([{ role: "user", content: "x", toolCalls: [CALL] }]))).toBe("ERR_LFM_INVALID_ARG");
    expect(code(() => renderChat("hi" as unknown as ChatMessage[]))).toBe("ERR_LFM_INVALID_ARG");
    expect(code(() => renderChat([], { tools: [{ description: "no name" } as unknown as ToolDefinition] }))).toBe("ERR_LFM_INVALID_ARG");
  });

  it("reports templates that do not parse or raise", () => {
    expect(code(() => renderChat([], { template: "{% if %}" }))).toBe("ERR_LFM_INVALID_ARG");
    expect(code(() => renderChat([], { template: "{{ raise_exception('no system role') }}" }))).toBe("ERR_LFM_INVALID_ARG");
  });
});

describe("exactly one BOS", () => {
  const messages: ChatMessage[] = [{ role: "system", content: "S" }, { role: "user", content: "Hello there" }];

  it("LFM2 templates write BOS; hasBos says so and tokenizing without addBos gives one id 1", () => {
    for (const template of [undefined, SPEC_TEMPLATE]) {
      const { text, hasBos } = renderChatPrompt(messages, { template });
      expect(hasBos).toBe(true);
      expect(text.split(S).length - 1).toBe(1);
      const ids = tokenizer.tokenize(text, { addBos: !hasBos });
      expect(ids[0]).toBe(1);
      expect(ids.filter((id) => id === 1)).toHaveLength(1);
    }
  });

  it("a template without bos_token: hasBos false, the tokenizer adds the one BOS", () => {
    const template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";
    const { text, hasBos } = renderChatPrompt(messages, { template });
    expect(hasBos).toBe(false);
    const ids = tokenizer.tokenize(text, { addBos: !hasBos });
    expect(ids[0]).toBe(1);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
  });

  it("an empty bosToken never counts as present", () => {
    expect(renderChatPrompt(messages, { bosToken: "" }).hasBos).toBe(false);
  });
});

describe("incremental prompts (prefix property and renderDelta)", () => {
  const history: ChatMessage[] = [{ role: "system", content: "Be brief." }, { role: "user", content: "Weather in Paris?" }];
  const generated = '<|tool_call_start|>[get_weather(city="Paris")]<|tool_call_end|>Checking.';
  const parsedReply: ChatMessage = { role: "assistant", content: "Checking.", toolCalls: [CALL] };

  /** tokens(prefix) + tokens(delta) must equal tokens(next): what lets the chat layer evaluate only the delta. */
  function expectTokenSplit(next: string, keep: number): void {
    const whole = tokenizer.tokenize(next, { addBos: false });
    const parts = [...tokenizer.tokenize(next.slice(0, keep), { addBos: false }), ...tokenizer.tokenize(next.slice(keep), { addBos: false })];
    expect(parts).toEqual(whole);
  }

  for (const [label, template] of [["built-in", undefined], ["spec", SPEC_TEMPLATE]] as const) {
    it(`${label}: each turn's render extends the previous prompt plus the generated reply`, () => {
      const tools = [WEATHER];
      const p1 = renderChat(history, { template, tools });
      // The sequence holds p1, the generated reply and its <|im_end|>.
      const evaluated1 = p1 + generated + "<|im_end|>";
      const conv2: ChatMessage[] = [...history, parsedReply, { role: "tool", content: '{"temperature": 21}' }];
      const p2 = renderChat(conv2, { template, tools });
      expect(p2.startsWith(evaluated1)).toBe(true);
      const d2 = renderDelta(evaluated1, p2);
      expect(d2).toEqual({
        prefixMatches: true,
        keep: evaluated1.length,
        delta: "\n" + turn("tool", '<|tool_response_start|>{"temperature": 21}<|tool_response_end|>') + GEN,
      });
      expectTokenSplit(p2, d2.keep);

      // Generation stopped before <|im_end|> was evaluated: the delta starts with it.
      const evaluated2 = p2 + "It is 21 degrees.";
      const conv3: ChatMessage[] = [...conv2, { role: "assistant", content: "It is 21 degrees." }, { role: "user", content: "Thanks" }];
      const p3 = renderChat(conv3, { template, tools });
      const d3 = renderDelta(evaluated2, p3);
      expect(d3.prefixMatches).toBe(true);
      expect(d3.delta).toBe("<|im_end|>\n" + turn("user", "Thanks") + GEN);
      expectTokenSplit(p3, d3.keep);
    });
  }

  it("a render without the generation prompt is a prefix of the next one; the reverse is not", () => {
    const a = renderChat(history, { addGenerationPrompt: false });
    const b = renderChat(history);
    expect(renderDelta(a, b)).toEqual({ prefixMatches: true, keep: a.length, delta: GEN });
    const conv: ChatMessage[] = [...history, { role: "user", content: "More?" }];
    const c = renderChat(conv);
    const d = renderDelta(b, c); // b ends with the assistant header that c does not have
    expect(d.prefixMatches).toBe(false);
    expect(c.slice(0, d.keep)).toBe(a + "<|im_start|>");
    expect(d.delta).toBe("user\nMore?<|im_end|>\n" + GEN);
    expectTokenSplit(c, d.keep);
  });

  it("adding tools changes the system turn: keep backs off to a token boundary", () => {
    const a = renderChat(history);
    const b = renderChat(history, { tools: [WEATHER] });
    const d = renderDelta(a, b);
    expect(d.prefixMatches).toBe(false);
    // Not after "Be brief.": in b the "." and the "\n" after it are one pre-token.
    expect(b.slice(0, d.keep)).toBe(S + "<|im_start|>system\n");
    expectTokenSplit(b, d.keep);
  });

  it("a reply stored differently from what was generated (text before the call) breaks the prefix", () => {
    const p1 = renderChat(history);
    const evaluated = p1 + 'Checking. <|tool_call_start|>[get_weather(city="Paris")]<|tool_call_end|><|im_end|>';
    const next = renderChat([...history, { role: "assistant", content: "Checking. ", toolCalls: [CALL] }, { role: "tool", content: "21" }]);
    const d = renderDelta(evaluated, next);
    expect(d.prefixMatches).toBe(false);
    expect(d.keep).toBe(p1.length);
    expectTokenSplit(next, d.keep);
  });

  it("keep never splits a token: mid-word differences back off to a piece boundary", () => {
    const a = renderChat([{ role: "user", content: "Hello there\nfriend" }]);
    const b = renderChat([{ role: "user", content: "Hello there\nfriends and more" }]);
    const d = renderDelta(a, b);
    expect(d.prefixMatches).toBe(false);
    expect(b.slice(0, d.keep)).toBe(S + "<|im_start|>user\nHello there\n");
    expectTokenSplit(b, d.keep);
    expect(renderDelta("", b)).toEqual({ prefixMatches: true, keep: 0, delta: b });
    expect(renderDelta(b, b)).toEqual({ prefixMatches: true, keep: b.length, delta: "" });
  });
});
