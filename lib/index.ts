// SPDX-License-Identifier: MIT
// Public API of lfm2.
export { loadModel, Model } from "./model.js";
export { Sequence, SequenceCheckpoint } from "./sequence.js";
export type { BatchStats } from "./batch.js";
export { LfmError, type LfmErrorCode } from "./errors.js";
export { Tokenizer } from "./tokenizer.js";
export { runtimeInfo } from "./runtime.js";
export {
  ChatSession,
  LFM2_CHAT_TEMPLATE,
  parseToolCalls,
  renderChat,
  renderChatPrompt,
  ToolCallStreamFilter,
  type ChatMessage,
  type ChatReply,
  type ChatRole,
  type ChatSendOptions,
  type ChatSessionOptions,
  type ChatTool,
  type ChatToolCallResult,
  type ChatToolInput,
  type JsonSchema,
  type ParsedToolCalls,
  type RenderChatOptions,
  type ToolCall,
  type ToolDefinition,
} from "./chat/index.js";
export { CHAT_DEFAULTS, GENERATE_DEFAULTS } from "./sampling.js";
export type { TensorInfo } from "./native.js";
export type {
  EvaluateOptions,
  GenerateOptions,
  GeneratedToken,
  GenerateResult,
  SamplingOptions,
  StopReason,
  LoadModelOptions,
  ModelInfo,
  RuntimeInfo,
  SequenceOptions,
  TokenizeOptions,
} from "./types.js";
