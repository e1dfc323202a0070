// SPDX-License-Identifier: MIT
// The only file that touches the .node addon: loads it with node-gyp-build and types it.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LfmError } from "./errors.js";
import type { ModelInfo, RuntimeInfo } from "./types.js";

export interface NativeRuntimeInfo {
  cpu: { isa: string; bestIsa: string; features: string[]; physicalCores: number };
  cuda: RuntimeInfo["cuda"];
}

/** What the addon reports of a model; lib/model.ts adds the tokenizer-derived fields. */
export type NativeModelInfo = Omit<ModelInfo, "architecture" | "attentionLayers" | "bosId" | "eosId" | "eogIds" | "device"> & {
  architecture: string;
  device: string;
};

export interface NativeVocab {
  tokens: string[];
  tokenTypes: Int32Array;
  merges: string[];
  model?: string;
  pre?: string;
  chatTemplate?: string;
  bosId?: number;
  eosId?: number;
  eotId?: number;
  padId?: number;
  addBos?: boolean;
  addEos?: boolean;
}

/** One tensor of the GGUF file: ggml shape (ne0 first), storage type and size in bytes. */
export interface TensorInfo {
  name: string;
  type: string;
  shape: number[];
  bytes: number;
}

export interface NativeSequence {
  reset(): void;
  dispose(): void;
  readonly length: number;
  readonly contextSize: number;
  readonly stateBytes: number;
  /** Copy of the short-convolution state: every conv layer's (L-1) x D rows, in layer order (f32). */
  convState(): Float32Array;
  /**
   * Cuts the sequence back to `length` tokens (0 <= length <= current length) and replaces its
   * conv state with `conv` (a convState() taken when the sequence had `length` tokens). KV rows
   * past `length` are dropped (later evaluation overwrites them).
   */
  rewind(length: number, conv: Float32Array): void;
  /**
   * The whole state: conv state + K and V rows [0, length) of every attention layer, as opaque
   * bytes (header with a format version and the model's shape, then f32 rows; layout in
   * native/models/lfm2.h). Sized by length, not by the context. Runs on a worker thread.
   */
  exportState(): Promise<ArrayBuffer>;
  /**
   * Replaces the state with an exportState() buffer of a model of the same shape (CPU or GPU)
   * and sets length. Rejects ERR_LFM_SHAPE_MISMATCH for another model shape, ERR_LFM_INVALID_ARG
   * for a buffer that is not a state or is truncated, ERR_LFM_CONTEXT_OVERFLOW when longer than
   * the context. Worker thread: leave the buffer unchanged until the promise settles.
   */
  importState(state: ArrayBuffer): Promise<void>;
}

/** Options of {@link NativeBinding.createSampler}; the addon checks them (ERR_LFM_INVALID_ARG). */
export interface NativeSamplerOptions {
  vocabSize: number;
  /** <= 0: greedy (argmax after bias and penalties, ties -> lowest id). */
  temperature: number;
  /** 0 = all. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off. */
  minP: number;
  /** 1 = off. */
  repeatPenalty: number;
  /** 0 = off. */
  presencePenalty: number;
  /** 0 = off. */
  frequencyPenalty: number;
  /** Window of recent tokens the penalties look at; 0 = penalties off. */
  penaltyLastN: number;
  /** Added to the logits; -Infinity bans a token. */
  logitBias?: { ids: Int32Array; values: Float32Array } | undefined;
  /** uint32. */
  seed: number;
}

/** A native sampler (native/core/sampler.h): bias -> penalties -> greedy or top-k/top-p/min-p draw. */
export interface NativeSampler {
  /** Picks a token from one logits row (length vocabSize; the row is not modified). */
  sample(logits: Float32Array): number;
  /** Records tokens in the penalty window (oldest first); the window keeps the last penaltyLastN. */
  accept(tokens: Int32Array): void;
  /** Empties the penalty window (the random stream continues). */
  clearHistory(): void;
}

export interface NativeModel {
  info(): NativeModelInfo;
  vocab(): NativeVocab;
  metadata(): Record<string, unknown>;
  tensors(): TensorInfo[];
  createSequence(contextSize: number): NativeSequence;
  /**
   * Evaluates several sequences of this model in one forward pass (on a worker thread); resolves
   * to each item's logits (last token, or every token with allLogits). Validation failures of
   * any item reject the whole batch before any sequence changes.
   */
  evaluateBatch(items: { seq: NativeSequence; tokens: Int32Array; allLogits: boolean }[]): Promise<Float32Array[]>;
  dispose(): void;
  readonly disposed: boolean;
}

