// SPDX-License-Identifier: MIT
// Sampling options: validation, defaults, and the native sampler they configure. The sampler
// itself (logit bias -> penalties -> greedy, or top-k -> softmax at the temperature -> top-p ->
// min-p -> seeded draw) runs in the addon (native/core/sampler.cpp).
import { LfmError, wrapNativeError } from "./errors.js";
import { native, type NativeSampler, type NativeSamplerOptions } from "./native.js";
import type { Tokenizer } from "./tokenizer.js";
import { TokenType } from "./tokenizer.js";
import type { SamplingOptions } from "./types.js";
import { intOption, invalidParameterError, isObject, numberOption } from "./validate.js";

/** The option names of {@link SamplingOptions}. */
export const SAMPLING_OPTIONS = [
  "temperature", "topK", "topP", "minP", "repeatPenalty", "presencePenalty", "frequencyPenalty",
  "penaltyLastN", "logitBias", "seed",
] as const;

/** Every sampling setting, resolved (the native sampler's options but the vocabulary size). */
export type SamplerSettings = Omit<NativeSamplerOptions, "vocabSize" | "logitBias"> & {
  logitBias: NativeSamplerOptions["logitBias"];
};

export type SamplingDefaults = Omit<SamplerSettings, "logitBias" | "seed">;

/** Defaults of Sequence.generate (llama.cpp's, no penalties). */
export const GENERATE_DEFAULTS: SamplingDefaults = {
  temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05,
  repeatPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, penaltyLastN: 64,
};

/** LiquidAI's recommended sampling for LFM2 chat: temperature 0.1, top-k 50, repetition penalty 1.05. */
export const CHAT_DEFAULTS: SamplingDefaults = {
  temperature: 0.1, topK: 50, topP: 1, minP: 0,
  repeatPenalty: 1.05, presencePenalty: 0, frequencyPenalty: 0, penaltyLastN: 64,
};

/** A random seed in [0, 2^32). */
export function randomSeed(): number {
  return (Math.random() * 2 ** 32) >>> 0;
}

/** Validates the sampling fields of `o` (an options object already key-checked) over `defaults`. */
export function resolveSampling(o: Record<string, unknown>, defaults: SamplingDefaults, vocabSize: number): SamplerSettings {
  const num = (key: keyof SamplingDefaults, min: number, max: number) =>
    o[key] === undefined ? defaults[key] : numberOption(key, o[key], min, max);
  const int = (key: keyof SamplingDefaults, min: number, max?: number) =>
    o[key] === undefined ? defaults[key] : intOption(key, o[key], min, max);
  return {
    temperature: num("temperature", 0, 100),
    topK: int("topK", 0),
    topP: num("topP", 0, 1),
    minP: num("minP", 0, 1),
    repeatPenalty: num("repeatPenalty", 1e-3, 100),
    presencePenalty: num("presencePenalty", -100, 100),
    frequencyPenalty: num("frequencyPenalty", -100, 100),
    penaltyLastN: int("penaltyLastN", 0, 1 << 20),
    logitBias: parseLogitBias(o.logitBias, vocabSize),
    seed: o.seed === undefined ? randomSeed() : intOption("seed", o.seed, 0, 2 ** 32 - 1),
  };
}

/**
 * `{tokenId: bias}` (an object or a Map): added to the logits before anything else;
 * `-Infinity` bans a token.
 */
function parseLogitBias(v: unknown, vocabSize: number): SamplerSettings["logitBias"] {
  if (v === undefined) return undefined;
  let entries: [unknown, unknown][];
  if (v instanceof Map) entries = [...v.entries()];
  else if (isObject(v)) entries = Object.entries(v);
  else throw invalidParameterError("logitBias", "an object or a Map of token id -> bias", v);
  const ids = new Int32Array(entries.length);
  const values = new Float32Array(entries.length);
  entries.forEach(([k, b], i) => {
    const id = typeof k === "string" && /^\d+$/.test(k) ? Number(k) : k;
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new LfmError("ERR_LFM_TOKEN_RANGE", `logitBias: token id ${String(k)} is out of range (vocabulary has ${vocabSize} tokens)`);
    }
    if (typeof b !== "number" || Number.isNaN(b) || b === Infinity) {
      throw invalidParameterError(`logitBias[${id}]`, "a finite number or -Infinity", b);
    }
    ids[i] = id;
    values[i] = b;
  });
  return { ids, values };
}

/** A native sampler for `settings`, its penalty window primed with the end of `history`. */
export function createSampler(settings: SamplerSettings, vocabSize: number, tokenizer: Tokenizer, history: readonly number[]): NativeSampler {
  let sampler: NativeSampler;
  try {
    const { logitBias, ...rest } = settings;
    sampler = native().createSampler({ ...rest, vocabSize, ...(logitBias && { logitBias }) });
  } catch (err) {
    throw wrapNativeError(err);
  }
  const n = settings.penaltyLastN;
  if (n > 0 && history.length > 0) {
    const recent = penaltyTokens(history.slice(-n), tokenizer);
    if (recent.length > 0) sampler.accept(recent);
  }
  return sampler;
}

/** The tokens penalties may look at: control tokens (chat markup, BOS, EOG) are never penalised. */
export function penaltyTokens(tokens: readonly number[], tokenizer: Tokenizer): Int32Array {
  return Int32Array.from(tokens.filter((t) => tokenizer.tokenType(t) !== TokenType.CONTROL));
}
