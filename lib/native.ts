// SPDX-License-Identifier: MIT
// The only file that touches the .node addon: loads it with node-gyp-build and types it.
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
  evaluate(tokens: Int32Array, allLogits: boolean): Promise<Float32Array>;
  reset(): void;
  dispose(): void;
  readonly length: number;
  readonly contextSize: number;
  readonly stateBytes: number;
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
    options: { threads: number; useMmap: boolean; activations: ModelInfo["activations"]; device: "auto" | "cuda" | "cpu" },
  ): Promise<NativeModel>;
  runtimeInfo(): NativeRuntimeInfo;
  /** Test hook: kernel table for models loaded from now on ("" = default). Returns the ISA. */
  _setCpuIsa(isa: string): string;
  /** Test hook: runs one CPU kernel of one ISA on the given inputs. */
  _runKernel(isa: string, op: string, args: Record<string, unknown>): Float32Array;
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

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  try {
    const nodeGypBuild = require("node-gyp-build") as (dir: string) => unknown;
    return nodeGypBuild(root) as NativeBinding;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new LfmError(
      "ERR_LFM_ADDON_LOAD",
      [
        `Could not load the lfm2 native addon for ${process.platform}-${process.arch} ` +
          `(Node ${process.versions.node}, Node-API ${process.versions.napi}).`,
        `Looked in ${join(root, "prebuilds")} and ${join(root, "build", "Release")}.`,
        `Cause: ${detail}`,
        "Try: npm rebuild lfm2 (needs a C++ compiler and Python), or report the platform above.",
      ].join("\n"),
      { cause: err },
    );
  }
}

let cached: NativeBinding | undefined;

/** The addon, loaded on first use. */
export function native(): NativeBinding {
  cached ??= load();
  return cached;
}
