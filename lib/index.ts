// SPDX-License-Identifier: MIT
// Public API of lfm2.
export { loadModel, Model } from "./model.js";
export { Sequence, type BatchStats } from "./sequence.js";
export { LfmError, type LfmErrorCode } from "./errors.js";
export { Tokenizer } from "./tokenizer.js";
export { runtimeInfo } from "./runtime.js";
export type { TensorInfo } from "./native.js";
export type {
  EvaluateOptions,
  GenerateOptions,
  GeneratedToken,
  LoadModelOptions,
  ModelInfo,
  RuntimeInfo,
  SequenceOptions,
  TokenizeOptions,
} from "./types.js";
