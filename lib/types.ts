// SPDX-License-Identifier: MIT
// Public option and result types.

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Worker threads for the forward pass. Default: the number of physical cores. */
  threads?: number;
  /**
   * Where to run. "auto" (the default): the CUDA GPU when one is usable (driver, device and the
   * backend library found: see {@link RuntimeInfo}.cuda) and the model fits, else the CPU.
   * "cuda": the GPU or an ERR_LFM_DEVICE_UNAVAILABLE error saying why not. "cpu": the CPU.
   */
  device?: "auto" | "cuda" | "cpu";
  /**
   * Serve the weights straight from the memory-mapped file (page cache, nothing copied) instead
   * of reading them into process memory on 2 MiB pages. Default false: reading costs a copy at
   * load but makes decode much faster where TLB misses are expensive (MoE models, virtual
   * machines); resident memory is the file size either way.
   */
  useMmap?: boolean;
  /**
   * Precision of the activations entering the products of quantized weights, where the CPU has
   * the integer kernels (AVX-512 VNNI; elsewhere f32 is used). "q16" (default): rounded to 16
   * bits per 128-value group, integer dot products; each product within about 1e-5 of exact.
   * "q8": 8 bits per 32-value block, as llama.cpp does (much coarser), for the fastest prefill.
   * "f32": not rounded (exact to f32 rounding; slower).
   */
  activations?: "q16" | "q8" | "f32";
  /**
   * Called on the JavaScript thread as the load advances, with a fraction in [0, 1] that never
   * decreases: the share of the file read into memory (CPU) or of the weights uploaded to the GPU
   * (per layer), in whole percents, then 1 just before the promise resolves. With useMmap on the
   * CPU nothing is copied and only 1 comes.
   * If it throws, the load fails with that error (the model is freed).
   */
  onProgress?: (progress: number) => void;
}

/** What a loaded model is, read from its GGUF file. */
export interface ModelInfo {
  /** "lfm2" (dense) or "lfm2moe" (mixture of experts). */
  architecture: "lfm2" | "lfm2moe";
  /** general.name, or "" */
  name: string;
  vocabSize: number;
  /** Trained context length (the largest contextSize a sequence may have). */
  contextLength: number;
  embeddingLength: number;
  layerCount: number;
  /** Kind of every layer: gated short convolution or grouped-query attention. */
  layerKinds: ("conv" | "attention")[];
  /** Indices of the attention layers. */
  attentionLayers: number[];
  headCount: number;
  /** Key-value heads per layer (0 for conv layers). */
  headCountKv: number[];
  headDim: number;
  /** Width of the short convolution (3 in released models). */
  convLCache: number;
  /** Dense FFN width per layer (0 where the layer is a mixture of experts). */
  feedForwardLength: number[];
  /** Experts per MoE layer (0 for dense models). */
  expertCount: number;
  /** Experts each token is routed to. */
  expertUsedCount: number;
  expertFeedForwardLength: number;
  /** Layers before this index use a dense FFN in MoE models. */
  leadingDenseBlockCount: number;
  normEps: number;
  ropeFreqBase: number;
  /** Count of tensors per storage type, e.g. { F32: 61, Q4_0: 97 }. */
  tensorTypes: Record<string, number>;
  parameterCount: number;
  /** Bytes. */
  fileSize: number;
  ggufVersion: number;
  bosId: number;
  eosId: number;
  /** Tokens that end generation (<|endoftext|> and <|im_end|> in LFM2 vocabularies). */
  eogIds: number[];
  /** Device in use, and the kernels of the CPU side (tokenizer-only work on "cuda"). */
  device: "cpu" | "cuda";
  /** The GPU's name, on device "cuda". */
  deviceName?: string;
  /** With device "auto": why the GPU was not used, when a GPU exists but the CPU was chosen. */
  deviceFallback?: string;
  isa: string;
  threads: number;
  /** "q16" or "q8" when quantized weights use the integer kernels (LoadModelOptions.activations). */
  activations: NonNullable<LoadModelOptions["activations"]>;
  /** True when the weights are served from the file mapping (LoadModelOptions.useMmap). */
  useMmap: boolean;
}

/** Options of {@link Model.tokenize}. */
export interface TokenizeOptions {
  /** Prepend the BOS token when the model asks for it (tokenizer.ggml.add_bos_token). Default true. */
  addBos?: boolean;
  /** Recognise control tokens such as `<|im_start|>` written in the text. Default true. */
  special?: boolean;
}

