// SPDX-License-Identifier: MIT
// Chat prompt rendering: the GGUF's Jinja chat template (tokenizer.chat_template) run with
// @huggingface/jinja the way transformers' apply_chat_template runs it, a built-in LFM2
// template for files without one, and the helpers that keep BOS single and prompts incremental.

import { Template } from "@huggingface/jinja";
import { LfmError } from "../errors.js";
import { formatPythonCall, normalizeTools, TOOL_CALL_END, TOOL_CALL_START } from "./tools.js";
import type { ChatMessage, ToolCall, ToolInput } from "./types.js";

/** LFM2's BOS text (token 1). */
export const LFM2_BOS = "<|startoftext|>";
/** LFM2's end-of-turn text (token 7, the EOS of the chat models). */
export const LFM2_EOS = "<|im_end|>";

/**
 * The LFM2 chat template, written from the specification (lfm2-spec.md section 4, the template
 * of the LFM2 tokenizer_config): BOS; a system turn holding the system prompt and, when tools
 * are offered, `List of tools: <|tool_list_start|>[tool, tool]<|tool_list_end|>` (each tool as
 * JSON, ", " between, after a newline when there is a system prompt); every message as
 * `<|im_start|>role\ncontent<|im_end|>\n`, tool results wrapped in
 * `<|tool_response_start|>...<|tool_response_end|>`; then `<|im_start|>assistant\n` when a
 * generation prompt is asked for. Like the LFM2 template it does not read `tool_calls`:
 * {@link renderChat} writes an assistant's calls into its content, as the model wrote them.
 */
export const LFM2_CHAT_TEMPLATE = [
  "{{- bos_token -}}",
  '{%- set ns = namespace(system_prompt="") -%}',
  '{%- if messages and messages[0]["role"] == "system" -%}',
  '  {%- set ns.system_prompt = messages[0]["content"] -%}',
  "  {%- set messages = messages[1:] -%}",
  "{%- endif -%}",
  "{%- if tools -%}",
  '  {%- set ns.system_prompt = ns.system_prompt + ("\\n" if ns.system_prompt else "") + "List of tools: <|tool_list_start|>[" -%}',
  "  {%- for tool in tools -%}",
  "    {%- if tool is not string -%}{%- set tool = tool | tojson -%}{%- endif -%}",
  "    {%- set ns.system_prompt = ns.system_prompt + tool -%}",
  '    {%- if not loop.last -%}{%- set ns.system_prompt = ns.system_prompt + ", " -%}{%- endif -%}',
  "  {%- endfor -%}",
  '  {%- set ns.system_prompt = ns.system_prompt + "]<|tool_list_end|>" -%}',
  "{%- endif -%}",
  "{%- if ns.system_prompt -%}",
  '  {{- "<|im_start|>system\\n" + ns.system_prompt + "<|im_end|>\\n" -}}',
  "{%- endif -%}",
  "{%- for message in messages -%}",
  '  {{- "<|im_start|>" + message["role"] + "\\n" -}}',
  '  {%- set content = message["content"] -%}',
  "  {%- if content is not string -%}{%- set content = content | tojson -%}{%- endif -%}",
  '  {%- if message["role"] == "tool" -%}',
  '    {%- set content = "<|tool_response_start|>" + content + "<|tool_response_end|>" -%}',
  "  {%- endif -%}",
  '  {{- content + "<|im_end|>\\n" -}}',
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}",
  '  {{- "<|im_start|>assistant\\n" -}}',
  "{%- endif -%}",
].join("\n");

/** Options of {@link renderChat}. */
export interface RenderChatOptions {
  /**
   * A Jinja chat template, normally the GGUF's `tokenizer.chat_template`. Missing or empty:
   * {@link LFM2_CHAT_TEMPLATE}.
   */
  template?: string | null;
  /** Tools offered to the model (rendered by the template, as `tools`). */
  tools?: readonly ToolInput[];
  /** End with the assistant header so the model answers next (default true). */
  addGenerationPrompt?: boolean;
  /** BOS text (`bos_token`; default `<|startoftext|>`). */
  bosToken?: string;
  /** EOS text (`eos_token`; default `<|im_end|>`). */
  eosToken?: string;
  /** More template variables (for example `preserve_thinking` of LFM2.5 templates). */
  variables?: Record<string, unknown>;
}

