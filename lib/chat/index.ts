// SPDX-License-Identifier: MIT
// Chat: sessions, prompt rendering (Jinja chat templates) and tool-call parsing.
export {
  LFM2_BOS,
  LFM2_CHAT_TEMPLATE,
  LFM2_EOS,
  renderChat,
  renderChatPrompt,
  renderDelta,
  type ChatDelta,
  type RenderChatOptions,
  type RenderedChat,
} from "./template.js";
export {
  formatPythonCall,
  normalizeTools,
  parseToolCalls,
  pythonLiteral,
  TOOL_CALL_END,
  TOOL_CALL_START,
  ToolCallStreamFilter,
  type ParseToolCallsOptions,
  type ToolCallStreamResult,
} from "./tools.js";
export {
  ChatSession,
  type ChatReply,
  type ChatSendOptions,
  type ChatSessionOptions,
  type ChatTool,
  type ChatToolCallResult,
  type ChatToolInput,
} from "./session.js";
export type {
  ChatMessage,
  ChatRole,
  JsonSchema,
  OpenAiToolDefinition,
  ParsedToolCalls,
  ToolCall,
  ToolDefinition,
  ToolInput,
} from "./types.js";