/** Options of {@link Model.createSequence}. */
export interface SequenceOptions {
  /** Tokens the sequence can hold. Default: min(4096, the model's context length). */
  contextSize?: number;
}

/** Options of {@link Sequence.evaluate}. */
export interface EvaluateOptions {
  /** "last" (default): logits of the last token only; "all": one row per token. */
  logits?: "last" | "all";
}

/**
 * How the next token is picked from the logits, in this order: `logitBias` is added; the
 * penalties lower the tokens of the last `penaltyLastN` tokens (control tokens such as the chat
 * markup are never penalised); temperature 0 then takes the most likely token, otherwise top-k,
 * a softmax at the temperature, top-p and min-p narrow the candidates and a seeded draw picks one.
 * Runs natively.
 */
export interface SamplingOptions {
  /** 0 = greedy. Default 0.8 (generate) / 0.1 (chat). */
  temperature?: number;
  /** Keep the k most likely tokens; 0 disables. Default 40 (generate) / 50 (chat). */
  topK?: number;
  /** Keep the smallest set of tokens reaching this probability; 1 disables. Default 0.95 (generate) / 1 (chat). */
  topP?: number;
  /** Drop tokens below minP x the top probability; 0 disables. Default 0.05 (generate) / 0 (chat). */
  minP?: number;
  /** Divides positive logits (multiplies negative ones) of recent tokens, llama.cpp style; 1 disables. Default 1 (generate) / 1.05 (chat). */
  repeatPenalty?: number;
  /** Subtracted once from the logit of every recent token. Default 0. */
  presencePenalty?: number;
  /** Subtracted from the logit of a recent token once per occurrence. Default 0. */
  frequencyPenalty?: number;
  /** How many recent tokens (the sequence's, then the generated ones) the penalties look at. Default 64; 0 disables penalties. */
  penaltyLastN?: number;
  /** Added to the logits of the given token ids (`{ [id]: bias }` or a Map); `-Infinity` bans a token. */
  logitBias?: Record<number, number> | Map<number, number>;
  /** Seed of the sampler: the same seed, prompt and options give the same tokens. Default: random. */
  seed?: number;
}

/** Options of {@link Sequence.generate}. */
export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate. Default: until the context is full. */
  maxTokens?: number;
  /**
   * Stop when the text contains one of these. The stop text is never returned, nor any text
   * after it, and a partial match is held back until it is ruled out.
   */
  stop?: string | string[];
  /** Stops the generation between two tokens. */
  signal?: AbortSignal;
  /** Keep going past end-of-generation tokens. Default false. */
  ignoreEog?: boolean;
}

/** Why a generation ended. */
export type StopReason = "eog" | "stop" | "maxTokens" | "abort" | "contextFull";

/** What {@link Sequence.generate} returns when it ends (the async generator's return value). */
export interface GenerateResult {
  stopReason: StopReason;
  /**
   * Every token sampled, including an end-of-generation token and the tokens of a stop string,
   * which were not yielded. The last one is in the sequence but not evaluated yet: the next call
   * evaluates it first.
   */
  tokens: number[];
  /** The stop string that ended the generation (stopReason "stop"). */
  stop?: string;
  /** The seed the sampler used. */
  seed: number;
}

/** One generated token and the text it completes (may be "" while a character is incomplete). */
export interface GeneratedToken {
  token: number;
  text: string;
}

/** What this process can run on. */
export interface RuntimeInfo {
  cpu: {
    /** Kernel set models loaded now will use: "avx512", "avx2" or "scalar". */
    isa: string;
    /** Best kernel set this CPU supports. */
    bestIsa: string;
    features: string[];
    physicalCores: number;
  };
  cuda: {
    /** True when a CUDA device and the backend library were found (models can run there). */
    available: boolean;
    /** Why CUDA is not available (no driver, no device, backend library missing, LFM2_CUDA=0). */
    reason?: string;
    /** CUDA version the driver supports, e.g. 13000; absent without a driver. */
    driverVersion?: number;
    /** Devices the driver reports. */
    deviceCount: number;
    /** The device models run on (device 0). */
    device?: { index: number; name: string; computeCapability: string; totalMemory: number; multiprocessors: number };
    /** The backend library that was loaded. */
    backendPath?: string;
  };
}