/** A rendered prompt and whether it already starts with the BOS text. */
export interface RenderedChat {
  text: string;
  /**
   * True when `text` starts with the BOS text (LFM2 templates write it): tokenize it with
   * `addBos: false` then, so that the prompt holds exactly one BOS.
   */
  hasBos: boolean;
}

const cache = new Map<string, Template>();
const CACHE_SIZE = 8;

function compile(source: string): Template {
  let t = cache.get(source);
  if (t === undefined) {
    try {
      t = new Template(source);
    } catch (err) {
      throw new LfmError("ERR_LFM_INVALID_ARG", `[chat] the chat template does not parse: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(source, t);
  }
  return t;
}

const ROLES = new Set(["system", "user", "assistant", "tool"]);

/** The calls as LFM2 writes them: `<|tool_call_start|>[f(a=1), g()]<|tool_call_end|>`. */
function callText(calls: readonly ToolCall[]): string {
  const items = calls.map((c) => (typeof c.raw === "string" && c.raw.length > 0 ? c.raw : formatPythonCall(c.name, c.arguments ?? {})));
  return `${TOOL_CALL_START}[${items.join(", ")}]${TOOL_CALL_END}`;
}

/** A message as transformers hands it to templates (only defined keys: templates test `in`). */
function templateMessage(m: ChatMessage, i: number, templateRendersCalls: boolean): Record<string, unknown> {
  if (m === null || typeof m !== "object") {
    throw new LfmError("ERR_LFM_INVALID_ARG", `[chat] messages[${i}] must be an object`);
  }
  if (!ROLES.has(m.role)) {
    throw new LfmError("ERR_LFM_INVALID_ARG", `[chat] messages[${i}].role must be system, user, assistant or tool, got ${JSON.stringify(m.role)}`);
  }
  let content = m.content ?? "";
  if (typeof content !== "string") {
    throw new LfmError("ERR_LFM_INVALID_ARG", `[chat] messages[${i}].content must be a string`);
  }
  const out: Record<string, unknown> = { role: m.role };
  const calls = m.toolCalls ?? [];
  if (!Array.isArray(calls) || calls.some((c) => c === null || typeof c !== "object" || typeof c.name !== "string")) {
    throw new LfmError("ERR_LFM_INVALID_ARG", `[chat] messages[${i}].toolCalls must be an array of {name, arguments}`);
  }
  if (calls.length > 0) {
    if (m.role !== "assistant") {
      throw new LfmError("ERR_LFM_INVALID_ARG", `[chat] messages[${i}]: only assistant messages carry toolCalls`);
    }
    if (templateRendersCalls) {
      out.tool_calls = calls.map((c) => {
        const tc: Record<string, unknown> = { type: "function", function: { name: c.name, arguments: c.arguments ?? {} } };
        if (c.id !== undefined) tc.id = c.id;
        return tc;
      });
    } else {
      content = callText(calls) + content;
    }
  }
  out.content = content;
  if (m.name !== undefined) out.name = m.name;
  if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
  return out;
}

/**
 * Renders a conversation into prompt text with a Jinja chat template, passing what
 * transformers' `apply_chat_template` passes: `messages` (`{role, content}`, assistant calls as
 * `tool_calls: [{type: "function", function: {name, arguments}, id?}]`, tool results with
 * `name` / `tool_call_id`), `tools` (`{name, description, parameters}` each, or none),
 * `add_generation_prompt`, `bos_token`, `eos_token`, plus `options.variables`;
 * `raise_exception` and `strftime_now` are built into the Jinja engine.
 *
 * An assistant message's `toolCalls` go to templates that read `tool_calls`; for templates that
 * do not (the LFM2 template among them) they are written at the start of its content as the model
 * writes them: `<|tool_call_start|>[raw, raw]<|tool_call_end|>` (each call's `raw` text, or
 * `name(key=value)` when it has none).
 *
 * @throws {LfmError} ERR_LFM_INVALID_ARG for a malformed message list or a template that fails.
 * @example
 * renderChat([{ role: "user", content: "Hi" }])
 * // "<|startoftext|><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
 */
export function renderChat(messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
  if (!Array.isArray(messages)) throw new LfmError("ERR_LFM_INVALID_ARG", "[chat] messages must be an array");
  const source = typeof options.template === "string" && options.template.trim().length > 0 ? options.template : LFM2_CHAT_TEMPLATE;
  const template = compile(source);
  const rendersCalls = source.includes("tool_calls");
  const tools = normalizeTools(options.tools);
  const context: Record<string, unknown> = {
    ...options.variables,
    messages: messages.map((m, i) => templateMessage(m, i, rendersCalls)),
    tools: tools.length > 0 ? tools : null,
    add_generation_prompt: options.addGenerationPrompt ?? true,
    bos_token: options.bosToken ?? LFM2_BOS,
    eos_token: options.eosToken ?? LFM2_EOS,
  };
  try {
    return template.render(context);
  } catch (err) {
    throw new LfmError("ERR_LFM_INVALID_ARG", `[chat] the chat template failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * {@link renderChat}, and whether the text already starts with BOS.
 * @example
 * const { text, hasBos } = renderChatPrompt(messages, { template: model.metadata()["tokenizer.chat_template"] as string });
 * const tokens = model.tokenize(text, { addBos: !hasBos }); // exactly one BOS either way
 */
export function renderChatPrompt(messages: readonly ChatMessage[], options: RenderChatOptions = {}): RenderedChat {
  const text = renderChat(messages, options);
  const bos = options.bosToken ?? LFM2_BOS;
  return { text, hasBos: bos.length > 0 && text.startsWith(bos) };
}

/** What {@link renderDelta} found. */
export interface ChatDelta {
  /** `next` starts with `prev` (the whole previous text can be kept). */
  prefixMatches: boolean;
  /**
   * How many characters of `next` to keep: `prev.length` when the prefix matches at a token
   * boundary, else the last token boundary both texts share (0 when none).
   */
  keep: number;
  /** `next.slice(keep)`: tokenize it (without BOS) and evaluate it after the kept part. */
  delta: string;
}

const SPECIAL_AT_END = /<\|[A-Za-z0-9_]+\|>$/;
const SPECIAL_AT_START = /^<\|[A-Za-z0-9_]+\|>/;

/**
 * Whether tokenizing text[0, k) and text[k, ...) apart gives the tokens of the whole text: at a
 * special token's start or end, or after a newline that a non-space follows (LFM2's pre-tokenizer
 * always starts a new piece there).
 */
function boundary(text: string, k: number): boolean {
  if (k <= 0 || k >= text.length) return true;
  if (SPECIAL_AT_END.test(text.slice(Math.max(0, k - 64), k))) return true;
  if (SPECIAL_AT_START.test(text.slice(k, k + 64))) return true;
  return text[k - 1] === "\n" && !/\s/.test(text[k]!);
}

/**
 * Incremental prompts: given the text already evaluated (`prev`: an earlier render, plus what was
 * generated after it) and the render of the longer conversation (`next`), says how much of `next`
 * is already in the sequence and what to evaluate next.
 *
 * With LFM2 templates, `renderChat([...history, reply, user])` starts with
 * `renderChat(history) + reply + "<|im_end|>"` when the reply is stored as the model wrote it, so
 * only the new turn is evaluated. The prefix breaks (and `keep` backs off) when an earlier part
 * renders differently: tools added or removed (they live in the system turn); an assistant
 * message whose text or calls differ from what was generated (calls are written before the text,
 * calls in one list are joined with ", "); templates that rewrite history (LFM2.5 strips past
 * `<think>` blocks once a new user turn follows, and writes today's date with the tools); and
 * `addGenerationPrompt: false` renders followed by a generation-prompt render are fine, the
 * reverse is not (the `<|im_start|>assistant\n` header is only in the prompt that asked for it).
 */
export function renderDelta(prev: string, next: string): ChatDelta {
  const n = Math.min(prev.length, next.length);
  let common = 0;
  while (common < n && prev.charCodeAt(common) === next.charCodeAt(common)) common++;
  const prefixMatches = common === prev.length;
  let keep = common;
  while (keep > 0 && !(boundary(prev, keep) && boundary(next, keep))) keep--;
  return { prefixMatches, keep, delta: next.slice(keep) };
}
