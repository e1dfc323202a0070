// SPDX-License-Identifier: MIT
// Chat types: messages, tool definitions and parsed tool calls.

/** JSON Schema, as far as tool definitions need it (any extra keywords pass through untouched). */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema | JsonSchema[];
  enum?: unknown[];
  [keyword: string]: unknown;
}

/**
 * A function the model may call, described as OpenAI and node-llama-cpp users know it.
 * `parameters` is a JSON schema, normally `{type: "object", properties: {...}, required: [...]}`;
 * the order of `properties` is the order positional arguments are mapped to.
 *
 * @example
 * const weather: ToolDefinition = {
 *   name: "get_weather",
 *   description: "Current weather of a city",
 *   parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
 * };
 */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters?: JsonSchema;
}

/** The OpenAI wrapping of a {@link ToolDefinition}; accepted wherever tools are, and unwrapped. */
export interface OpenAiToolDefinition {
  type: "function";
  function: ToolDefinition;
}

/** What `tools` options accept. */
export type ToolInput = ToolDefinition | OpenAiToolDefinition;

/** One call of a tool, as parsed from the model's output (or given back in the history). */
export interface ToolCall {
  /** Name of the tool as the model wrote it. */
  name: string;
  /** Keyword arguments (positional ones mapped to the schema's parameter order when possible). */
  arguments: Record<string, unknown>;
  /**
   * The call's source text as the model wrote it, without the list brackets and markers:
   * `get_weather(city="Paris")` or `{"name": "get_weather", "arguments": {...}}`. When set,
   * templates that do not render `tool_calls` themselves get exactly this text back.
   */
  raw: string;
  /** An id, when the model wrote one (JSON form) or the caller assigned one. */
  id?: string;
}

/** Roles of the LFM2 chat format. */
export type ChatRole = "system" | "user" | "assistant" | "tool";

/** One message of a conversation. */
export interface ChatMessage {
  role: ChatRole;
  /** The text. For an assistant message with tool calls, the text outside the calls. */
  content: string;
  /** Assistant only: the tool calls the model made in this turn. */
  toolCalls?: ToolCall[];
  /** Tool only: the name of the tool that produced this result (passed to templates as `name`). */
  name?: string;
  /** Tool only: the id of the call this result answers (passed to templates as `tool_call_id`). */
  toolCallId?: string;
}

/** Result of {@link parseToolCalls}. */
export interface ParsedToolCalls {
  /** The text outside the tool calls (markers and call lists removed). */
  content: string;
  /** The calls, in the order they appear. */
  toolCalls: ToolCall[];
  /** What was malformed (unknown tools, unbalanced brackets, ...). Empty for clean output. */
  errors: string[];
}