export interface NativeBinding {
  loadModel(
    path: string,
    options: {
      threads: number;
      useMmap: boolean;
      activations: ModelInfo["activations"];
      device: "auto" | "cuda" | "cpu";
      /** Called on the JavaScript thread with the fraction read or uploaded, < 1 (must not throw). */
      onProgress?: (fraction: number) => void;
    },
  ): Promise<NativeModel>;
  runtimeInfo(): NativeRuntimeInfo;
  /** A sampler with its own penalty window and random stream (xoshiro128**, as lib/util/random.ts). */
  createSampler(opts: NativeSamplerOptions): NativeSampler;
  /** Test hook: kernel table for models loaded from now on ("" = default). Returns the ISA. */
  _setCpuIsa(isa: string): string;
  /** Test hook: runs one CPU kernel of one ISA on the given inputs. */
  _runKernel(isa: string, op: string, args: Record<string, unknown>): Float32Array;
  /** Paths to try for the CUDA backend before the built-in ones; false once CUDA was probed. */
  _setCudaBackendPaths(paths: string[]): boolean;
  /** Test hook: runs one CUDA kernel on host buffers (lfm_cuda_run_kernel); throws without a device. */
  _runCudaKernel(
    op: string,
    ints: number[],
    floats: number[],
    inputs: ArrayBufferView[],
    outBytes: number,
    out2Bytes: number,
  ): { out: ArrayBuffer; out2?: ArrayBuffer };
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Platforms the package ships prebuilt addons for (.github/workflows/release.yml). */
const PREBUILT = ["linux-x64-glibc", "linux-arm64-glibc", "darwin-arm64", "darwin-x64", "win32-x64"];

/** "glibc" (with its version) or "musl" on Linux; "" elsewhere. */
function libcOf(): string {
  if (process.platform !== "linux") return "";
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : "musl";
}

/** What is in a folder, for the diagnostics ("" when it does not exist). */
function listing(dir: string): string {
  try {
    return readdirSync(dir).join(", ") || "(empty)";
  } catch {
    return "(none)";
  }
}

/**
 * The error when the addon cannot load, in the manner of sharp's: the platform seen, what was
 * looked for and found, the cause, and what to do about it.
 */
export function addonLoadError(err: unknown, dir = root): LfmError {
  const detail = err instanceof Error ? err.message : String(err);
  const libc = libcOf();
  const platform = `${process.platform}-${process.arch}${libc ? `-${libc.split(" ")[0]}` : ""}`;
  const prebuilds = join(dir, "prebuilds");
  const lines = [
    `Could not load the lfm2 native addon for ${platform}${libc ? ` (${libc})` : ""}, Node ${process.versions.node}, ` +
      `Node-API ${process.versions.napi}.`,
    `Looked for a prebuilt addon in ${join(prebuilds, `${process.platform}-${process.arch}`)} ` +
      `(prebuilds here: ${listing(prebuilds)}) and for a local build in ${join(dir, "build", "Release")} ` +
      `(${listing(join(dir, "build", "Release"))}).`,
    `Cause: ${detail}`,
  ];
  if (/No native build was found/.test(detail)) {
    lines.push(
      PREBUILT.includes(platform)
        ? "This platform has a prebuilt addon, so the package looks incomplete: reinstall it (npm install lfm2)."
        : `No prebuilt addon exists for ${platform} (prebuilt: ${PREBUILT.join(", ")}). Build one from source: ` +
            "install a C++17 compiler, make and Python 3, then run npm rebuild lfm2 (npm 11 runs a package's " +
            "install script only once allowed: npm install-scripts approve lfm2).",
    );
  } else if (/GLIBC|GLIBCXX|version .* not found/.test(detail)) {
    lines.push("The prebuilt addon needs a newer C library than this system has: run npm rebuild lfm2 to build it here.");
  } else if (/Module did not self-register|NODE_MODULE_VERSION|napi/i.test(detail)) {
    lines.push("The addon was built for another Node.js: run npm rebuild lfm2 (Node.js >= 20 is required).");
  } else {
    lines.push("Try npm rebuild lfm2 (needs a C++17 compiler, make and Python 3), or report the lines above.");
  }
  return new LfmError("ERR_LFM_ADDON_LOAD", lines.join("\n"), { cause: err });
}

/**
 * Where an installed CUDA backend could be: the optional package lfm2-cuda-<platform>-<arch>
 * (installed only by those who want the GPU), then prebuilds/<platform>-<arch>/ of this package.
 */
function cudaBackendPaths(require: NodeJS.Require): string[] {
  const file = process.platform === "win32" ? "lfm2_cuda.dll" : "liblfm2_cuda.so";
  const out: string[] = [];
  try {
    out.push(join(dirname(require.resolve(`lfm2-cuda-${process.platform}-${process.arch}/package.json`)), file));
  } catch {
    // not installed: the usual case on machines without a GPU
  }
  out.push(join(root, "prebuilds", `${process.platform}-${process.arch}`, file));
  return out;
}

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  let binding: NativeBinding;
  try {
    const nodeGypBuild = require("node-gyp-build") as (dir: string) => unknown;
    binding = nodeGypBuild(root) as NativeBinding;
  } catch (err) {
    throw addonLoadError(err);
  }
  binding._setCudaBackendPaths(cudaBackendPaths(require));
  return binding;
}

let cached: NativeBinding | undefined;

/** The addon, loaded on first use. */
export function native(): NativeBinding {
  cached ??= load();
  return cached;
}
